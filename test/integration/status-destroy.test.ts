/**
 * `status` and `destroy` as real CLI processes against moto (whose Auto
 * Scaling runs real groups with instances) and the GitLab API double.
 */
import { join } from 'node:path';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemIdForInstance } from '../../scripts/gitlab/system-id.ts';
import { addRunnerRoutes, type RunnersDouble } from '../doubles/gitlab/runners.ts';
import { type GitLabDouble, startGitLabDouble } from '../doubles/gitlab/server.ts';
import { runCliProcess } from '../support/cli-process.ts';
import { type Emulator, ROOT, startEmulator } from '../support/emulator.ts';

const miniFleet = join(ROOT, 'test/fixtures/templates/mini-fleet.yaml');
const RUNNER_TOKEN = 'glrt-status-destroy-test-0123456789';
const API_TOKEN = 'glpat-test-token';

describe('status and destroy against moto', () => {
  let emulator: Emulator;
  let gitlab: GitLabDouble;
  let runners: RunnersDouble;
  const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

  beforeAll(async () => {
    emulator = await startEmulator('moto');
    gitlab = await startGitLabDouble({ tokens: [API_TOKEN] });
    runners = addRunnerRoutes(gitlab);
    runners.addRunner({ id: 42, token: RUNNER_TOKEN });
  });
  afterAll(async () => {
    await gitlab?.close();
    await emulator?.stop();
  });

  const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    runCliProcess(args, { ...emulator.env, ...extra });

  async function instanceIds(stackName: string): Promise<string[]> {
    const cfn = new CloudFormationClient({ endpoint: emulator.endpoint, region: 'us-east-1', credentials });
    const asg = new AutoScalingClient({ endpoint: emulator.endpoint, region: 'us-east-1', credentials });
    const stack = (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
    const groupName = stack?.Outputs?.find((o) => o.OutputKey === 'AutoScalingGroupName')?.OutputValue;
    const groups = await asg.send(new DescribeAutoScalingGroupsCommand({}));
    const group = groups.AutoScalingGroups?.find(
      (g) => g.AutoScalingGroupName === groupName || g.AutoScalingGroupName?.startsWith(`${stackName}-`),
    );
    cfn.destroy();
    asg.destroy();
    return (group?.Instances ?? []).map((i) => i.InstanceId ?? '');
  }

  it('shows the group and each instance, with its runner manager when a token is given', async () => {
    const deployed = await cli(['deploy', '--stack-name', 'fleet-s', '--template-file', miniFleet]);
    expect(deployed.code, deployed.output).toBe(0);
    const ids = await instanceIds('fleet-s');
    expect(ids).toHaveLength(2);
    runners.setManager(42, {
      system_id: systemIdForInstance(ids[0] ?? ''),
      status: 'online',
      version: '17.6.0',
    });

    const plain = await cli(['status', '--stack-name', 'fleet-s']);
    expect(plain.code, plain.output).toBe(0);
    expect(plain.stdout).toMatch(/^Stack {5}fleet-s {2}CREATE_COMPLETE/m);
    expect(plain.stdout).toMatch(/^Group {5}fleet-s-AutoScalingGroup-\S+ {2}desired 2 {2}min 0 {2}max 4$/m);
    expect(plain.stdout).toContain(
      'on-demand base 0, 0% on-demand above base, spot strategy price-capacity-optimized',
    );
    expect(plain.stdout).toMatch(/^Instances 2 /m);
    for (const id of ids)
      expect(plain.stdout).toMatch(new RegExp(`^  ${id} +t3\\.micro +\\S+ +InService +Healthy +no +1 `, 'm'));
    expect(plain.stdout).toContain('(runner managers not shown: set RUNNER_FLEET_GITLAB_TOKEN');

    const withManagers = await cli(['status', '--stack-name', 'fleet-s', '--gitlab-url', gitlab.url], {
      RUNNER_FLEET_GITLAB_TOKEN: API_TOKEN,
      RUNNER_FLEET_RUNNER_TOKEN: RUNNER_TOKEN,
    });
    expect(withManagers.code, withManagers.output).toBe(0);
    expect(withManagers.stdout).toContain('RUNNER MANAGER');
    expect(withManagers.stdout).toMatch(
      new RegExp(`${ids[0]} .* online 17\\.6\\.0 \\(contacted \\d+m ago\\)$`, 'm'),
    );
    expect(withManagers.stdout).toMatch(new RegExp(`${ids[1]} .* not registered$`, 'm'));
    expect(withManagers.output).not.toContain(RUNNER_TOKEN);
    expect(withManagers.output).not.toContain(API_TOKEN);
  });

  it('refuses to destroy without the stack name as confirmation', async () => {
    const result = await cli(['destroy', '--stack-name', 'fleet-s', '--yes-destroy-stack', 'other']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'destroy needs --yes-destroy-stack fleet-s (the stack name again) to confirm; got other',
    );
  });

  it('deletes the stack and removes the runner managers its instances left behind', async () => {
    const ids = await instanceIds('fleet-s');
    const leftover = systemIdForInstance(ids[0] ?? '');
    const unrelated = 's_0123456789ab';
    runners.setManager(42, { system_id: unrelated });
    const result = await cli(
      ['destroy', '--stack-name', 'fleet-s', '--yes-destroy-stack', 'fleet-s', '--gitlab-url', gitlab.url],
      {
        RUNNER_FLEET_RUNNER_TOKEN: RUNNER_TOKEN,
      },
    );
    expect(result.code, result.output).toBe(0);
    expect(result.stdout).toContain('Deleting stack fleet-s (2 instance(s) drain and unregister first)');
    expect(result.stdout).toContain('Stack fleet-s DELETE_COMPLETE');
    expect(result.stdout).toContain(`Removed runner manager ${leftover} left behind by ${ids[0]}`);
    expect(result.stdout).toContain('Removed 1 leftover runner manager(s) of 2 instance(s)');
    const remaining = runners.runners.get(42)?.managers.map((m) => m.system_id);
    expect(remaining).toEqual([unrelated]);
    expect(result.output).not.toContain(RUNNER_TOKEN);

    const again = await cli(['destroy', '--stack-name', 'fleet-s', '--yes-destroy-stack', 'fleet-s']);
    expect(again.code, again.output).toBe(0);
    expect(again.stdout).toContain('Stack fleet-s does not exist: nothing to delete.');
  });
});
