/**
 * The deploy state machine against a mocked CloudFormation client, including
 * the states no emulator produces on demand: operations already running,
 * UPDATE_ROLLBACK_FAILED, DELETE_FAILED, time-outs and interruptions.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CancelUpdateStackCommand,
  CloudFormationClient,
  CreateChangeSetCommand,
  DeleteChangeSetCommand,
  DeleteStackCommand,
  DescribeChangeSetCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
  GetTemplateCommand,
  ListChangeSetsCommand,
  type Stack,
  type StackEvent,
} from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DeployOptions, deploy } from '../../scripts/commands/deploy.ts';
import { parseTemplate } from '../../scripts/config/template.ts';
import { hintsOf, InputError, InterruptedError, OperationError } from '../../scripts/errors.ts';
import { type FakeClock, fakeClock } from '../support/fake-clock.ts';
import { captureLog } from '../support/log-capture.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const template = parseTemplate(
  'basic.yaml',
  readFileSync(join(ROOT, 'test/fixtures/templates/basic.yaml'), 'utf8'),
);
const STACK_ID = 'arn:aws:cloudformation:us-east-1:123456789012:stack/fleet/abc';
const CHANGE_SET_ID = 'arn:aws:cloudformation:us-east-1:123456789012:changeSet/cs/def';

const cfnMock = mockClient(CloudFormationClient);
let client: CloudFormationClient;
let out: string[];
let err: string[];
let clock: FakeClock;

function stack(status: string, extra: Partial<Stack> = {}): Stack {
  return {
    StackName: 'fleet',
    StackId: STACK_ID,
    StackStatus: status as Stack['StackStatus'],
    CreationTime: new Date('2026-11-01T00:00:00Z'),
    Parameters: [
      { ParameterKey: 'Environment', ParameterValue: 'test' },
      { ParameterKey: 'QueueSuffix', ParameterValue: 'one' },
      { ParameterKey: 'ApiSecret', ParameterValue: '****' },
    ],
    ...extra,
  };
}

function event(id: string, logicalId: string, status: string, reason?: string): StackEvent {
  return {
    EventId: id,
    StackId: STACK_ID,
    StackName: 'fleet',
    LogicalResourceId: logicalId,
    ResourceType: logicalId === 'fleet' ? 'AWS::CloudFormation::Stack' : 'AWS::SQS::Queue',
    ResourceStatus: status as StackEvent['ResourceStatus'],
    ResourceStatusReason: reason,
    Timestamp: new Date('2026-11-28T10:00:01Z'),
  };
}

const notFound = Object.assign(new Error('Stack with id fleet does not exist'), { name: 'ValidationError' });

function options(overrides: Partial<DeployOptions> = {}): DeployOptions {
  return {
    stackName: 'fleet',
    template,
    parameterValues: new Map([['Environment', 'prod']]),
    tags: new Map(),
    outputsDotenv: undefined,
    timeoutMinutes: 60,
    waitForOtherOperationMinutes: 30,
    ...overrides,
  };
}

function run(opts: DeployOptions = options(), signal?: AbortSignal) {
  const log = captureLog(out, err);
  return deploy(opts, { cloudFormation: client, log, clock, ...(signal ? { signal } : {}) });
}

function changeSetReady(changes = 1) {
  cfnMock.on(CreateChangeSetCommand).resolves({ Id: CHANGE_SET_ID, StackId: STACK_ID });
  cfnMock.on(DescribeChangeSetCommand).resolves({
    Status: 'CREATE_COMPLETE',
    ExecutionStatus: 'AVAILABLE',
    Changes: Array.from({ length: changes }, () => ({
      Type: 'Resource' as const,
      ResourceChange: {
        Action: 'Modify' as const,
        LogicalResourceId: 'Queue',
        ResourceType: 'AWS::SQS::Queue',
        Replacement: 'True' as const,
      },
    })),
  });
  cfnMock.on(ExecuteChangeSetCommand).resolves({});
}

/** A change set AWS failed for having no changes, as it answers an unchanged deploy. */
function changeSetWithoutChanges() {
  cfnMock.on(CreateChangeSetCommand).resolves({ Id: CHANGE_SET_ID, StackId: STACK_ID });
  cfnMock.on(DescribeChangeSetCommand).resolves({
    Status: 'FAILED',
    StatusReason:
      "The submitted information didn't contain changes. Submit different information to create a change set.",
  });
  cfnMock.on(DeleteChangeSetCommand).resolves({});
}

beforeEach(() => {
  cfnMock.reset();
  client = new CloudFormationClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  out = [];
  err = [];
  clock = fakeClock(Date.parse('2026-11-28T10:00:00Z'));
  cfnMock.on(DescribeStackEventsCommand).resolves({ StackEvents: [] });
});
afterEach(() => client.destroy());

describe('deploy: creating', () => {
  it('creates through a CREATE change set, passing every parameter explicitly', async () => {
    cfnMock
      .on(DescribeStacksCommand)
      .rejectsOnce(notFound)
      .resolvesOnce({ Stacks: [stack('CREATE_IN_PROGRESS')] })
      .resolves({ Stacks: [stack('CREATE_COMPLETE')] });
    changeSetReady();
    cfnMock
      .on(DescribeStackEventsCommand)
      .resolvesOnce({ StackEvents: [] })
      .resolvesOnce({
        StackEvents: [event('2', 'Queue', 'CREATE_IN_PROGRESS'), event('1', 'fleet', 'CREATE_IN_PROGRESS')],
      })
      .resolves({
        StackEvents: [
          event('4', 'fleet', 'CREATE_COMPLETE'),
          event('3', 'Queue', 'CREATE_COMPLETE'),
          event('2', 'Queue', 'CREATE_IN_PROGRESS'),
        ],
      });

    await expect(run()).resolves.toBe('created');

    const input = cfnMock.commandCalls(CreateChangeSetCommand)[0]?.args[0].input;
    expect(input?.ChangeSetType).toBe('CREATE');
    expect(input?.Parameters).toEqual([
      { ParameterKey: 'ApiSecret', ParameterValue: 'not-a-real-secret' },
      { ParameterKey: 'Environment', ParameterValue: 'prod' },
      { ParameterKey: 'QueueSuffix', ParameterValue: 'one' },
    ]);
    expect(input?.Tags).toBeUndefined();
    expect(cfnMock.commandCalls(ExecuteChangeSetCommand)).toHaveLength(1);
    const text = out.join('');
    // Each event once, oldest first.
    const eventLines = text.split('\n').filter((line) => line.startsWith('2026-'));
    expect(eventLines.map((line) => line.split(/ +/).slice(1, 4).join(' '))).toEqual([
      'fleet AWS::CloudFormation::Stack CREATE_IN_PROGRESS',
      'Queue AWS::SQS::Queue CREATE_IN_PROGRESS',
      'Queue AWS::SQS::Queue CREATE_COMPLETE',
      'fleet AWS::CloudFormation::Stack CREATE_COMPLETE',
    ]);
    expect(text).toContain('Stack fleet CREATE_COMPLETE');
  });

  it('never prints a NoEcho value, and keeps it out of the dotenv report', async () => {
    const secret = 'hunter2-do-not-print';
    cfnMock
      .on(DescribeStacksCommand)
      .rejectsOnce(notFound)
      .resolves({
        Stacks: [stack('CREATE_COMPLETE', { Outputs: [{ OutputKey: 'Echo', OutputValue: `x-${secret}` }] })],
      });
    changeSetReady();
    const dotenv = join(ROOT, 'reports', `unit-dotenv-${process.pid}.env`);
    const { mkdirSync, readFileSync: read, rmSync } = await import('node:fs');
    mkdirSync(join(ROOT, 'reports'), { recursive: true });
    await run(options({ parameterValues: new Map([['ApiSecret', secret]]), outputsDotenv: dotenv }));
    expect(out.join('') + err.join('')).not.toContain('hunter2');
    expect(out.join('')).toContain('ApiSecret = ****  [given]');
    expect(read(dotenv, 'utf8')).toBe('');
    expect(err.join('')).toContain(
      'output Echo left out of the dotenv report: its name or value looks secret',
    );
    rmSync(dotenv);
  });

  it('says the stack changed when only its outputs could not be written, and not when nothing changed', async () => {
    // A directory where the report should go: the write fails after the stack operation.
    const unwritable = join(ROOT, 'test');
    cfnMock
      .on(DescribeStacksCommand)
      .rejectsOnce(notFound)
      .resolves({
        Stacks: [stack('CREATE_COMPLETE', { Outputs: [{ OutputKey: 'Queue', OutputValue: 'q' }] })],
      });
    changeSetReady();
    const created = await run(options({ outputsDotenv: unwritable })).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(created?.message).toMatch(/EISDIR/);
    expect(hintsOf(created)).toEqual(['stack fleet is CREATE_COMPLETE; only the outputs were not written']);

    // No changes: the stack is as it was, so there is nothing to add to the error.
    cfnMock.reset();
    cfnMock.on(DescribeStackEventsCommand).resolves({ StackEvents: [] });
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [stack('UPDATE_COMPLETE')] });
    changeSetWithoutChanges();
    const unchanged = await run(options({ outputsDotenv: unwritable, parameterValues: new Map() })).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(unchanged?.message).toMatch(/EISDIR/);
    expect(hintsOf(unchanged)).toEqual([]);
    expect(out.join('')).toContain('No changes: stack fleet is up to date.');
  });

  it('deletes a ROLLBACK_COMPLETE stack and creates it again', async () => {
    cfnMock
      .on(DescribeStacksCommand)
      .resolvesOnce({ Stacks: [stack('ROLLBACK_COMPLETE')] })
      .resolvesOnce({ Stacks: [stack('DELETE_IN_PROGRESS')] })
      .rejectsOnce(notFound)
      .resolves({ Stacks: [stack('CREATE_COMPLETE')] });
    cfnMock.on(DeleteStackCommand).resolves({});
    changeSetReady();

    await expect(run()).resolves.toBe('created');
    expect(cfnMock.commandCalls(DeleteStackCommand)[0]?.args[0].input).toEqual({
      StackName: STACK_ID,
      ClientRequestToken: expect.any(String),
    });
    expect(cfnMock.commandCalls(CreateChangeSetCommand)[0]?.args[0].input.ChangeSetType).toBe('CREATE');
    expect(out.join('')).toContain('is ROLLBACK_COMPLETE (its first create failed): deleting it');
  });

  it('fails when the create rolls back, naming the failed resource first', async () => {
    cfnMock
      .on(DescribeStacksCommand)
      .rejectsOnce(notFound)
      .resolves({ Stacks: [stack('ROLLBACK_COMPLETE')] });
    changeSetReady();
    cfnMock
      .on(DescribeStackEventsCommand)
      .resolvesOnce({ StackEvents: [] })
      .resolves({
        StackEvents: [
          event('9', 'fleet', 'ROLLBACK_COMPLETE'),
          event('8', 'Other', 'CREATE_FAILED', 'Resource creation cancelled'),
          event('7', 'Queue', 'CREATE_FAILED', 'Queue name already taken'),
        ],
      });
    const failure = await run().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(OperationError);
    expect((failure as OperationError).message).toBe(
      'stack fleet ended in ROLLBACK_COMPLETE, not CREATE_COMPLETE',
    );
    expect((failure as OperationError).details).toEqual([
      'Queue (AWS::SQS::Queue) CREATE_FAILED: Queue name already taken',
    ]);
    expect((failure as OperationError).exitCode).toBe(1);
  });
});

describe('deploy: updating', () => {
  it('keeps previous values for parameters not given and succeeds on UPDATE_COMPLETE', async () => {
    cfnMock
      .on(DescribeStacksCommand)
      .resolvesOnce({ Stacks: [stack('UPDATE_COMPLETE')] })
      .resolves({ Stacks: [stack('UPDATE_COMPLETE')] });
    changeSetReady();
    await expect(run()).resolves.toBe('updated');
    const input = cfnMock.commandCalls(CreateChangeSetCommand)[0]?.args[0].input;
    expect(input?.ChangeSetType).toBe('UPDATE');
    expect(input?.Parameters).toEqual([
      { ParameterKey: 'ApiSecret', UsePreviousValue: true },
      { ParameterKey: 'Environment', ParameterValue: 'prod' },
      { ParameterKey: 'QueueSuffix', UsePreviousValue: true },
    ]);
    expect(out.join('')).toContain('> Queue AWS::SQS::Queue (replacement: True)');
  });

  it.each([['UPDATE_ROLLBACK_COMPLETE'], ['UPDATE_FAILED'], ['IMPORT_ROLLBACK_COMPLETE']])(
    'treats %s at the end as a failure',
    async (finalStatus) => {
      cfnMock
        .on(DescribeStacksCommand)
        .resolvesOnce({ Stacks: [stack('UPDATE_COMPLETE')] })
        .resolves({ Stacks: [stack(finalStatus)] });
      changeSetReady();
      await expect(run()).rejects.toThrow(`stack fleet ended in ${finalStatus}, not UPDATE_COMPLETE`);
    },
  );

  it('reports "no changes" for a change set AWS failed for having none, and deletes it', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [stack('UPDATE_COMPLETE')] });
    changeSetWithoutChanges();
    await expect(run()).resolves.toBe('no-changes');
    expect(cfnMock.commandCalls(DeleteChangeSetCommand)).toHaveLength(1);
    expect(cfnMock.commandCalls(ExecuteChangeSetCommand)).toHaveLength(0);
    expect(out.join('').match(/No changes/g)).toHaveLength(1);
  });

  it('reports "no changes" when an empty change set matches the deployed template and values', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [stack('UPDATE_COMPLETE')] });
    changeSetReady(0);
    cfnMock.on(GetTemplateCommand).resolves({ TemplateBody: template.body });
    cfnMock.on(DeleteChangeSetCommand).resolves({});
    await expect(run(options({ parameterValues: new Map([['Environment', 'test']]) }))).resolves.toBe(
      'no-changes',
    );
    expect(cfnMock.commandCalls(ExecuteChangeSetCommand)).toHaveLength(0);
  });

  it('executes an empty change set when a parameter value differs (parameter-only update)', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [stack('UPDATE_COMPLETE')] });
    changeSetReady(0);
    cfnMock.on(GetTemplateCommand).resolves({ TemplateBody: template.body });
    await expect(run()).resolves.toBe('updated');
    expect(cfnMock.commandCalls(ExecuteChangeSetCommand)).toHaveLength(1);
  });

  it('fails a change set that FAILED for another reason, with the reason', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [stack('UPDATE_COMPLETE')] });
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: CHANGE_SET_ID, StackId: STACK_ID });
    cfnMock
      .on(DescribeChangeSetCommand)
      .resolves({ Status: 'FAILED', StatusReason: 'Parameter X is invalid' });
    cfnMock.on(DeleteChangeSetCommand).resolves({});
    const failure = await run().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(OperationError);
    expect((failure as OperationError).details).toEqual(['Parameter X is invalid']);
    // The failed change set is not left behind.
    expect(cfnMock.commandCalls(DeleteChangeSetCommand)).toHaveLength(1);
  });

  it('reports all missing required parameters together as an input error', async () => {
    cfnMock.on(DescribeStacksCommand).rejects(notFound);
    const strict = parseTemplate(
      'strict.yaml',
      'Parameters:\n  A: {Type: String}\n  B: {Type: String}\nResources:\n  Q: {Type: AWS::SQS::Queue}\n',
    );
    const failure = await run(options({ template: strict, parameterValues: new Map() })).catch(
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(InputError);
    expect((failure as InputError).problems).toEqual([
      'missing value for parameters A, B: pass --parameter KEY=VALUE or add it to --parameters FILE',
    ]);
    expect(cfnMock.commandCalls(CreateChangeSetCommand)).toHaveLength(0);
  });
});

describe('deploy: stacks that are busy or stuck', () => {
  it('waits for an operation already running, then deploys', async () => {
    cfnMock
      .on(DescribeStacksCommand)
      .resolvesOnce({ Stacks: [stack('UPDATE_IN_PROGRESS')] })
      .resolvesOnce({ Stacks: [stack('UPDATE_IN_PROGRESS')] })
      .resolvesOnce({ Stacks: [stack('UPDATE_COMPLETE_CLEANUP_IN_PROGRESS')] })
      .resolves({ Stacks: [stack('UPDATE_COMPLETE')] });
    changeSetReady();
    await expect(run()).resolves.toBe('updated');
    expect(out.join('')).toContain('Stack fleet is UPDATE_IN_PROGRESS: waiting up to 30 minutes');
    expect(out.join('')).toContain('Stack fleet is now UPDATE_COMPLETE');
  });

  it('gives up waiting for another operation after the bound, without deploying', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [stack('UPDATE_IN_PROGRESS')] });
    await expect(run(options({ waitForOtherOperationMinutes: 1 }))).rejects.toThrow(
      'stack fleet is still UPDATE_IN_PROGRESS after 1 minutes',
    );
    expect(cfnMock.commandCalls(CreateChangeSetCommand)).toHaveLength(0);
  });

  it.each([
    ['UPDATE_ROLLBACK_FAILED', 'continue-update-rollback'],
    ['DELETE_FAILED', '--retain-resources'],
    ['ROLLBACK_FAILED', 'delete-stack'],
  ])('stops on %s with advice and changes nothing', async (status, advice) => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [stack(status)] });
    const failure = await run().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(OperationError);
    expect((failure as OperationError).message).toBe(`stack fleet is ${status} and cannot be deployed to`);
    expect((failure as OperationError).details.join(' ')).toContain(advice);
    expect((failure as OperationError).details.join(' ')).toContain('--stack-name fleet');
    expect(cfnMock.commandCalls(CreateChangeSetCommand)).toHaveLength(0);
    expect(cfnMock.commandCalls(DeleteStackCommand)).toHaveLength(0);
  });

  it('times out a stack operation that does not end, saying what to do', async () => {
    cfnMock
      .on(DescribeStacksCommand)
      .resolvesOnce({ Stacks: [stack('UPDATE_COMPLETE')] })
      .resolves({ Stacks: [stack('UPDATE_IN_PROGRESS')] });
    changeSetReady();
    const failure = await run(options({ timeoutMinutes: 2 })).catch((error: unknown) => error);
    expect((failure as OperationError).message).toBe(
      'stack fleet is still UPDATE_IN_PROGRESS after 2 minutes',
    );
    expect(cfnMock.commandCalls(CancelUpdateStackCommand)).toHaveLength(0);
  });

  it('looks at once after execute: on an endpoint that finishes at once, a deploy sleeps not at all', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [stack('UPDATE_COMPLETE')] });
    changeSetReady();
    await expect(run()).resolves.toBe('updated');
    expect(clock.sleeps).toEqual([]);
  });

  it('polls with backoff from 0.5 s up to 1.5 s, so the end is seen within 1.5 s', async () => {
    cfnMock
      .on(DescribeStacksCommand)
      .resolvesOnce({ Stacks: [stack('UPDATE_COMPLETE')] })
      .resolvesOnce({ Stacks: [stack('UPDATE_IN_PROGRESS')] })
      .resolvesOnce({ Stacks: [stack('UPDATE_IN_PROGRESS')] })
      .resolvesOnce({ Stacks: [stack('UPDATE_IN_PROGRESS')] })
      .resolvesOnce({ Stacks: [stack('UPDATE_IN_PROGRESS')] })
      .resolvesOnce({ Stacks: [stack('UPDATE_IN_PROGRESS')] })
      .resolvesOnce({ Stacks: [stack('UPDATE_IN_PROGRESS')] })
      .resolves({ Stacks: [stack('UPDATE_COMPLETE')] });
    changeSetReady();
    await run();
    expect(clock.sleeps).toEqual([500, 750, 1125, 1500, 1500, 1500]);
  });

  it('over a ten-minute update: at most one DescribeStacks a second, and the end seen within 1.5 s', async () => {
    const updateMs = 10 * 60_000;
    let executedAt = 0;
    let describes = 0;
    cfnMock.on(ExecuteChangeSetCommand).callsFake(() => {
      executedAt = clock.now();
      return {};
    });
    cfnMock.on(DescribeStacksCommand).callsFake(() => {
      if (executedAt === 0) return { Stacks: [stack('UPDATE_COMPLETE')] };
      describes += 1;
      const done = clock.now() - executedAt >= updateMs;
      return { Stacks: [stack(done ? 'UPDATE_COMPLETE' : 'UPDATE_IN_PROGRESS')] };
    });
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: CHANGE_SET_ID, StackId: STACK_ID });
    cfnMock
      .on(DescribeChangeSetCommand)
      .resolves({ Status: 'CREATE_COMPLETE', ExecutionStatus: 'AVAILABLE', Changes: [] });
    cfnMock.on(GetTemplateCommand).resolves({ TemplateBody: 'Resources: {}' });
    await run();
    const seenAfterMs = clock.now() - executedAt - updateMs;
    expect(seenAfterMs).toBeLessThanOrEqual(1_500);
    expect(describes / ((clock.now() - executedAt) / 1000)).toBeLessThanOrEqual(1);
  });
});

describe('deploy: interrupted', () => {
  it('deletes the pending change set (and the empty stack holding it) when interrupted before executing', async () => {
    const controller = new AbortController();
    cfnMock.on(DescribeStacksCommand).rejects(notFound);
    cfnMock.on(CreateChangeSetCommand).callsFake(() => {
      controller.abort(new Error('SIGTERM'));
      return { Id: CHANGE_SET_ID, StackId: STACK_ID };
    });
    // The empty stack CloudFormation made for the change set, read by its id before it is deleted.
    cfnMock.on(DescribeStacksCommand, { StackName: STACK_ID }).resolves({
      Stacks: [
        { StackName: 'x', StackId: STACK_ID, StackStatus: 'REVIEW_IN_PROGRESS', CreationTime: new Date() },
      ],
    });
    cfnMock.on(ListChangeSetsCommand).resolves({ Summaries: [{ ChangeSetId: CHANGE_SET_ID }] });
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'CREATE_PENDING' });
    cfnMock.on(DeleteStackCommand).resolves({});
    const failure = await run(options(), controller.signal).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(InterruptedError);
    expect((failure as InterruptedError).exitCode).toBe(130);
    expect(cfnMock.commandCalls(ExecuteChangeSetCommand)).toHaveLength(0);
    expect(cfnMock.commandCalls(DeleteStackCommand)[0]?.args[0].input).toEqual({
      StackName: STACK_ID,
      ClientRequestToken: expect.any(String),
    });
    expect(out.join('')).toContain('Deleted the pending change set and the empty stack fleet');
  });

  it('deletes only the change set when interrupted before executing an update', async () => {
    const controller = new AbortController();
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [stack('UPDATE_COMPLETE')] });
    cfnMock.on(CreateChangeSetCommand).callsFake(() => {
      controller.abort(new Error('SIGINT'));
      return { Id: CHANGE_SET_ID, StackId: STACK_ID };
    });
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'CREATE_PENDING' });
    cfnMock.on(DeleteChangeSetCommand).resolves({});
    await expect(run(options(), controller.signal)).rejects.toBeInstanceOf(InterruptedError);
    expect(cfnMock.commandCalls(DeleteChangeSetCommand)[0]?.args[0].input).toEqual({
      ChangeSetName: CHANGE_SET_ID,
      StackName: 'fleet',
    });
    expect(cfnMock.commandCalls(DeleteStackCommand)).toHaveLength(0);
  });

  it('cancels an update in progress when interrupted, and says the stack rolls back', async () => {
    const controller = new AbortController();
    let calls = 0;
    cfnMock.on(DescribeStacksCommand).callsFake(() => {
      calls += 1;
      if (calls === 1) return { Stacks: [stack('UPDATE_COMPLETE')] };
      controller.abort(new Error('SIGTERM'));
      return { Stacks: [stack('UPDATE_IN_PROGRESS')] };
    });
    changeSetReady();
    cfnMock.on(CancelUpdateStackCommand).resolves({});
    await expect(run(options(), controller.signal)).rejects.toBeInstanceOf(InterruptedError);
    expect(cfnMock.commandCalls(CancelUpdateStackCommand)[0]?.args[0].input).toEqual({
      StackName: STACK_ID,
      ClientRequestToken: expect.any(String),
    });
    expect(err.join('')).toContain('cancelled the update of fleet; CloudFormation rolls it back');
  });

  it('leaves a create in progress alone when interrupted, and says so', async () => {
    const controller = new AbortController();
    let calls = 0;
    cfnMock.on(DescribeStacksCommand).callsFake(() => {
      calls += 1;
      if (calls === 1) throw notFound;
      controller.abort(new Error('SIGTERM'));
      return { Stacks: [stack('CREATE_IN_PROGRESS')] };
    });
    changeSetReady();
    await expect(run(options(), controller.signal)).rejects.toBeInstanceOf(InterruptedError);
    expect(cfnMock.commandCalls(CancelUpdateStackCommand)).toHaveLength(0);
    expect(err.join('')).toContain('the creation of fleet cannot be cancelled and goes on in CloudFormation');
  });
});
