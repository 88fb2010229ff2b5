/**
 * The real `runner-fleet smoke-test` process against moto (a real Auto
 * Scaling group with instances from a launch template, and EC2 launch
 * times) and the GitLab API double over HTTP. The double reports the
 * managers of the group's instances as each scenario needs.
 */
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import {
  CloudFormationClient,
  CreateChangeSetCommand,
  CreateStackCommand,
  DescribeStackResourcesCommand,
  ExecuteChangeSetCommand,
  waitUntilChangeSetCreateComplete,
} from '@aws-sdk/client-cloudformation';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { systemIdForInstance } from '../../scripts/gitlab/system-id.ts';
import { addRunnerRoutes, type RunnersDouble } from '../doubles/gitlab/runners.ts';
import { type GitLabDouble, startGitLabDouble } from '../doubles/gitlab/server.ts';
import { runCliProcess } from '../support/cli-process.ts';
import { type Emulator, startEmulator } from '../support/emulator.ts';

const API_TOKEN = 'glpat-integration-secret-1';
const RUNNER_TOKEN = 'glrt-integration-secret-2';
const RUNNER_ID = 42;

// A two-instance fleet moto can run: launch template + group, RunnerVersion as the real template has it.
const TEMPLATE = `
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  RunnerVersion: { Type: String, Default: 17.11.1 }
  GitLabUrl: { Type: String, Default: https://gitlab.example.com }
Resources:
  LaunchTemplate:
    Type: AWS::EC2::LaunchTemplate
    Properties:
      LaunchTemplateData:
        ImageId: ami-12c6146b
        InstanceType: t3.micro
  AutoScalingGroup:
    Type: AWS::AutoScaling::AutoScalingGroup
    Properties:
      MinSize: '0'
      MaxSize: '4'
      DesiredCapacity: '2'
      AvailabilityZones: [us-east-1a]
      LaunchTemplate:
        LaunchTemplateId: !Ref LaunchTemplate
        Version: !GetAtt LaunchTemplate.LatestVersionNumber
Outputs:
  AutoScalingGroupName:
    Value: !Ref AutoScalingGroup
`;

describe('smoke-test against moto and the GitLab double', () => {
  let emulator: Emulator;
  let cfn: CloudFormationClient;
  let asg: AutoScalingClient;
  let double: GitLabDouble;
  let runners: RunnersDouble;
  /** Instance ids of each stack's group. */
  const fleets = new Map<string, string[]>();

  const instancesOf = async (stackName: string) => {
    const resources = await cfn.send(new DescribeStackResourcesCommand({ StackName: stackName }));
    const groupName = resources.StackResources?.find(
      (r) => r.ResourceType === 'AWS::AutoScaling::AutoScalingGroup',
    )?.PhysicalResourceId;
    const groups = await asg.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName ?? ''] }),
    );
    return (groups.AutoScalingGroups?.[0]?.Instances ?? []).map((i) => i.InstanceId ?? '').sort();
  };

  beforeAll(async () => {
    emulator = await startEmulator('moto');
    const config = {
      endpoint: emulator.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    };
    cfn = new CloudFormationClient(config);
    asg = new AutoScalingClient(config);
    double = await startGitLabDouble({ tokens: [API_TOKEN] });
    runners = addRunnerRoutes(double);

    await cfn.send(new CreateStackCommand({ StackName: 'fleet-out', TemplateBody: TEMPLATE }));
    fleets.set('fleet-out', await instancesOf('fleet-out'));
    // Created through a change set, moto keeps no Outputs: the group comes from the stack resources.
    const changeSet = await cfn.send(
      new CreateChangeSetCommand({
        StackName: 'fleet-cs',
        ChangeSetName: 'create',
        ChangeSetType: 'CREATE',
        TemplateBody: TEMPLATE,
      }),
    );
    await waitUntilChangeSetCreateComplete(
      { client: cfn, maxWaitTime: 30, minDelay: 1 },
      { StackName: 'fleet-cs', ChangeSetName: changeSet.Id },
    );
    await cfn.send(new ExecuteChangeSetCommand({ StackName: 'fleet-cs', ChangeSetName: changeSet.Id }));
    fleets.set('fleet-cs', await instancesOf('fleet-cs'));
  });
  afterAll(async () => {
    cfn?.destroy();
    asg?.destroy();
    await double?.close();
    await emulator?.stop();
  });

  beforeEach(() => {
    runners.runners.clear();
    runners.addRunner({ id: RUNNER_ID, token: RUNNER_TOKEN });
    // Every instance of both fleets has an online manager on 17.11.1 that contacted GitLab just now.
    for (const ids of fleets.values()) {
      for (const id of ids) runners.setManager(RUNNER_ID, { system_id: systemIdForInstance(id) });
    }
  });

  const smokeTest = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCliProcess(['smoke-test', '--gitlab-url', double.url, '--wait-minutes', '1', ...args], {
      ...emulator.env,
      RUNNER_FLEET_GITLAB_TOKEN: API_TOKEN,
      ...env,
    });

  it('moto runs both fleets with two instances each', () => {
    expect(fleets.get('fleet-out')).toHaveLength(2);
    expect(fleets.get('fleet-cs')).toHaveLength(2);
  });

  it('passes a healthy fleet, resolving the runner from its token, and writes a passing JUnit report', async () => {
    const junit = join(tmpdir(), `rf-smoke-int-${process.pid}.xml`);
    const result = await smokeTest(['--stack-name', 'fleet-cs', '--junit', junit], {
      RUNNER_FLEET_RUNNER_TOKEN: RUNNER_TOKEN,
    });
    expect(result.code, result.output).toBe(0);
    expect(result.stdout).toContain(`Runner #${RUNNER_ID} (from the token in RUNNER_FLEET_RUNNER_TOKEN)`);
    expect(result.stdout).toContain('2 of 2 desired instance(s) in service');
    expect(result.stdout).toContain('Smoke test of fleet-cs: 9 passed, 0 failed, 0 skipped');
    const xml = await readFile(junit, 'utf8');
    expect(xml).toContain('tests="9" failures="0" errors="0" skipped="0"');
    for (const id of fleets.get('fleet-cs') ?? []) {
      expect(xml).toContain(
        `<testcase classname="${id}" name="runner manager ${systemIdForInstance(id)} found"`,
      );
    }
    for (const secret of [API_TOKEN, RUNNER_TOKEN]) {
      expect(result.output + xml).not.toContain(secret);
    }
    await rm(junit, { force: true });
  });

  it.each(['offline', 'stale'] as const)(
    'fails with exit 1 naming the instance whose manager is %s',
    async (status) => {
      const [first, second] = fleets.get('fleet-out') ?? [];
      runners.setManager(RUNNER_ID, { system_id: systemIdForInstance(second ?? ''), status });
      const result = await smokeTest(['--stack-name', 'fleet-out', '--runner-id', String(RUNNER_ID)]);
      expect(result.code, result.output).toBe(1);
      expect(result.stderr).toContain('error: smoke test of fleet-out failed: 1 of 9 checks failed');
      expect(result.stderr).toMatch(
        new RegExp(
          `^error: {3}${second}: runner manager ${systemIdForInstance(second ?? '')} is ${status} `,
          'm',
        ),
      );
      expect(result.stderr).not.toContain(`${first}:`);
    },
  );

  it('fails with exit 1 when a manager runs another version than the stack installs', async () => {
    const [first] = fleets.get('fleet-out') ?? [];
    runners.setManager(RUNNER_ID, { system_id: systemIdForInstance(first ?? ''), version: '17.10.0' });
    const result = await smokeTest(['--stack-name', 'fleet-out', '--runner-id', String(RUNNER_ID)]);
    expect(result.code, result.output).toBe(1);
    expect(result.stderr).toContain(
      `${first}: runner manager ${systemIdForInstance(first ?? '')} runs gitlab-runner 17.10.0, expected 17.11.1`,
    );
  });

  it('fails with exit 1 and the 401 hint for a bad API token, without printing it', async () => {
    const junit = join(tmpdir(), `rf-smoke-int-401-${process.pid}.xml`);
    const result = await smokeTest(['--stack-name', 'fleet-out', '--runner-id', '42', '--junit', junit], {
      RUNNER_FLEET_GITLAB_TOKEN: 'glpat-revoked-secret',
    });
    expect(result.code, result.output).toBe(1);
    expect(result.stderr).toContain(
      'error: GitLab API GET /runners/42/managers answered 401: the token is missing, expired or revoked; set RUNNER_FLEET_GITLAB_TOKEN to a valid access token',
    );
    expect(await readFile(junit, 'utf8')).toContain('failures="1"');
    expect(result.output).not.toContain('glpat-revoked-secret');
    await rm(junit, { force: true });
  });

  it('exits 2 for a stack that does not exist', async () => {
    const result = await smokeTest(['--stack-name', 'no-such-fleet', '--runner-id', '42']);
    expect(result.code, result.output).toBe(2);
    expect(result.stderr).toContain(
      'error: stack no-such-fleet does not exist; check --stack-name and --region',
    );
  });
});
