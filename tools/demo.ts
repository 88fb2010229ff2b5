/**
 * `npm run demo`: the fleet's life cycle on a local AWS emulator, no AWS
 * account needed. Starts moto (ministack cannot evaluate the fleet template's
 * Fn::Split conditions; see docs/fleet-stack.md),
 * builds the runner-config bundle for its SHA-256, deploys cfn/runner-fleet.yaml
 * with the autoscaling-spot preset through `runner-fleet deploy` (storing a
 * demo runner token in SSM on the way), deploys again (no changes), shows
 * `status`, previews a change, destroys the stack and stops the emulator.
 *
 * `npm run demo -- --docker-autoscaler` runs the same life cycle with the
 * docker-autoscaler preset instead: a one-instance on-demand manager group
 * and a spot worker group at zero that the manager scales; it shows the
 * worker group and previews raising the worker limit and idle slots.
 *
 * The emulator creates the resources but runs no instance software: the
 * instances never register with GitLab here. The bats suite covers that side.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeSubnetsCommand, DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { isolatedEnv } from '../test/support/cli-process.ts';
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
// Not a real token: made up per run (nothing token-shaped is committed), and
// the emulator stores it like any SecureString.
const DEMO_TOKEN = ['glrt', 'demo', randomBytes(12).toString('hex')].join('-');

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
  try {
    const env = { ...emulator.env, RUNNER_FLEET_DEMO_TOKEN: DEMO_TOKEN };

    banner('Building the runner-config bundle (its SHA-256 pins what instances may run)');
    const hashes = execFileSync('bash', [join(ROOT, 'tools/bundle-runner-configs.sh'), work], {
      encoding: 'utf8',
    });
    process.stdout.write(hashes);
    const sha256 = /^([0-9a-f]{64}) +runner-configs-linux\.tar\.gz$/m.exec(hashes)?.[1];
    if (!sha256) throw new Error('the bundle tool printed no SHA-256 for runner-configs-linux.tar.gz');

    const ec2 = new EC2Client({
      endpoint: emulator.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    const vpc = (await ec2.send(new DescribeVpcsCommand({}))).Vpcs?.find((v) => v.IsDefault)?.VpcId ?? '';
    const subnets = ((await ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? [])
      .filter((s) => s.VpcId === vpc)
      .slice(0, 2)
      .map((s) => s.SubnetId ?? '');
    ec2.destroy();
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
      '--runner-token-from-env',
      'RUNNER_FLEET_DEMO_TOKEN',
      '--runner-token-parameter',
      '/runner-fleet/demo/runner-token',
      '--tag',
      'team=platform',
      '--outputs-dotenv',
      join(work, 'deploy.env'),
    ];

    banner('Deploy: create the fleet stack through a change set');
    await expectExit('deploy', runFleet(deployArgs, env));
    console.log(`\ndotenv report for GitLab:\n${await readFile(join(work, 'deploy.env'), 'utf8')}`);

    banner('Deploy again: nothing changed, so nothing happens');
    await expectExit('second deploy', runFleet(deployArgs, env));

    banner('Status: the stack, the group and its instances');
    await expectExit('status', runFleet(['status', '--stack-name', STACK], env));

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
    banner(`Stopping ${emulatorName}`);
    await emulator.stop();
    await rm(work, { recursive: true, force: true });
  }
  console.log('\nDemo finished: no AWS account was used.');
}

main().catch((error: unknown) => {
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
