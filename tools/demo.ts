/**
 * `npm run demo`: the fleet's life cycle on a local AWS emulator, no AWS
 * account needed. Starts moto (ministack cannot evaluate the fleet template's
 * Fn::Split conditions; see docs/fleet-stack.md) and the project's GitLab API
 * double as a stand-in GitLab, builds the runner-config bundle for its
 * SHA-256, creates the fleet's runner from a settings file with
 * `runner-fleet create-runner` (its token goes straight into SSM: nothing is
 * copied by hand), deploys cfn/runner-fleet.yaml with the autoscaling-spot
 * preset, deploys again (no changes), changes a runner setting, rotates the
 * token, shows `status`, reconciles a dead instance's runner manager away,
 * previews a change, destroys the stack and stops the emulator.
 *
 * `npm run demo -- --docker-autoscaler` runs the same life cycle with the
 * docker-autoscaler preset instead: a one-instance on-demand manager group
 * and a spot worker group at zero that the manager scales; it shows the
 * worker group and previews raising the worker limit and idle slots.
 *
 * The emulator creates the resources but runs no instance software: the
 * instances never register with GitLab here, so the demo adds the runner
 * managers GitLab would list itself. The bats suite and the rig cover the
 * instance side.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { systemIdForInstance } from '../scripts/gitlab/system-id.ts';
import { addRunnerAdminRoutes } from '../test/doubles/gitlab/runner-admin.ts';
import { addRunnerRoutes } from '../test/doubles/gitlab/runners.ts';
import { startGitLabDouble } from '../test/doubles/gitlab/server.ts';
import { isolatedEnv } from '../test/support/cli-process.ts';
import { defaultVpc } from '../test/support/default-vpc.ts';
import { type EmulatorName, ROOT, startEmulator } from '../test/support/emulator.ts';

// The demo's own SDK client runs on the Node of this machine; the warning is for users of the CLI image.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const emulatorName = (process.env.RUNNER_FLEET_DEMO_EMULATOR ?? 'moto') as EmulatorName;
const DEMO_FLAGS = ['--docker-autoscaler'];
const unknownFlags = process.argv.slice(2).filter((flag) => !DEMO_FLAGS.includes(flag));
if (unknownFlags.length > 0) {
  console.error(`demo: unknown argument ${unknownFlags.join(' ')}; use ${DEMO_FLAGS.join(' ')} or nothing`);
  process.exit(2);
}
const dockerAutoscaler = process.argv.includes('--docker-autoscaler');
const STACK = dockerAutoscaler ? 'runner-fleet-demo-da' : 'runner-fleet-demo';
const PRESET = join(
  ROOT,
  dockerAutoscaler
    ? 'cfn/presets/linux-docker-autoscaler-spot.yaml'
    : 'cfn/presets/linux-docker-autoscaling-spot.yaml',
);
/** What the preview step changes, and how the demo says it. */
const PREVIEW_CHANGE = dockerAutoscaler
  ? {
      what: 'allowing 30 workers and keeping 2 job slots idle on weekdays',
      parameters: ['WorkerMaxInstances=30', 'WorkerIdleCount=2', 'WorkerIdlePeriods=* 7-18 * * mon-fri'],
    }
  : { what: 'raising the jobs per instance', parameters: ['RunnerConcurrentJobs=4'] };
const TEMPLATE = join(ROOT, 'cfn/runner-fleet.yaml');
// Not a real token: the stand-in GitLab's API token, made up per run (nothing
// token-shaped is committed). The runner token is made by create-runner.
const DEMO_API_TOKEN = ['glpat', 'demo', randomBytes(12).toString('hex')].join('-');
const TOKEN_PARAMETER = '/runner-fleet/demo/runner-token';
const RUNNER_SETTINGS = `runner_type: group_type
group: platform/runners
description: runner-fleet demo
tag_list: [aws, docker, spot]
run_untagged: false
maximum_timeout: 3600
`;

function banner(text: string): void {
  console.log(`\n=== ${text}`);
}

function runFleet(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  console.log(`$ runner-fleet ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/runner-fleet.js'), ...args], {
      env: isolatedEnv(env),
      stdio: 'inherit',
    });
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

async function expectExit(label: string, promise: Promise<number>, expected = 0): Promise<void> {
  const code = await promise;
  if (code !== expected) throw new Error(`${label} exited ${code}, expected ${expected}`);
}

async function main(): Promise<void> {
  banner(`Starting ${emulatorName} on a free local port`);
  const emulator = await startEmulator(emulatorName);
  const work = await mkdtemp(join(tmpdir(), 'runner-fleet-demo-'));
  console.log(`AWS_ENDPOINT_URL=${emulator.endpoint}`);
  banner('Starting a stand-in GitLab (the API double of the tests) with a group platform/runners');
  const gitlab = await startGitLabDouble({ tokens: [DEMO_API_TOKEN] });
  const runners = addRunnerRoutes(gitlab);
  const admin = addRunnerAdminRoutes(gitlab, runners);
  admin.addGroup(7, 'platform/runners', [DEMO_API_TOKEN]);
  admin.tokenLifetimeDays = 30;
  console.log(`GitLab URL ${gitlab.url}; RUNNER_FLEET_GITLAB_TOKEN is an owner's token with create_runner`);
  try {
    const env = { ...emulator.env, RUNNER_FLEET_GITLAB_TOKEN: DEMO_API_TOKEN };
    const settingsFile = join(work, 'runner.yml');
    await writeFile(settingsFile, RUNNER_SETTINGS);
    const createArgs = [
      'create-runner',
      '--stack-name',
      STACK,
      '--runner-token-parameter',
      TOKEN_PARAMETER,
      '--settings',
      settingsFile,
      '--gitlab-url',
      gitlab.url,
    ];

    banner('Building the runner-config bundle (its SHA-256 pins what instances may run)');
    const hashes = execFileSync('bash', [join(ROOT, 'tools/bundle-runner-configs.sh'), work], {
      encoding: 'utf8',
    });
    process.stdout.write(hashes);
    const sha256 = /^([0-9a-f]{64}) +runner-configs-linux\.tar\.gz$/m.exec(hashes)?.[1];
    if (!sha256) throw new Error('the bundle tool printed no SHA-256 for runner-configs-linux.tar.gz');

    const { vpc, subnets } = await defaultVpc(emulator.endpoint);
    const siteParameters = [
      '--parameter',
      `VpcId=${vpc}`,
      '--parameter',
      `SubnetIds=${subnets.join(',')}`,
      '--parameter',
      'RunnerConfigBundleUrl=s3://runner-fleet-artifacts/demo/runner-configs-linux.tar.gz',
      '--parameter',
      `RunnerConfigBundleSha256=${sha256}`,
    ];
    const deployArgs = [
      'deploy',
      '--stack-name',
      STACK,
      '--template-file',
      TEMPLATE,
      '--parameters',
      PRESET,
      ...siteParameters,
      '--parameter',
      `RunnerTokenParameterName=${TOKEN_PARAMETER}`,
      '--tag',
      'team=platform',
      '--outputs-dotenv',
      join(work, 'deploy.env'),
    ];

    banner(
      `The runner as code: create it from runner.yml; its token goes straight into SSM ${TOKEN_PARAMETER}`,
    );
    console.log(RUNNER_SETTINGS.trimEnd());
    await expectExit('create-runner', runFleet(createArgs, env));

    banner('Deploy: create the fleet stack through a change set');
    await expectExit('deploy', runFleet(deployArgs, env));
    console.log(`\ndotenv report for GitLab:\n${await readFile(join(work, 'deploy.env'), 'utf8')}`);

    banner('Deploy again: nothing changed, so nothing happens');
    await expectExit('second deploy', runFleet(deployArgs, env));

    banner(
      'The same runner.yml with one more tag: create-runner updates the runner, it does not make another',
    );
    await writeFile(
      settingsFile,
      RUNNER_SETTINGS.replace('[aws, docker, spot]', '[aws, docker, spot, demo]'),
    );
    await expectExit('create-runner (update)', runFleet(createArgs, env));

    banner('Rotate the token centrally: a new SSM version, which every instance swaps into config.toml');
    await expectExit(
      'rotate-token',
      runFleet(
        ['rotate-token', '--stack-name', STACK, '--gitlab-url', gitlab.url, '--if-expires-within-days', '30'],
        env,
      ),
    );

    // The emulator's instances run no gitlab-runner: add the managers GitLab would list,
    // one per live instance and one of an instance that died without unregistering.
    const runnerId = [...admin.details.keys()][0] ?? 0;
    const groups = await describeDemoGroup(emulator.endpoint);
    for (const id of groups) runners.setManager(runnerId, { system_id: systemIdForInstance(id) });
    runners.setManager(runnerId, { system_id: systemIdForInstance('i-0dead0000beef0001'), status: 'online' });

    banner('Status: the stack, the group, its instances and their runner managers');
    await expectExit(
      'status',
      runFleet(
        ['status', '--stack-name', STACK, '--gitlab-url', gitlab.url, '--runner-id', String(runnerId)],
        env,
      ),
    );

    banner("Reconcile: a dry run shows the dead instance's manager, --apply removes it");
    const reconcileArgs = ['reconcile', '--stack-name', STACK, '--gitlab-url', gitlab.url];
    await expectExit('reconcile --dry-run', runFleet([...reconcileArgs, '--dry-run'], env));
    await expectExit('reconcile --apply', runFleet([...reconcileArgs, '--apply'], env));

    if (dockerAutoscaler) {
      banner('The two groups: one on-demand manager, and the workers it scales from zero');
      const autoscaling = new AutoScalingClient({
        endpoint: emulator.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      });
      const groups = await autoscaling.send(
        new DescribeAutoScalingGroupsCommand({
          AutoScalingGroupNames: [`${STACK}-runners`, `${STACK}-workers`],
        }),
      );
      autoscaling.destroy();
      for (const group of groups.AutoScalingGroups ?? []) {
        const split = group.MixedInstancesPolicy?.InstancesDistribution;
        console.log(
          `${group.AutoScalingGroupName}: min ${group.MinSize}, max ${group.MaxSize}, desired ${group.DesiredCapacity}, ` +
            `on-demand base ${split?.OnDemandBaseCapacity} + ${split?.OnDemandPercentageAboveBaseCapacity}% above, ` +
            `scale-in protected ${group.NewInstancesProtectedFromScaleIn === true}`,
        );
      }
    }

    banner(`Preview: what ${PREVIEW_CHANGE.what} would do (as a merge request would see it)`);
    await expectExit(
      'preview',
      runFleet(
        [
          'preview',
          '--stack-name',
          STACK,
          '--template-file',
          TEMPLATE,
          ...PREVIEW_CHANGE.parameters.flatMap((pair) => ['--parameter', pair]),
          '--markdown',
          join(work, 'preview.md'),
          '--terraform-report',
          join(work, 'tfplan.json'),
        ],
        env,
      ),
    );

    banner('Destroy: delete the stack (instances drain and unregister first)');
    await expectExit(
      'destroy',
      runFleet(['destroy', '--stack-name', STACK, '--yes-destroy-stack', STACK], env),
    );
  } finally {
    banner(`Stopping ${emulatorName} and the stand-in GitLab`);
    await gitlab.close();
    await emulator.stop();
    await rm(work, { recursive: true, force: true });
  }
  console.log('\nDemo finished: no AWS account was used.');
}

/** The instance ids in the demo stack's group. */
async function describeDemoGroup(endpoint: string): Promise<string[]> {
  const asg = new AutoScalingClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  const groups = await asg.send(new DescribeAutoScalingGroupsCommand({}));
  asg.destroy();
  const group = groups.AutoScalingGroups?.find((g) => g.AutoScalingGroupName?.startsWith(`${STACK}-`));
  return (group?.Instances ?? []).map((i) => i.InstanceId ?? '').filter(Boolean);
}

main().catch((error: unknown) => {
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
