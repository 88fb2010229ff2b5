/**
 * Runs every runner-fleet command as a real process against the emulators
 * through the recording proxy and returns the IAM calls each one made. The
 * fleet is cfn/runner-fleet.yaml with a preset on moto under the deployer's
 * default prefix (runners-); roll runs on ministack (moto has no instance
 * refresh API) with the small fleet fixture, also under the prefix. The
 * runner identity commands (create-runner, rotate-token, reconcile) run
 * against the same fleet and the GitLab double's runner admin routes, as
 * test/integration/runner-identity.test.ts runs them.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { systemIdForInstance } from '../../scripts/gitlab/system-id.ts';
import { addRunnerAdminRoutes, newRunnerDetails } from '../doubles/gitlab/runner-admin.ts';
import { addRunnerRoutes } from '../doubles/gitlab/runners.ts';
import { startGitLabDouble } from '../doubles/gitlab/server.ts';
import { type CliResult, runCliProcess } from '../support/cli-process.ts';
import { defaultVpc } from '../support/default-vpc.ts';
import { awsEnv, ROOT, startEmulator } from '../support/emulator.ts';
import { callsOfRequest, distinct, type IamCall } from './iam-calls.ts';
import { EXAMPLE } from './policies.ts';
import { startRecordingProxy } from './recording-proxy.ts';

export type Role = 'deploy' | 'preview';

export interface CommandRun {
  /** What ran, e.g. "deploy (create)". */
  label: string;
  role: Role;
  result: CliResult;
  requests: number;
  calls: IamCall[];
}

const RUNNER_ID = 7;
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

export async function recordCliCalls(): Promise<CommandRun[]> {
  const runs: CommandRun[] = [];
  const moto = await startEmulator('moto');
  const ministack = await startEmulator('ministack');
  const motoProxy = await startRecordingProxy(moto.endpoint);
  const ministackProxy = await startRecordingProxy(ministack.endpoint);
  const apiToken = `glpat-${randomBytes(8).toString('hex')}`;
  const runnerToken = `glrt-${randomBytes(12).toString('hex')}`;
  const gitlab = await startGitLabDouble({ tokens: [apiToken] });
  const runnersDouble = addRunnerRoutes(gitlab);
  runnersDouble.addRunner({ id: RUNNER_ID, token: runnerToken });
  const admin = addRunnerAdminRoutes(gitlab, runnersDouble);
  admin.addGroup(77, 'platform/runners', [apiToken]);
  admin.tokenLifetimeDays = 30;
  // The runner whose token deploy stores: create-runner adopts it.
  admin.details.set(
    RUNNER_ID,
    newRunnerDetails(RUNNER_ID, 'group_type', {
      description: 'made by hand',
      tag_list: ['aws'],
      groups: [{ id: 77, full_path: 'platform/runners' }],
    }),
  );
  const client = <T>(Client: new (config: object) => T): T =>
    new Client({ endpoint: moto.endpoint, region: 'us-east-1', credentials, forcePathStyle: true });
  try {
    const { vpc, subnets } = await defaultVpc(moto.endpoint);
    const s3 = client(S3Client);
    await s3.send(new CreateBucketCommand({ Bucket: EXAMPLE.bundleBucket }));

    const fleetArgs = [
      '--template-file',
      join(ROOT, 'cfn/runner-fleet.yaml'),
      '--parameters',
      join(ROOT, 'cfn/presets/linux-docker-autoscaling-spot.yaml'),
      ...[
        `VpcId=${vpc}`,
        `SubnetIds=${subnets.join(',')}`,
        `RunnerConfigBundleUrl=s3://${EXAMPLE.bundleBucket}/v1/runner-configs-linux.tar.gz`,
        `RunnerConfigBundleSha256=${'a'.repeat(64)}`,
        `InstanceRolePermissionsBoundaryArn=${EXAMPLE.boundaryArn}`,
        'RunnerVersion=17.11.1',
        'MinSize=2',
      ].flatMap((pair) => ['--parameter', pair]),
    ];
    const instanceGroups = new Map<string, string>();
    const run = async (
      label: string,
      role: Role,
      args: string[],
      env: NodeJS.ProcessEnv = {},
      on: 'moto' | 'ministack' = 'moto',
    ) => {
      const proxy = on === 'moto' ? motoProxy : ministackProxy;
      proxy.take();
      const result = await runCliProcess(args, { ...awsEnv(proxy.endpoint), ...env }, { timeoutMs: 180_000 });
      const requests = proxy.take();
      const calls = distinct(requests.flatMap((request) => callsOfRequest(request, label, instanceGroups)));
      runs.push({ label, role, result, requests: requests.length, calls });
      return result;
    };

    const stack = EXAMPLE.fleetStack;
    const tokenEnv = { RF_TEST_RUNNER_TOKEN: runnerToken };
    const tokenArgs = [
      '--runner-token-from-env',
      'RF_TEST_RUNNER_TOKEN',
      '--runner-token-parameter',
      EXAMPLE.tokenParameter,
    ];
    await run(
      'deploy (create, stores the token)',
      'deploy',
      ['deploy', '--stack-name', stack, ...fleetArgs, ...tokenArgs],
      tokenEnv,
    );
    await run(
      'deploy (no changes)',
      'deploy',
      ['deploy', '--stack-name', stack, ...fleetArgs, ...tokenArgs],
      tokenEnv,
    );
    await run('preview (update)', 'preview', [
      'preview',
      '--stack-name',
      stack,
      ...fleetArgs,
      '--parameter',
      'RunnerConcurrentJobs=4',
    ]);
    await run('preview (new stack)', 'preview', ['preview', '--stack-name', 'runners-next', ...fleetArgs]);
    await run('status', 'preview', ['status', '--stack-name', stack]);

    const asg = client(AutoScalingClient);
    const groups = await asg.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [`${stack}-runners`] }),
    );
    asg.destroy();
    for (const instance of groups.AutoScalingGroups?.[0]?.Instances ?? []) {
      instanceGroups.set(instance.InstanceId ?? '', `${stack}-runners`);
      runnersDouble.setManager(RUNNER_ID, {
        system_id: systemIdForInstance(instance.InstanceId ?? ''),
        status: 'online',
        version: '17.11.1',
      });
    }
    await run(
      'smoke-test',
      'deploy',
      [
        'smoke-test',
        '--stack-name',
        stack,
        '--runner-id',
        String(RUNNER_ID),
        '--gitlab-url',
        gitlab.url,
        '--wait-minutes',
        '1',
      ],
      { RUNNER_FLEET_GITLAB_TOKEN: apiToken },
    );

    // Runner identity: adopt the runner deploy stored (tags the stack's token
    // parameter with its id), make a new one, rotate its token both ways.
    const gitlabEnv = { RUNNER_FLEET_GITLAB_TOKEN: apiToken };
    const settings = join(ROOT, 'test/fixtures/runner/runner.yml');
    await run(
      'create-runner (adopts the stack’s runner)',
      'deploy',
      ['create-runner', '--stack-name', stack, '--gitlab-url', gitlab.url, '--settings', settings],
      gitlabEnv,
    );
    // Now the stack's token parameter records the runner id: status and the smoke test find the runner without being told.
    await run(
      'status (runner from the recorded id)',
      'preview',
      ['status', '--stack-name', stack, '--gitlab-url', gitlab.url],
      gitlabEnv,
    );
    await run(
      'smoke-test (runner from the recorded id)',
      'deploy',
      ['smoke-test', '--stack-name', stack, '--gitlab-url', gitlab.url, '--wait-minutes', '1'],
      gitlabEnv,
    );
    const nextParameter = `${EXAMPLE.tokenParameter}-next`;
    const identityArgs = ['--runner-token-parameter', nextParameter, '--gitlab-url', gitlab.url];
    await run(
      'create-runner (new runner, token into SSM)',
      'deploy',
      ['create-runner', ...identityArgs, '--settings', settings],
      gitlabEnv,
    );
    await run(
      'rotate-token (due, with the current token)',
      'deploy',
      ['rotate-token', ...identityArgs, '--if-expires-within-days', '30'],
      { RUNNER_FLEET_GITLAB_TOKEN: '' },
    );
    await run(
      'rotate-token (by runner id, API token)',
      'deploy',
      ['rotate-token', ...identityArgs],
      gitlabEnv,
    );

    // reconcile: one manager of a gone instance, one live instance whose runner is offline.
    const [firstInstance] = groups.AutoScalingGroups?.[0]?.Instances ?? [];
    runnersDouble.setManager(RUNNER_ID, {
      system_id: systemIdForInstance('i-0deadbeef00000001'),
      status: 'online',
    });
    runnersDouble.setManager(RUNNER_ID, {
      system_id: systemIdForInstance(firstInstance?.InstanceId ?? ''),
      status: 'offline',
      contacted_at: '2026-11-01T00:00:00Z',
    });
    const reconcileArgs = ['reconcile', '--stack-name', stack, '--gitlab-url', gitlab.url];
    await run('reconcile (dry run)', 'deploy', [...reconcileArgs, '--dry-run'], gitlabEnv);
    await run(
      'reconcile (--apply --replace-broken)',
      'deploy',
      [...reconcileArgs, '--apply', '--replace-broken'],
      gitlabEnv,
    );

    const miniFleet = join(ROOT, 'test/fixtures/templates/mini-fleet.yaml');
    await run(
      'deploy (small fleet, ministack)',
      'deploy',
      ['deploy', '--stack-name', 'runners-roll', '--template-file', miniFleet],
      {},
      'ministack',
    );
    await run(
      'roll (instance refresh, ministack)',
      'deploy',
      [
        'roll',
        '--stack-name',
        'runners-roll',
        '--force',
        '--no-auto-rollback',
        '--runner-releases-url',
        'http://127.0.0.1:9/releases/latest',
      ],
      {},
      'ministack',
    );

    for (const key of ['project/1/cache.zip', 'project/2/cache.zip']) {
      const { CacheBucketName } = await cacheBucketOf(stack, moto.endpoint);
      await s3.send(new PutObjectCommand({ Bucket: CacheBucketName, Key: key, Body: 'cache' }));
    }
    s3.destroy();
    await run(
      'destroy',
      'deploy',
      ['destroy', '--stack-name', stack, '--yes-destroy-stack', stack, '--gitlab-url', gitlab.url],
      {
        RUNNER_FLEET_RUNNER_TOKEN: runnerToken,
      },
    );
    return runs;
  } finally {
    await gitlab.close();
    await motoProxy.close();
    await ministackProxy.close();
    await moto.stop();
    await ministack.stop();
  }
}

async function cacheBucketOf(stack: string, endpoint: string): Promise<{ CacheBucketName: string }> {
  const { CloudFormationClient, paginateListStackResources } = await import('@aws-sdk/client-cloudformation');
  const cfn = new CloudFormationClient({ endpoint, region: 'us-east-1', credentials });
  let bucket = '';
  for await (const page of paginateListStackResources({ client: cfn }, { StackName: stack })) {
    bucket =
      page.StackResourceSummaries?.find((r) => r.LogicalResourceId === 'CacheBucket')?.PhysicalResourceId ??
      bucket;
  }
  cfn.destroy();
  return { CacheBucketName: bucket };
}
