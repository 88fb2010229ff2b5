/**
 * The real `runner-fleet preview` process against both emulators and the
 * GitLab API double. moto computes no resource changes for an update (its
 * change sets list none), so there the parameter comparison is what shows the
 * change; ministack lists the replaced queue too.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStacksCommand,
  ListChangeSetsCommand,
  waitUntilStackCreateComplete,
} from '@aws-sdk/client-cloudformation';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addNoteRoutes, type NotesState } from '../doubles/gitlab/notes.ts';
import { type GitLabDouble, startGitLabDouble } from '../doubles/gitlab/server.ts';
import { runCliProcess } from '../support/cli-process.ts';
import { type Emulator, type EmulatorName, ROOT, startEmulator } from '../support/emulator.ts';

const basic = join(ROOT, 'test', 'fixtures', 'templates', 'basic.yaml');
const GITLAB_TOKEN = 'glpat-preview-integration-token';
const SECRET = 'not-a-real-secret';

describe.each<EmulatorName>(['ministack', 'moto'])('preview against %s', (emulatorName) => {
  let emulator: Emulator;
  let cfn: CloudFormationClient;
  let gitlab: GitLabDouble;
  let notes: NotesState;
  const dir = mkdtempSync(join(tmpdir(), `rf-preview-${emulatorName}-`));

  beforeAll(async () => {
    emulator = await startEmulator(emulatorName);
    cfn = new CloudFormationClient({
      endpoint: emulator.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    gitlab = await startGitLabDouble({ tokens: [GITLAB_TOKEN] });
    notes = addNoteRoutes(gitlab);
    notes.addMergeRequest('42', 7);
    // Created directly (not through a change set) so that ListChangeSets starts empty.
    await cfn.send(
      new CreateStackCommand({
        StackName: 'fleet-p',
        TemplateBody: readFileSync(basic, 'utf8'),
        Parameters: [{ ParameterKey: 'Environment', ParameterValue: 'prod' }],
      }),
    );
    await waitUntilStackCreateComplete(
      { client: cfn, maxWaitTime: 60, minDelay: 1 },
      { StackName: 'fleet-p' },
    );
  });
  afterAll(async () => {
    cfn?.destroy();
    await gitlab?.close();
    await emulator?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const mrEnv = (token = GITLAB_TOKEN) => ({
    ...emulator.env,
    CI_API_V4_URL: gitlab.apiUrl,
    CI_PROJECT_ID: '42',
    CI_MERGE_REQUEST_IID: '7',
    RUNNER_FLEET_GITLAB_TOKEN: token,
  });
  const previewArgs = (stack: string, extra: string[] = []) => [
    'preview',
    '--stack-name',
    stack,
    '--template-file',
    basic,
    ...extra,
  ];
  const changeSetsOf = async (stack: string) =>
    (await cfn.send(new ListChangeSetsCommand({ StackName: stack }))).Summaries ?? [];

  it('previews a new stack, writes both reports and leaves no stack behind', async () => {
    const markdown = join(dir, 'new.md');
    const terraform = join(dir, 'new.json');
    const result = await runCliProcess(
      previewArgs('fleet-new', ['--markdown', markdown, '--terraform-report', terraform]),
      emulator.env,
    );
    expect(result.code, result.output).toBe(0);
    expect(result.stdout).toContain('Previewing the creation of stack fleet-new');
    expect(result.stdout).toContain(
      'Deleted the pending change set and the empty stack fleet-new that held it',
    );
    expect(JSON.parse(readFileSync(terraform, 'utf8'))).toEqual({ create: 2, update: 0, delete: 0 });
    const text = readFileSync(markdown, 'utf8');
    expect(text).toContain('### runner-fleet preview: `fleet-new` (new stack)');
    expect(text).toContain('| Add | `Queue` | `AWS::SQS::Queue` | - | no effect on running instances |');
    expect(result.output + text).not.toContain(SECRET);
    // The REVIEW_IN_PROGRESS stack that held the change set is gone (deletion may take a moment).
    let gone = false;
    for (let attempt = 0; attempt < 20 && !gone; attempt += 1) {
      try {
        const stack = (await cfn.send(new DescribeStacksCommand({ StackName: 'fleet-new' }))).Stacks?.[0];
        gone = stack?.StackStatus === 'DELETE_COMPLETE';
      } catch (error) {
        gone = /does not exist/.test((error as Error).message);
      }
      if (!gone) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(gone).toBe(true);
  });

  it('previews an update with a changed parameter, deletes the change set and upserts one MR note', async () => {
    const markdown = join(dir, 'update.md');
    const terraform = join(dir, 'update.json');
    const args = previewArgs('fleet-p', [
      '--parameter',
      'QueueSuffix=two',
      '--parameter',
      `ApiSecret=${SECRET}`,
      '--markdown',
      markdown,
      '--terraform-report',
      terraform,
      '--mr-note',
    ]);
    const first = await runCliProcess(args, mrEnv());
    expect(first.code, first.output).toBe(0);
    expect(await changeSetsOf('fleet-p')).toEqual([]);
    expect(
      (await cfn.send(new DescribeStacksCommand({ StackName: 'fleet-p' }))).Stacks?.[0]?.Parameters,
    ).toContainEqual({
      ParameterKey: 'QueueSuffix',
      ParameterValue: 'one',
    });

    const text = readFileSync(markdown, 'utf8');
    expect(text).toContain(
      '| `QueueSuffix` | <code>one</code> | <code>two</code> | `Queue` | no effect on running instances |',
    );
    expect(text).toContain('| `ApiSecret` | <code>****</code> | <code>**** (NoEcho: not compared)</code> |');
    const counts = JSON.parse(readFileSync(terraform, 'utf8')) as Record<string, number>;
    if (emulatorName === 'ministack') {
      // ministack lists the queue's replacement (its name changes).
      expect(counts).toEqual({ create: 1, update: 0, delete: 1 });
      expect(text).toContain(
        '| Modify | `Queue` | `AWS::SQS::Queue` | True | no effect on running instances |',
      );
    } else {
      // moto lists no resource changes for an update: the parameter table carries the change.
      expect(counts).toEqual({ create: 0, update: 0, delete: 0 });
    }
    expect(first.stdout).toMatch(/Created note \d+ on merge request !7/);

    const second = await runCliProcess(args, mrEnv());
    expect(second.code, second.output).toBe(0);
    expect(second.stdout).toMatch(/Updated note \d+ on merge request !7/);
    const mrNotes = notes.notesOf('42', 7);
    expect(mrNotes).toHaveLength(1);
    expect(
      mrNotes[0]?.body.startsWith('<!-- runner-fleet:preview stack=fleet-p -->\n### runner-fleet preview:'),
    ).toBe(true);
    expect(mrNotes[0]?.updated_at).not.toBe(mrNotes[0]?.created_at);
    expect(await changeSetsOf('fleet-p')).toEqual([]);

    for (const output of [first.output, second.output, text, mrNotes[0]?.body ?? '']) {
      expect(output).not.toContain(SECRET);
      expect(output).not.toContain(GITLAB_TOKEN);
    }
  });

  it('fails with exit 1 and the hint on a rejected GitLab token, after deleting the change set', async () => {
    const result = await runCliProcess(
      previewArgs('fleet-p', ['--parameter', 'QueueSuffix=three', '--mr-note']),
      mrEnv('glpat-revoked-token-0000'),
    );
    expect(result.code, result.output).toBe(1);
    expect(result.stderr).toContain(
      'answered 401: the token is missing, expired or revoked; set RUNNER_FLEET_GITLAB_TOKEN to a valid access token',
    );
    expect(result.output).not.toContain('glpat-revoked-token-0000');
    expect(await changeSetsOf('fleet-p')).toEqual([]);
  });

  it('lists every missing GitLab setting with exit 2 before touching AWS', async () => {
    const result = await runCliProcess(previewArgs('fleet-p', ['--mr-note']), emulator.env);
    expect(result.code, result.output).toBe(2);
    expect(result.stderr.trim()).toBe(
      'error: --mr-note needs CI_API_V4_URL (or --gitlab-url), CI_PROJECT_ID, CI_MERGE_REQUEST_IID, RUNNER_FLEET_GITLAB_TOKEN: run it in a merge request pipeline and set RUNNER_FLEET_GITLAB_TOKEN to a project or group access token with api scope (CI_JOB_TOKEN cannot post notes)',
    );
  });
});
