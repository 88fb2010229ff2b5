/** Creating and discarding change sets, shared by deploy and preview. */
import {
  CloudFormationClient,
  CreateChangeSetCommand,
  DeleteChangeSetCommand,
  DeleteStackCommand,
  DescribeChangeSetCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
  GetTemplateCommand,
  ListChangeSetsCommand,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseTemplate } from '../../scripts/config/template.ts';
import { hintsOf, InputError, OperationError } from '../../scripts/errors.ts';
import {
  type ChangeSetPlan,
  changeSetName,
  concurrentChange,
  createAndAwait,
  createChangeSetFor,
  discardChangeSet,
  executeChangeSetOnce,
  waitForChangeSet,
} from '../../scripts/stack/change-set.ts';
import { fakeClock } from '../support/fake-clock.ts';
import { captureLog } from '../support/log-capture.ts';

const cfnMock = mockClient(CloudFormationClient);
let client: CloudFormationClient;
let out: string[];
const log = () => captureLog(out);
const pending = (stackCreatedForIt: boolean) => ({
  id: 'cs-1',
  stackId: 'arn:stack/fleet',
  stackCreatedForIt,
});

beforeEach(() => {
  cfnMock.reset();
  client = new CloudFormationClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  out = [];
});
afterEach(() => client.destroy());

describe('discardChangeSet', () => {
  const reviewStack = () => {
    cfnMock.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'fleet',
          StackId: 'arn:stack/fleet',
          StackStatus: 'REVIEW_IN_PROGRESS',
          CreationTime: new Date(),
        },
      ],
    });
    cfnMock.on(ListChangeSetsCommand).resolves({ Summaries: [{ ChangeSetId: 'cs-1' }] });
  };

  it('for a new stack deletes the change set and the empty stack that holds it', async () => {
    reviewStack();
    cfnMock.on(DeleteChangeSetCommand).resolves({});
    cfnMock.on(DeleteStackCommand).resolves({});
    await discardChangeSet(client, log(), 'fleet', pending(true), fakeClock());
    expect(cfnMock.commandCalls(DeleteStackCommand)[0]?.args[0].input).toEqual({
      StackName: 'arn:stack/fleet',
      ClientRequestToken: expect.stringMatching(/^runner-fleet-delete-[0-9a-f-]{36}$/),
    });
    expect(out.join('')).toContain('Deleted the pending change set and the empty stack fleet that held it');
  });

  it('for a new stack still deletes the stack when the change set cannot be deleted yet', async () => {
    reviewStack();
    cfnMock
      .on(DeleteChangeSetCommand)
      .rejects(Object.assign(new Error('still computing'), { name: 'InvalidChangeSetStatus' }));
    cfnMock.on(DeleteStackCommand).resolves({});
    await discardChangeSet(client, log(), 'fleet', pending(true), fakeClock());
    expect(cfnMock.commandCalls(DeleteStackCommand)).toHaveLength(1);
  });

  it("keeps a new stack that also holds another deploy's change set, and deletes only ours", async () => {
    reviewStack();
    cfnMock
      .on(ListChangeSetsCommand)
      .resolves({ Summaries: [{ ChangeSetId: 'cs-1' }, { ChangeSetId: 'cs-2' }] });
    cfnMock.on(DeleteChangeSetCommand).resolves({});
    await discardChangeSet(client, log(), 'fleet', pending(true), fakeClock());
    expect(cfnMock.commandCalls(DeleteStackCommand)).toHaveLength(0);
    expect(cfnMock.commandCalls(DeleteChangeSetCommand)[0]?.args[0].input.ChangeSetName).toBe('cs-1');
    expect(out.join('')).toContain("holds another deploy's change set too");
  });

  it('keeps a new stack that another deploy has executed meanwhile', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'fleet',
          StackId: 'arn:stack/fleet',
          StackStatus: 'CREATE_IN_PROGRESS',
          CreationTime: new Date(),
        },
      ],
    });
    cfnMock.on(DeleteChangeSetCommand).resolves({});
    await discardChangeSet(client, log(), 'fleet', pending(true), fakeClock());
    expect(cfnMock.commandCalls(DeleteStackCommand)).toHaveLength(0);
    expect(out.join('')).toContain('fleet is CREATE_IN_PROGRESS now');
  });

  it('keeps a new stack when what it holds cannot be listed', async () => {
    reviewStack();
    cfnMock.on(ListChangeSetsCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
    cfnMock.on(DeleteChangeSetCommand).resolves({});
    await discardChangeSet(client, log(), 'fleet', pending(true), fakeClock());
    expect(cfnMock.commandCalls(DeleteStackCommand)).toHaveLength(0);
    expect(out.join('')).toContain('could not check what fleet holds');
  });

  it('waits for a change set that is still being computed, then deletes it', async () => {
    cfnMock
      .on(DeleteChangeSetCommand)
      .rejectsOnce(Object.assign(new Error('in progress'), { name: 'InvalidChangeSetStatus' }))
      .resolves({});
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'CREATE_IN_PROGRESS' });
    const clock = fakeClock();
    await discardChangeSet(client, log(), 'fleet', pending(false), clock);
    expect(cfnMock.commandCalls(DeleteChangeSetCommand)).toHaveLength(2);
    expect(clock.sleeps).toEqual([2_000]);
    expect(out.join('')).toContain('Deleted the pending change set of fleet; the stack was not changed');
  });

  it('gives a change set that stays in computation a minute, trying every 2 s, then warns', async () => {
    cfnMock
      .on(DeleteChangeSetCommand)
      .rejects(Object.assign(new Error('in progress'), { name: 'InvalidChangeSetStatus' }));
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'CREATE_IN_PROGRESS' });
    const clock = fakeClock();
    await discardChangeSet(client, log(), 'fleet', pending(false), clock);
    expect(clock.sleeps).toEqual(Array(30).fill(2_000));
    expect(cfnMock.commandCalls(DeleteChangeSetCommand)).toHaveLength(31);
    expect(out.join('')).toContain('warning: could not delete change set cs-1 of fleet: in progress');
  });

  it('gives up with a warning naming the command to run, and never throws', async () => {
    cfnMock.on(DeleteChangeSetCommand).rejects(new Error('AccessDenied'));
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'CREATE_COMPLETE' });
    await expect(
      discardChangeSet(client, log(), 'fleet', pending(false), fakeClock()),
    ).resolves.toBeUndefined();
    expect(out.join('')).toContain(
      'warning: could not delete change set cs-1 of fleet: AccessDenied; delete it with aws cloudformation delete-change-set --stack-name fleet --change-set-name cs-1',
    );
  });
});

describe('createChangeSetFor', () => {
  const template = parseTemplate('t.yaml', 'Resources:\n  Q: {Type: AWS::SQS::Queue}\n');
  const request = {
    stackName: 'fleet',
    name: 'cs',
    type: 'UPDATE' as const,
    template,
    resolution: { parameters: [], problems: [] },
    tags: new Map<string, string>(),
    description: 'd',
  };

  it('reports an unchanged update refused at once as no changes', async () => {
    cfnMock
      .on(CreateChangeSetCommand)
      .rejects(Object.assign(new Error('No updates are to be performed.'), { name: 'ValidationError' }));
    await expect(createChangeSetFor(client, request)).resolves.toBe('no-changes');
  });

  it('turns any other ValidationError into an input error (exit 2)', async () => {
    cfnMock
      .on(CreateChangeSetCommand)
      .rejects(Object.assign(new Error('Template format error: bad'), { name: 'ValidationError' }));
    const error = await createChangeSetFor(client, request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).problems).toEqual([
      'CloudFormation rejected the request: Template format error: bad',
    ]);
  });

  it('passes other AWS errors through', async () => {
    cfnMock
      .on(CreateChangeSetCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    await expect(createChangeSetFor(client, request)).rejects.toThrow('Rate exceeded');
  });

  it('sends tags only when some are given, so a deploy without --tag keeps the stack tags', async () => {
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: 'cs', StackId: 's' });
    await createChangeSetFor(client, request);
    await createChangeSetFor(client, { ...request, tags: new Map([['team', 'platform']]) });
    const inputs = cfnMock.commandCalls(CreateChangeSetCommand).map((call) => call.args[0].input);
    expect(inputs[0]).not.toHaveProperty('Tags');
    expect(inputs[1]?.Tags).toEqual([{ Key: 'team', Value: 'platform' }]);
  });
});

const awsError = (name: string, message = name) => Object.assign(new Error(message), { name });
const stacks = (StackStatus: string, StackId = 'arn:stack/fleet/ours') => ({
  Stacks: [
    { StackName: 'fleet', StackId, StackStatus: StackStatus as StackStatusValue, CreationTime: new Date() },
  ],
});
type StackStatusValue = NonNullable<Stack['StackStatus']>;
const RACE = /another deploy \(or a person\) is changing it at the same time/;

describe('a lost answer or a race around a change set', () => {
  const template = parseTemplate('t.yaml', 'Resources:\n  Q: {Type: AWS::SQS::Queue}\n');
  const request = {
    stackName: 'fleet',
    name: 'runner-fleet-20261130-abc',
    type: 'CREATE' as const,
    template,
    resolution: { parameters: [], problems: [] },
    tags: new Map<string, string>(),
    description: 'd',
  };

  it('sends the change set name as ClientToken, so a retried create is the same request', async () => {
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: 'cs', StackId: 's' });
    await createChangeSetFor(client, request);
    expect(cfnMock.commandCalls(CreateChangeSetCommand)[0]?.args[0].input.ClientToken).toBe(request.name);
  });

  it('finds the change set by name when the create answer was lost', async () => {
    cfnMock.on(CreateChangeSetCommand).rejects(awsError('AlreadyExistsException'));
    cfnMock
      .on(DescribeChangeSetCommand, { ChangeSetName: request.name })
      .resolves({ ChangeSetId: 'arn:cs/1', StackId: 'arn:stack/fleet/ours', Status: 'CREATE_PENDING' });
    await expect(createChangeSetFor(client, request, log())).resolves.toEqual({
      changeSetId: 'arn:cs/1',
      stackId: 'arn:stack/fleet/ours',
    });
    expect(out.join('')).toContain('change set runner-fleet-20261130-abc exists: using it');
  });

  it('says another deploy got there first when the new stack appeared meanwhile', async () => {
    cfnMock.on(CreateChangeSetCommand).rejects(awsError('ValidationError', 'Stack [fleet] already exists'));
    cfnMock.on(DescribeChangeSetCommand).rejects(awsError('ChangeSetNotFound'));
    cfnMock.on(DescribeStacksCommand).resolves(stacks('CREATE_IN_PROGRESS', 'arn:stack/fleet/theirs'));
    const error = await createChangeSetFor(client, request).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(InputError);
    expect(hintsOf(error)).toEqual([expect.stringMatching(RACE)]);
  });

  it("tells its own REVIEW_IN_PROGRESS stack, and a deleted one, from someone else's", async () => {
    cfnMock.on(DescribeStacksCommand).resolves(stacks('REVIEW_IN_PROGRESS'));
    expect(await concurrentChange(client, request, 'arn:stack/fleet/ours')).toBeUndefined();
    cfnMock.on(DescribeStacksCommand).resolves(stacks('DELETE_COMPLETE'));
    expect(await concurrentChange(client, request, 'arn:stack/fleet/ours')).toBeUndefined();
    cfnMock.on(DescribeStacksCommand).resolves(stacks('REVIEW_IN_PROGRESS', 'arn:stack/fleet/theirs'));
    expect(await concurrentChange(client, request, 'arn:stack/fleet/ours')).toMatch(RACE);
    cfnMock.on(DescribeStacksCommand).resolves(stacks('UPDATE_COMPLETE'));
    expect(
      await concurrentChange(client, { ...request, type: 'UPDATE' }, 'arn:stack/fleet/ours'),
    ).toBeUndefined();
  });

  it('follows a change set whose execute answer was lost but which runs', async () => {
    cfnMock.on(ExecuteChangeSetCommand).rejects(awsError('InvalidChangeSetStatus'));
    cfnMock
      .on(DescribeChangeSetCommand)
      .resolves({ Status: 'CREATE_COMPLETE', ExecutionStatus: 'EXECUTE_IN_PROGRESS' });
    await executeChangeSetOnce(client, log(), request, {
      changeSetId: 'arn:cs/1',
      stackId: 'arn:stack/fleet/ours',
    });
    expect(cfnMock.commandCalls(ExecuteChangeSetCommand)[0]?.args[0].input.ClientRequestToken).toMatch(
      /^runner-fleet-execute-[0-9a-f-]{36}$/,
    );
    expect(out.join('')).toContain('but the change set is EXECUTE_IN_PROGRESS: following it');
  });

  it('passes an execute refusal on, with the race hint when another deploy runs', async () => {
    cfnMock.on(ExecuteChangeSetCommand).rejects(awsError('InvalidChangeSetStatus'));
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'CREATE_COMPLETE', ExecutionStatus: 'OBSOLETE' });
    cfnMock.on(DescribeStacksCommand).resolves(stacks('UPDATE_IN_PROGRESS'));
    const error = await executeChangeSetOnce(
      client,
      log(),
      { ...request, type: 'UPDATE' },
      {
        changeSetId: 'arn:cs/1',
        stackId: 'arn:stack/fleet/ours',
      },
    ).catch((e: unknown) => e);
    expect((error as Error).name).toBe('InvalidChangeSetStatus');
    expect(hintsOf(error)).toEqual([expect.stringMatching(RACE)]);
  });
});

describe('waitForChangeSet', () => {
  it('stops at the first refusal instead of waiting out its time', async () => {
    cfnMock.on(DescribeChangeSetCommand).rejects(awsError('AccessDenied'));
    await expect(
      waitForChangeSet(client, 'fleet', 'cs', { maxWaitSeconds: 600, clock: fakeClock() }),
    ).rejects.toThrow('AccessDenied');
    expect(cfnMock.commandCalls(DescribeChangeSetCommand)).toHaveLength(1);
  });

  it('gives up after its longest wait with the status it saw', async () => {
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'CREATE_IN_PROGRESS' });
    const error = await waitForChangeSet(client, 'fleet', 'cs', {
      maxWaitSeconds: 60,
      clock: fakeClock(),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationError);
    expect((error as Error).message).toBe(
      'change set cs of fleet is still CREATE_IN_PROGRESS after 1 minutes',
    );
  });
});

describe('changeSetName', () => {
  it('is unique per run and says what it is for', () => {
    const now = new Date('2026-11-28T10:00:00Z');
    const a = changeSetName('deploy', now);
    expect(a).toMatch(/^runner-fleet-20261128100000-[0-9a-f]{6}$/);
    expect(changeSetName('preview', now)).toMatch(/^runner-fleet-preview-20261128100000-[0-9a-f]{6}$/);
    expect(changeSetName('deploy', now)).not.toBe(a);
  });
});

describe('createAndAwait', () => {
  const body = 'Resources:\n  Q: {Type: AWS::SQS::Queue}\n';
  const deployed: Stack = {
    StackName: 'fleet',
    StackId: 'arn:stack/fleet/ours',
    StackStatus: 'UPDATE_COMPLETE',
    CreationTime: new Date(),
  };
  const plan = (purpose: ChangeSetPlan['purpose']): ChangeSetPlan => ({
    purpose,
    stackName: 'fleet',
    stack: deployed,
    type: 'UPDATE',
    template: parseTemplate('t.yaml', body),
    resolution: { parameters: [], problems: [] },
    tags: new Map(),
  });
  const emptyChangeSet = () => {
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: 'arn:cs/1', StackId: 'arn:stack/fleet/ours' });
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'CREATE_COMPLETE', Changes: [] });
    cfnMock.on(GetTemplateCommand).resolves({ TemplateBody: body });
  };

  it('says "no changes" for a change set refused at once as unchanged, with nothing to discard', async () => {
    cfnMock
      .on(CreateChangeSetCommand)
      .rejects(awsError('ValidationError', 'No updates are to be performed.'));
    const result = await createAndAwait(client, log(), plan('deploy'), { clock: fakeClock() });
    expect(result).toMatchObject({ kind: 'no-changes', outcome: undefined });
    expect(cfnMock.commandCalls(DeleteChangeSetCommand)).toHaveLength(0);
  });

  it('says "no changes" for a change set failed for having none, and deletes it', async () => {
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: 'arn:cs/1', StackId: 'arn:stack/fleet/ours' });
    cfnMock.on(DescribeChangeSetCommand).resolves({
      Status: 'FAILED',
      StatusReason: "The submitted information didn't contain changes.",
    });
    const result = await createAndAwait(client, log(), plan('preview'), { clock: fakeClock() });
    expect(result).toMatchObject({ kind: 'no-changes', outcome: { status: 'FAILED' } });
    expect(cfnMock.commandCalls(DeleteChangeSetCommand)).toHaveLength(1);
  });

  it('for a deploy, takes an empty change set of the deployed template and values as "no changes"', async () => {
    emptyChangeSet();
    const result = await createAndAwait(client, log(), plan('deploy'), { clock: fakeClock() });
    expect(result.kind).toBe('no-changes');
    expect(cfnMock.commandCalls(DeleteChangeSetCommand)).toHaveLength(1);
  });

  it('for a preview, reports an empty change set as it is, without reading the deployed template', async () => {
    emptyChangeSet();
    const result = await createAndAwait(client, log(), plan('preview'), { clock: fakeClock() });
    expect(result).toMatchObject({ kind: 'changes', changeSet: { pending: { id: 'arn:cs/1' } } });
    expect(cfnMock.commandCalls(GetTemplateCommand)).toHaveLength(0);
    expect(cfnMock.commandCalls(DeleteChangeSetCommand)).toHaveLength(0);
  });

  it('fails a change set that ended otherwise with its reason, after deleting it', async () => {
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: 'arn:cs/1', StackId: 'arn:stack/fleet/ours' });
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'FAILED', StatusReason: 'Template error: bad' });
    const error = await createAndAwait(client, log(), plan('deploy'), { clock: fakeClock() }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OperationError);
    expect((error as OperationError).details).toEqual(['Template error: bad']);
    expect(cfnMock.commandCalls(DeleteChangeSetCommand)).toHaveLength(1);
  });

  it('deletes the change set when the wait fails, and adds the race hint when the stack moved', async () => {
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: 'arn:cs/1', StackId: 'arn:stack/fleet/ours' });
    cfnMock.on(DescribeChangeSetCommand).rejects(awsError('ValidationError', 'Stack [fleet] does not exist'));
    cfnMock.on(DescribeStacksCommand).resolves(stacks('UPDATE_IN_PROGRESS'));
    const error = await createAndAwait(client, log(), plan('deploy'), { clock: fakeClock() }).catch(
      (e: unknown) => e,
    );
    expect(hintsOf(error)).toEqual([expect.stringMatching(RACE)]);
    expect(cfnMock.commandCalls(DeleteChangeSetCommand)).toHaveLength(1);
  });
});
