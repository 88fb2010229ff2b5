/**
 * The preview flow against a mocked CloudFormation client, fed with the
 * recorded-shape scenarios: pagination with property values, clean-up of the
 * change set (also on SIGINT/SIGTERM), reports written before the gate.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CloudFormationClient,
  CreateChangeSetCommand,
  DeleteChangeSetCommand,
  DeleteStackCommand,
  DescribeChangeSetCommand,
  DescribeStacksCommand,
  ListChangeSetsCommand,
} from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type PreviewOptions, preview } from '../../scripts/commands/preview.ts';
import { mergeRequestSettings } from '../../scripts/commands/preview-command.ts';
import { parseTemplate } from '../../scripts/config/template.ts';
import { GateError, InputError, InterruptedError } from '../../scripts/errors.ts';
import { captureLog } from '../support/log-capture.ts';
import { expectGolden, loadScenario, SCENARIO_INPUTS } from './preview-scenarios.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const template = parseTemplate(
  'cfn/runner-fleet.yaml',
  readFileSync(join(ROOT, 'cfn/runner-fleet.yaml'), 'utf8'),
);
const CHANGE_SET_ID = 'arn:aws:cloudformation:eu-west-1:123456789012:changeSet/cs/0f6c';
const STACK_ID = 'arn:aws:cloudformation:eu-west-1:123456789012:stack/fleet-prod/5b1f';
const notFound = Object.assign(new Error('Stack with id fleet-prod does not exist'), {
  name: 'ValidationError',
});

const cfnMock = mockClient(CloudFormationClient);
let client: CloudFormationClient;
let out: string[];
let err: string[];
const dir = mkdtempSync(join(tmpdir(), 'rf-preview-unit-'));

function options(scenario: string, overrides: Partial<PreviewOptions> = {}): PreviewOptions {
  return {
    stackName: 'fleet-prod',
    template,
    parameterValues: new Map(Object.entries(SCENARIO_INPUTS[scenario] ?? {})),
    tags: new Map(),
    markdownFile: join(dir, `${scenario}.md`),
    terraformReportFile: join(dir, `${scenario}.json`),
    keepChangeSet: false,
    gate: {
      failOnReplacement: false,
      failOnPermissions: false,
      allowReplacement: false,
      allowPermissionChanges: false,
    },
    mergeRequest: undefined,
    ...overrides,
  };
}

function run(opts: PreviewOptions, signal?: AbortSignal) {
  const log = captureLog(out, err);
  return preview(opts, { cloudFormation: client, log, ...(signal ? { signal } : {}) });
}

/** Serves a scenario: its stack, and its change set pages chained by NextToken. */
function serve(scenario: string) {
  const { stack, pages } = loadScenario(scenario);
  cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [stack] });
  cfnMock.on(CreateChangeSetCommand).resolves({ Id: CHANGE_SET_ID, StackId: STACK_ID });
  pages.forEach((page, index) => {
    const token = index === 0 ? undefined : pages[index - 1]?.NextToken;
    cfnMock.on(DescribeChangeSetCommand, token ? { NextToken: token } : {}).resolves(page);
  });
  cfnMock.on(DeleteChangeSetCommand).resolves({});
}

/** The change set name is random per run; goldens carry the recorded one. */
function normalised(markdown: string, scenario: string): string {
  const recorded = loadScenario(scenario).pages[0]?.ChangeSetName ?? '';
  return markdown.replace(/runner-fleet-preview-\d{14}-[0-9a-f]{6}/g, recorded);
}

beforeEach(() => {
  cfnMock.reset();
  client = new CloudFormationClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  out = [];
  err = [];
});
afterEach(() => client.destroy());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('preview of an update', () => {
  it('reads every page with property values, deletes the change set and writes both reports', async () => {
    serve('ami-change');
    const report = await run(options('ami-change'));

    const create = cfnMock.commandCalls(CreateChangeSetCommand)[0]?.args[0].input;
    expect(create?.ChangeSetType).toBe('UPDATE');
    expect(create?.ChangeSetName).toMatch(/^runner-fleet-preview-\d{14}-[0-9a-f]{6}$/);
    expect(create?.Parameters).toContainEqual({ ParameterKey: 'RunnerVersion', ParameterValue: '17.11.1' });
    expect(create?.Parameters).toContainEqual({ ParameterKey: 'ImageIdParameter', UsePreviousValue: true });
    const reads = cfnMock.commandCalls(DescribeChangeSetCommand).map((call) => call.args[0].input);
    // The waiter polls without property values; the full read asks for them, two pages here (the
    // SDK paginator reuses one input object, so the token is checked on the last call only).
    const fullReads = reads.filter((input) => input.IncludePropertyValues === true);
    expect(fullReads).toHaveLength(2);
    expect(fullReads[1]?.NextToken).toBe('eyJwYWdlIjoyfQ==');
    expect(cfnMock.commandCalls(DeleteChangeSetCommand).map((call) => call.args[0].input)).toEqual([
      { ChangeSetName: CHANGE_SET_ID, StackName: 'fleet-prod' },
    ]);
    expect(cfnMock.commandCalls(DeleteStackCommand)).toHaveLength(0);
    expect(report.resources.map((r) => r.logicalId)).toEqual(['LaunchTemplate', 'AutoScalingGroup']);

    const markdown = readFileSync(join(dir, 'ami-change.md'), 'utf8');
    expectGolden('preview-ami-change', normalised(markdown, 'ami-change'));
    expect(readFileSync(join(dir, 'ami-change.json'), 'utf8')).toBe('{"create":0,"update":2,"delete":0}\n');
    const log = out.join('');
    expect(log).toContain('--- Preview report (Markdown)\n### runner-fleet preview: `fleet-prod` (update)\n');
    expect(log).toContain('Deleted the pending change set of fleet-prod; the stack was not changed');
    expect(log).toContain(
      'Preview of fleet-prod: 0 to add, 2 to modify, 0 to remove; 2 parameters changed; rolls every runner\n',
    );
  });

  it('keeps the change set with --keep-change-set and says how to delete it', async () => {
    serve('instance-type-change');
    await run(options('instance-type-change', { keepChangeSet: true }));
    expect(cfnMock.commandCalls(DeleteChangeSetCommand)).toHaveLength(0);
    expect(out.join('')).toMatch(
      /Kept change set (runner-fleet-preview-\S+): .*delete-change-set --stack-name fleet-prod --change-set-name \1\n/,
    );
    expect(readFileSync(join(dir, 'instance-type-change.md'), 'utf8')).toContain('was kept for review');
  });

  it('refuses a replacement with exit 3 after writing the reports', async () => {
    serve('asg-replacement');
    const failure = await run(
      options('asg-replacement', {
        gate: {
          failOnReplacement: true,
          failOnPermissions: false,
          allowReplacement: false,
          allowPermissionChanges: false,
        },
      }),
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(GateError);
    expect((failure as GateError).exitCode).toBe(3);
    expect((failure as GateError).message).toBe(
      'preview gate: the change replaces the Auto Scaling Group (AutoScalingGroup replacement True); if that is intended, run again with --allow-replacement',
    );
    expect(readFileSync(join(dir, 'asg-replacement.json'), 'utf8')).toBe(
      '{"create":1,"update":2,"delete":1}\n',
    );
    expect(readFileSync(join(dir, 'asg-replacement.md'), 'utf8')).toContain('**Preview gate refused:**');
    expect(cfnMock.commandCalls(DeleteChangeSetCommand)).toHaveLength(1);
  });

  it('lets an allowed permission change through with a warning', async () => {
    serve('iam-change');
    await run(
      options('iam-change', {
        gate: {
          failOnReplacement: true,
          failOnPermissions: true,
          allowReplacement: false,
          allowPermissionChanges: true,
        },
      }),
    );
    expect(err.join('')).toBe(
      'warning: preview gate: permission changes (InstancePolicy, parameter RunnerTokenParameterName) allowed by --allow-permission-changes\n',
    );
  });

  it('reports no changes when AWS fails the change set for having none, and deletes it', async () => {
    const { stack } = loadScenario('ami-change');
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [stack] });
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: CHANGE_SET_ID, StackId: STACK_ID });
    cfnMock.on(DescribeChangeSetCommand).resolves({
      Status: 'FAILED',
      StatusReason:
        "The submitted information didn't contain changes. Submit different information to create a change set.",
      Parameters: stack.Parameters,
    });
    cfnMock.on(DeleteChangeSetCommand).resolves({});
    await run(options('none', { keepChangeSet: true }));
    expect(cfnMock.commandCalls(DeleteChangeSetCommand)).toHaveLength(1);
    expect(readFileSync(join(dir, 'none.md'), 'utf8')).toContain(
      'No changes: `cfn/runner-fleet.yaml` matches the deployed stack.',
    );
    expect(readFileSync(join(dir, 'none.json'), 'utf8')).toBe('{"create":0,"update":0,"delete":0}\n');
  });
});

describe('preview of a new stack', () => {
  it('deletes the change set and the empty REVIEW_IN_PROGRESS stack it created', async () => {
    cfnMock.on(DescribeStacksCommand).rejects(notFound);
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: CHANGE_SET_ID, StackId: STACK_ID });
    cfnMock.on(DescribeChangeSetCommand).resolves({
      Status: 'CREATE_COMPLETE',
      Changes: [
        {
          Type: 'Resource',
          ResourceChange: {
            Action: 'Add',
            LogicalResourceId: 'InstanceRole',
            ResourceType: 'AWS::IAM::Role',
          },
        },
        {
          Type: 'Resource',
          ResourceChange: {
            Action: 'Add',
            LogicalResourceId: 'LaunchTemplate',
            ResourceType: 'AWS::EC2::LaunchTemplate',
          },
        },
      ],
    });
    // The empty stack CloudFormation made for the change set, read by its id before it is deleted.
    cfnMock.on(DescribeStacksCommand, { StackName: STACK_ID }).resolves({
      Stacks: [
        { StackName: 'x', StackId: STACK_ID, StackStatus: 'REVIEW_IN_PROGRESS', CreationTime: new Date() },
      ],
    });
    cfnMock.on(ListChangeSetsCommand).resolves({ Summaries: [{ ChangeSetId: CHANGE_SET_ID }] });
    cfnMock.on(DeleteChangeSetCommand).resolves({});
    cfnMock.on(DeleteStackCommand).resolves({});
    const report = await run(
      options('create', {
        parameterValues: new Map([
          ['RunnerConfigBundleUrl', 'https://example.com/b.tar.gz'],
          ['RunnerConfigBundleSha256', 'a'.repeat(64)],
          ['VpcId', 'vpc-1'],
          ['SubnetIds', 'subnet-1'],
        ]),
      }),
    );
    expect(cfnMock.commandCalls(CreateChangeSetCommand)[0]?.args[0].input.ChangeSetType).toBe('CREATE');
    expect(cfnMock.commandCalls(DeleteStackCommand)[0]?.args[0].input).toEqual({
      StackName: STACK_ID,
      ClientRequestToken: expect.any(String),
    });
    expect(report.effects).toEqual(['permissions']);
    expect(report.parameters).toEqual([]);
    expect(readFileSync(join(dir, 'create.json'), 'utf8')).toBe('{"create":2,"update":0,"delete":0}\n');
  });
});

describe('preview interrupted', () => {
  it.each([['SIGINT'], ['SIGTERM']])('deletes the pending change set on %s', async (signalName) => {
    const controller = new AbortController();
    const { stack } = loadScenario('ami-change');
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [stack] });
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: CHANGE_SET_ID, StackId: STACK_ID });
    cfnMock.on(DescribeChangeSetCommand).callsFake(() => {
      controller.abort(new Error(signalName));
      return { Status: 'CREATE_PENDING' };
    });
    cfnMock.on(DeleteChangeSetCommand).resolves({});
    const failure = await run(options('ami-change'), controller.signal).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(InterruptedError);
    expect((failure as InterruptedError).exitCode).toBe(130);
    expect(cfnMock.commandCalls(DeleteChangeSetCommand).map((call) => call.args[0].input)).toEqual([
      { ChangeSetName: CHANGE_SET_ID, StackName: 'fleet-prod' },
    ]);
  });
});

describe('preview input', () => {
  it('turns a ValidationError from CloudFormation into an input error', async () => {
    const { stack } = loadScenario('ami-change');
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [stack] });
    cfnMock.on(CreateChangeSetCommand).rejects(
      Object.assign(new Error('Template format error: Unresolved resource dependencies'), {
        name: 'ValidationError',
      }),
    );
    const failure = await run(options('ami-change')).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(InputError);
    expect((failure as InputError).problems).toEqual([
      'CloudFormation rejected the request: Template format error: Unresolved resource dependencies',
    ]);
  });

  it('names every missing GitLab setting for --mr-note in one line', () => {
    expect(mergeRequestSettings({}, {})).toEqual({
      missing:
        '--mr-note needs CI_API_V4_URL (or --gitlab-url), CI_PROJECT_ID, CI_MERGE_REQUEST_IID, RUNNER_FLEET_GITLAB_TOKEN: run it in a merge request pipeline and set RUNNER_FLEET_GITLAB_TOKEN to a project or group access token with api scope (CI_JOB_TOKEN cannot post notes)',
    });
    expect(
      mergeRequestSettings(
        { 'gitlab-url': 'https://gitlab.example.com/' },
        { RUNNER_FLEET_GITLAB_TOKEN: 'glpat-x' },
      ),
    ).toEqual({
      missing: expect.stringMatching(/^--mr-note needs CI_PROJECT_ID, CI_MERGE_REQUEST_IID: /),
    });
    // The command passes --gitlab-url as its input schema resolved it (here from CI_API_V4_URL).
    const ok = mergeRequestSettings(
      { 'gitlab-url': 'https://g/api/v4' },
      {
        CI_PROJECT_ID: '42',
        CI_MERGE_REQUEST_IID: '7',
        RUNNER_FLEET_GITLAB_TOKEN: 't',
      },
    );
    expect(ok).toMatchObject({ projectId: '42', mergeRequestIid: '7' });
  });
});
