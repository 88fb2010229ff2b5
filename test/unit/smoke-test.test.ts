/**
 * The smoke test against mocked AWS clients and the GitLab API double (real
 * HTTP), with a fake clock: waits for capacity and managers, each failure
 * named by instance, the canary, the JUnit report, and no token in any output.
 */
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  type Instance,
} from '@aws-sdk/client-auto-scaling';
import {
  CloudFormationClient,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetParameterCommand, ListTagsForResourceCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type SmokeTestOptions, smokeTest } from '../../scripts/commands/smoke-test.ts';
import { InputError, InterruptedError, OperationError } from '../../scripts/errors.ts';
import { createGitLabClient } from '../../scripts/gitlab/client.ts';
import { addPipelineRoutes, type PipelinesDouble } from '../doubles/gitlab/pipelines.ts';
import { addRunnerRoutes, type RunnersDouble } from '../doubles/gitlab/runners.ts';
import { type GitLabDouble, startGitLabDouble } from '../doubles/gitlab/server.ts';
import { type FakeClock, fakeClock } from '../support/fake-clock.ts';
import { captureLog } from '../support/log-capture.ts';

const API_TOKEN = 'glpat-smoke-unit-secret';
const RUNNER_TOKEN = 'glrt-smoke-unit-secret';
const TRIGGER_TOKEN = 'glptt-smoke-unit-secret';
const GROUP = 'fleet-runners';
const A = 'i-0aaaaaaaaaaaaaaa1';
const B = 'i-0bbbbbbbbbbbbbbb2';
const SID_A = 's_aaaaaaaaaaa1';
const SID_B = 's_bbbbbbbbbbb2';
const START = Date.parse('2026-11-28T10:00:00Z');
const LAUNCHED = new Date(START - 10 * 60_000);
const CONTACTED = new Date(START - 60_000).toISOString();

const cfnMock = mockClient(CloudFormationClient);
const asgMock = mockClient(AutoScalingClient);
const ec2Mock = mockClient(EC2Client);
const ssmMock = mockClient(SSMClient);

let double: GitLabDouble;
let runners: RunnersDouble;
let pipelines: PipelinesDouble;
let out: string[];
let clock: FakeClock;

function stack(parameters: Record<string, string>, outputs = true): Stack {
  return {
    StackName: 'fleet',
    StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/fleet/abc',
    StackStatus: 'CREATE_COMPLETE',
    CreationTime: new Date(START - 3_600_000),
    Parameters: Object.entries(parameters).map(([ParameterKey, ParameterValue]) => ({
      ParameterKey,
      ParameterValue,
    })),
    ...(outputs ? { Outputs: [{ OutputKey: 'AutoScalingGroupName', OutputValue: GROUP }] } : {}),
  };
}

function instance(id: string, state = 'InService', health = 'Healthy'): Instance {
  return {
    InstanceId: id,
    LifecycleState: state as Instance['LifecycleState'],
    HealthStatus: health,
    AvailabilityZone: 'us-east-1a',
    ProtectedFromScaleIn: false,
  };
}

function group(desired: number, instances: Instance[]) {
  return {
    AutoScalingGroups: [
      {
        AutoScalingGroupName: GROUP,
        DesiredCapacity: desired,
        MinSize: 0,
        MaxSize: 4,
        DefaultCooldown: 300,
        AvailabilityZones: ['us-east-1a'],
        HealthCheckType: 'EC2',
        CreatedTime: new Date(START - 3_600_000),
        Instances: instances,
      },
    ],
  };
}

function launched(...ids: string[]) {
  return {
    Reservations: [{ Instances: ids.map((InstanceId) => ({ InstanceId, LaunchTime: LAUNCHED })) }],
  };
}

function options(extra: Partial<SmokeTestOptions> = {}): SmokeTestOptions {
  return { stackName: 'fleet', runnerId: 42, gitlabUrl: double.url, waitMinutes: 10, ...extra };
}

function run(extra: Partial<SmokeTestOptions> = {}, signal?: AbortSignal) {
  const log = captureLog(out);
  return smokeTest(options(extra), {
    cloudFormation: new CloudFormationClient({ region: 'us-east-1' }),
    autoScaling: new AutoScalingClient({ region: 'us-east-1' }),
    ec2: new EC2Client({ region: 'us-east-1' }),
    gitlab: (apiUrl) => createGitLabClient({ apiUrl, token: API_TOKEN }),
    ssm: async () => new SSMClient({ region: 'us-east-1' }),
    log,
    clock,
    ...(signal ? { signal } : {}),
  });
}

async function failure(promise: Promise<unknown>): Promise<OperationError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OperationError);
  return error as OperationError;
}

const output = () => out.join('');

beforeAll(async () => {
  double = await startGitLabDouble({ tokens: [API_TOKEN] });
  runners = addRunnerRoutes(double);
  pipelines = addPipelineRoutes(double);
});
afterAll(() => double.close());

beforeEach(() => {
  cfnMock.reset();
  asgMock.reset();
  ec2Mock.reset();
  ssmMock.reset();
  out = [];
  clock = fakeClock(START);
  double.requests.length = 0;
  double.validTokens.clear();
  double.validTokens.add(API_TOKEN);
  runners.runners.clear();
  runners.addRunner({ id: 42, token: RUNNER_TOKEN });
  runners.setManager(42, { system_id: SID_A, contacted_at: CONTACTED });
  runners.setManager(42, { system_id: SID_B, contacted_at: CONTACTED });
  pipelines.projects.clear();
  pipelines.created.length = 0;
  pipelines.triggerTokens.clear();
  cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [stack({ RunnerVersion: '17.11.1' })] });
  asgMock.on(DescribeAutoScalingGroupsCommand).resolves(group(2, [instance(A), instance(B)]));
  ec2Mock.on(DescribeInstancesCommand).resolves(launched(A, B));
});

describe('smoke-test: capacity and runner managers', () => {
  it('passes a fleet whose managers are online, fresh and on the stack version, and writes JUnit', async () => {
    const junit = join(tmpdir(), `rf-smoke-unit-${process.pid}.xml`);
    const result = await run({ junitFile: junit });
    expect(result.passed).toBe(true);
    expect(result.checks.map((c) => [c.classname, c.name, c.status])).toEqual([
      ['capacity', `group ${GROUP} has its desired capacity (2) in service`, 'passed'],
      [A, `runner manager ${SID_A} found`, 'passed'],
      [A, 'runner manager online', 'passed'],
      [A, 'runner manager contacted GitLab after the instance launched', 'passed'],
      [A, 'gitlab-runner 17.11.1', 'passed'],
      [B, `runner manager ${SID_B} found`, 'passed'],
      [B, 'runner manager online', 'passed'],
      [B, 'runner manager contacted GitLab after the instance launched', 'passed'],
      [B, 'gitlab-runner 17.11.1', 'passed'],
    ]);
    expect(output()).toContain('Expecting gitlab-runner 17.11.1 (stack parameter RunnerVersion)');
    expect(output()).toContain('Smoke test of fleet: 9 passed, 0 failed, 0 skipped');
    const xml = await readFile(junit, 'utf8');
    expect(xml).toContain('tests="9" failures="0" errors="0" skipped="0"');
    expect(xml).toContain(`<testcase classname="${A}" name="runner manager online"`);
    expect(clock.sleeps).toEqual([]);
    // The managers were read with the API token, from the runner given.
    expect(double.requests.map((r) => `${r.method} ${r.path} ${r.token}`)).toEqual([
      `GET /runners/42/managers ${API_TOKEN}`,
    ]);
    await rm(junit, { force: true });
  });

  it('waits with backoff until the desired capacity is in service', async () => {
    asgMock
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce(group(2, [instance(A), instance(B, 'Pending', 'Healthy')]))
      .resolvesOnce(group(2, [instance(A), instance(B, 'Pending:Wait', 'Healthy')]))
      .resolves(group(2, [instance(A), instance(B)]));
    const result = await run();
    expect(result.passed).toBe(true);
    expect(clock.sleeps).toEqual([2000, 3000]);
    expect(output()).toContain('1 of 2 desired instance(s) in service; 1 Pending\n');
    expect(output()).toContain('1 of 2 desired instance(s) in service; 1 Pending:Wait\n');
    expect(output()).toContain('2 of 2 desired instance(s) in service\n');
  });

  it('fails the capacity check after --wait-minutes and still checks the instances in service', async () => {
    asgMock
      .on(DescribeAutoScalingGroupsCommand)
      .resolves(group(2, [instance(A), instance(B, 'InService', 'Unhealthy')]));
    ec2Mock.on(DescribeInstancesCommand).resolves(launched(A));
    const error = await failure(run({ waitMinutes: 1 }));
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBe(60_000);
    expect(error.message).toBe('smoke test of fleet failed: 1 of 5 checks failed');
    expect(error.details).toEqual([
      "capacity: 1 of 2 desired instance(s) in service; 1 InService (unhealthy) after the wait; see the group's activity history for failed launches",
    ]);
  });

  it('reads the group from the stack resources when the stack has no outputs', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [stack({ RunnerVersion: '17.11.1' }, false)] });
    cfnMock.on(DescribeStackResourcesCommand).resolves({
      StackResources: [
        {
          LogicalResourceId: 'AutoScalingGroup',
          PhysicalResourceId: GROUP,
          ResourceType: 'AWS::AutoScaling::AutoScalingGroup',
          ResourceStatus: 'CREATE_COMPLETE',
          Timestamp: new Date(START),
        },
      ],
    });
    expect((await run()).passed).toBe(true);
    expect(asgMock.commandCalls(DescribeAutoScalingGroupsCommand)[0]?.args[0].input).toEqual({
      AutoScalingGroupNames: [GROUP],
    });
  });

  it('waits for a manager that has not contacted GitLab since its instance launched', async () => {
    runners.setManager(42, {
      system_id: SID_B,
      contacted_at: new Date(LAUNCHED.getTime() - 86_400_000).toISOString(),
    });
    // The new host reports in while the smoke test sleeps for the second time.
    clock.onSleep = (count) => {
      if (count === 2) runners.setManager(42, { system_id: SID_B, contacted_at: CONTACTED });
    };
    const result = await run();
    expect(result.passed).toBe(true);
    expect(output()).toContain(`waiting for the runner managers of ${B}\n`);
    expect(clock.sleeps).toEqual([2000, 3000]);
    expect(double.requests.filter((r) => r.path === '/runners/42/managers')).toHaveLength(3);
  });

  it.each([
    [
      'offline',
      { status: 'offline' as const },
      `runner manager ${SID_B} is offline (last contact ${CONTACTED})`,
    ],
    ['stale', { status: 'stale' as const }, `runner manager ${SID_B} is stale (last contact ${CONTACTED})`],
    [
      'on another version',
      { version: '17.10.0' },
      `runner manager ${SID_B} runs gitlab-runner 17.10.0, expected 17.11.1`,
    ],
  ])('fails at once, naming the instance, when its manager is %s', async (_, change, reason) => {
    runners.setManager(42, { system_id: SID_B, contacted_at: CONTACTED, ...change });
    const error = await failure(run());
    expect(error.details).toEqual([`${B}: ${reason}`]);
    expect(output()).toContain(`  FAIL ${B} `);
    expect(clock.sleeps).toEqual([]);
  });

  it('fails an instance without a manager after the wait, and the instance whose manager predates it', async () => {
    runners.runners.get(42)?.managers.splice(0);
    runners.setManager(42, { system_id: SID_B, contacted_at: '2026-11-01T00:00:00.000Z', status: 'offline' });
    const junit = join(tmpdir(), `rf-smoke-unit-missing-${process.pid}.xml`);
    const error = await failure(run({ waitMinutes: 2, junitFile: junit }));
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBe(120_000);
    expect(error.details).toEqual([
      `${A}: runner #42 has no manager ${SID_A}: the runner on ${A} has not contacted GitLab (see its bootstrap log)`,
      `${B}: runner manager ${SID_B} is offline (last contact 2026-11-01T00:00:00.000Z); last contact 2026-11-01T00:00:00.000Z is before ${B} launched at ${LAUNCHED.toISOString()}: this manager record is from an earlier host`,
    ]);
    const xml = await readFile(junit, 'utf8');
    expect(xml).toContain('tests="9" failures="3" errors="0" skipped="3"');
    await rm(junit, { force: true });
  });

  it('skips the version check when the stack installs latest, and honours --expected-version', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [stack({ RunnerVersion: 'latest' })] });
    const unchecked = await run();
    expect(unchecked.checks.filter((c) => c.status === 'skipped').map((c) => c.name)).toEqual([
      'gitlab-runner version',
      'gitlab-runner version',
    ]);
    expect(output()).toContain('Runner version not checked');

    const error = await failure(run({ expectedVersion: 'v18.0.0' }));
    expect(error.details).toEqual([
      `${A}: runner manager ${SID_A} runs gitlab-runner 17.11.1, expected 18.0.0`,
      `${B}: runner manager ${SID_B} runs gitlab-runner 17.11.1, expected 18.0.0`,
    ]);
  });

  it('finds the runner from the runner token and never prints a token', async () => {
    const result = await run({ runnerToken: RUNNER_TOKEN, runnerId: undefined } as Partial<SmokeTestOptions>);
    expect(result.passed).toBe(true);
    expect(output()).toContain('Runner #42 (from the token in RUNNER_FLEET_RUNNER_TOKEN)');
    // The verify probe manager is removed again.
    expect(
      runners.runners
        .get(42)
        ?.managers.map((m) => m.system_id)
        .sort(),
    ).toEqual([SID_A, SID_B]);
    for (const secret of [API_TOKEN, RUNNER_TOKEN]) expect(output()).not.toContain(secret);
  });

  it('finds the runner create-runner recorded on the stack token parameter, and its token expiry', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({
      Stacks: [stack({ RunnerVersion: '17.11.1', RunnerTokenParameterName: '/fleet/token' })],
    });
    ssmMock
      .on(ListTagsForResourceCommand, { ResourceType: 'Parameter', ResourceId: '/fleet/token' })
      .resolves({
        TagList: [
          { Key: 'runner-fleet:runner-id', Value: '42' },
          { Key: 'runner-fleet:token-expires-at', Value: '2026-12-03T10:00:00Z' },
        ],
      });
    const error = await failure(
      run({ runnerId: undefined, tokenExpiryDays: 7 } as Partial<SmokeTestOptions>),
    );
    expect(error.message).toBe('smoke test of fleet failed: 1 of 10 checks failed');
    expect(output()).toContain(
      'Runner #42 (from tag runner-fleet:runner-id of SSM parameter /fleet/token, recorded by create-runner; its token expires 2026-12-03T10:00:00Z)',
    );
    expect(output()).toMatch(/FAIL runner token valid for more than 7 days/);
    // The expiry came from the tag: GitLab was asked only for the managers.
    expect(double.requests.map((r) => `${r.method} ${r.path}`)).not.toContain('GET /api/v4/runners/42');
    // The id is a tag: the token parameter itself is never read.
    expect(ssmMock.commandCalls(GetParameterCommand)).toHaveLength(0);
  });

  it('says what to pass when no id, no token and no recorded id name the runner', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({
      Stacks: [stack({ RunnerVersion: '17.11.1', RunnerTokenParameterName: '/fleet/token' })],
    });
    ssmMock.on(ListTagsForResourceCommand).resolves({ TagList: [] });
    await expect(run({ runnerId: undefined } as Partial<SmokeTestOptions>)).rejects.toThrow(
      new InputError(
        'no runner for stack fleet: pass --runner-id, set RUNNER_FLEET_RUNNER_TOKEN, or create the runner with create-runner (it records the id on the token parameter)',
      ),
    );
    ssmMock
      .on(ListTagsForResourceCommand)
      .rejects(Object.assign(new Error('not allowed'), { name: 'AccessDeniedException' }));
    await expect(run({ runnerId: undefined } as Partial<SmokeTestOptions>)).rejects.toThrow(
      /no runner for stack fleet/,
    );
    expect(output()).toContain('could not read the runner id recorded on /fleet/token: not allowed');
  });

  it('stops with the 401 hint when the API token is refused, and still writes the report', async () => {
    double.validTokens.clear();
    const junit = join(tmpdir(), `rf-smoke-unit-401-${process.pid}.xml`);
    const error = await failure(run({ junitFile: junit }));
    expect(error.message).toBe(
      'GitLab API GET /runners/42/managers answered 401: the token is missing, expired or revoked; set RUNNER_FLEET_GITLAB_TOKEN to a valid access token',
    );
    const xml = await readFile(junit, 'utf8');
    expect(xml).toContain('<testcase classname="smoke-test" name="runner managers"');
    expect(xml).toContain('answered 401');
    expect(output() + xml).not.toContain(API_TOKEN);
    await rm(junit, { force: true });
  });

  it('says when the stack does not exist (input error) and uses the stack GitLabUrl when none is given', async () => {
    cfnMock
      .on(DescribeStacksCommand)
      .rejects(Object.assign(new Error('Stack with id fleet does not exist'), { name: 'ValidationError' }));
    await expect(run()).rejects.toThrow(
      new InputError('stack fleet does not exist; check --stack-name and --region'),
    );

    cfnMock.on(DescribeStacksCommand).resolves({
      Stacks: [stack({ RunnerVersion: '17.11.1', GitLabUrl: double.url })],
    });
    expect((await run({ gitlabUrl: undefined } as Partial<SmokeTestOptions>)).passed).toBe(true);
    expect(output()).not.toContain('is not the stack');
  });

  it('warns when the GitLab URL given is not the one the runners register with', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({
      Stacks: [stack({ RunnerVersion: '17.11.1', GitLabUrl: 'https://gitlab.example.com' })],
    });
    await run();
    expect(output()).toContain(
      `warning: GitLab URL ${double.url} is not the stack's GitLabUrl https://gitlab.example.com, where its runners register`,
    );
  });

  it('turns an interruption into InterruptedError', async () => {
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves(group(2, [instance(A)]));
    const controller = new AbortController();
    controller.abort(new Error('SIGINT'));
    await expect(run({}, controller.signal)).rejects.toBeInstanceOf(InterruptedError);
  });
});

describe('smoke-test: canary', () => {
  const job = (id: number, runnerId: number | null, systemId: string | null, status = 'success') => ({
    id,
    name: `canary-${id}`,
    stage: 'test',
    status,
    runner: runnerId === null ? null : { id: runnerId, description: 'runner' },
    runner_manager: systemId === null ? null : { id: 1, system_id: systemId },
  });
  const canary = (extra: Record<string, unknown> = {}) => ({
    canary: { ref: 'main', project: 'platform/fleet-canary', waitMinutes: 5, ...extra },
  });

  beforeEach(() => {
    pipelines.addProject({ id: 7, path: 'platform/fleet-canary' });
    pipelines.plan = () => ({
      statuses: ['created', 'running', 'success'],
      jobs: [job(1, 42, SID_A), job(2, 42, SID_B), job(3, null, null, 'skipped')],
    });
  });

  it('runs the canary with the fleet variables and checks where its jobs ran', async () => {
    const result = await run(canary());
    expect(result.checks.slice(-2).map((c) => [c.name, c.status])).toEqual([
      ['canary pipeline on main succeeded', 'passed'],
      ["canary jobs ran on runner #42 on this fleet's instances", 'passed'],
    ]);
    expect(pipelines.created[0]?.source).toBe('api');
    expect(pipelines.created[0]?.variables).toEqual({
      RUNNER_FLEET_CANARY: '1',
      RUNNER_FLEET_STACK_NAME: 'fleet',
      RUNNER_FLEET_RUNNER_ID: '42',
    });
    expect(output()).toContain(`canary pipeline #${pipelines.created[0]?.pipeline.id} running`);
    expect(clock.sleeps).toEqual([2000, 3000]);
  });

  it('uses the trigger token when one is given, without printing it', async () => {
    pipelines.triggerTokens.add(TRIGGER_TOKEN);
    expect((await run(canary({ triggerToken: TRIGGER_TOKEN }))).passed).toBe(true);
    expect(pipelines.created[0]?.source).toBe('trigger');
    expect(output()).not.toContain(TRIGGER_TOKEN);
  });

  it.each([
    [
      'a job ran on another runner',
      [job(1, 42, SID_A), job(2, 9, 's_0000000000ff')],
      'job canary-2 (#2) ran on runner #9, not #42',
    ],
    [
      'a job ran on a manager of no instance checked',
      [job(1, 42, 's_0000000000ff')],
      'job canary-1 (#1) ran on runner manager s_0000000000ff, which is none of the instances checked',
    ],
    [
      'no job ran',
      [job(1, null, null, 'skipped')],
      'no job of canary pipeline #ID was picked up by a runner',
    ],
  ])('fails when %s', async (_, jobs, reason) => {
    pipelines.plan = () => ({ statuses: ['running', 'success'], jobs });
    const error = await failure(run(canary()));
    expect(error.details).toHaveLength(1);
    const id = String(pipelines.created[0]?.pipeline.id);
    expect(error.details[0]).toContain(`canary: ${reason.replace('#ID', `#${id}`)}`);
  });

  it('fails a canary pipeline that fails, naming the failed jobs', async () => {
    pipelines.plan = () => ({ statuses: ['running', 'failed'], jobs: [job(1, 42, SID_A, 'failed')] });
    const error = await failure(run(canary()));
    const id = pipelines.created[0]?.pipeline.id;
    expect(error.details).toEqual([`canary: canary pipeline #${id} ended failed (failed: canary-1)`]);
  });

  it('fails a canary pipeline that does not finish in time', async () => {
    pipelines.plan = () => ({ statuses: ['pending'], jobs: [] });
    const error = await failure(run(canary({ waitMinutes: 1 })));
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBe(60_000);
    const id = pipelines.created[0]?.pipeline.id;
    expect(error.details[0]).toBe(
      `canary: canary pipeline #${id} is still pending after 1 minutes; no job of canary pipeline #${id} was picked up by a runner: does the canary job run when RUNNER_FLEET_CANARY=1, with the fleet's tags?`,
    );
  });

  it('skips the canary when the fleet already failed', async () => {
    runners.setManager(42, { system_id: SID_B, status: 'offline', contacted_at: CONTACTED });
    const error = await failure(run(canary()));
    expect(pipelines.created).toHaveLength(0);
    expect(error.details).toEqual([`${B}: runner manager ${SID_B} is offline (last contact ${CONTACTED})`]);
    expect(output()).toContain('skip canary pipeline');
  });
});
