/**
 * End to end: a consumer pipeline that includes the components of this
 * checkout (`@$CI_COMMIT_SHA`, as GitLab resolves them) run by gitlab-ci-local
 * on the shell executor against moto and the GitLab API double: deploy,
 * smoke-test with the double reporting every instance's manager online,
 * preview of a changed template (reports, and the MR note in a merge request
 * pipeline), preview through OIDC web identity, roll (and its refusal on the
 * fleet's own runner), and the environment's stop job (refused unless played
 * by hand). moto is the emulator because the mini fleet gets real instances
 * there; it keeps no stack Outputs after a CREATE change set, so the dotenv
 * report is checked for being collected and well formed, not for values
 * (test/integration covers values on ministack), and it lacks the calls a roll
 * dry run makes, so roll is checked for flags the CLI accepts.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemIdForInstance } from '../../scripts/gitlab/system-id.ts';
import { addNoteRoutes, type NotesState } from '../doubles/gitlab/notes.ts';
import { addRunnerRoutes, type RunnersDouble } from '../doubles/gitlab/runners.ts';
import { type GitLabDouble, startGitLabDouble } from '../doubles/gitlab/server.ts';
import { isolatedEnv } from '../support/cli-process.ts';
import { type Emulator, emulatorAvailable, ROOT, startEmulator } from '../support/emulator.ts';

const GITLAB_CI_LOCAL = join(ROOT, 'node_modules', 'gitlab-ci-local', 'dist', 'index.js');
const API_TOKEN = 'glpat-e2e-token';
const RUNNER_ID = 7;
const STACK = 'e2e-fleet';

const awsClientConfig = () => ({
  endpoint: emulator.endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
});

interface JobRun {
  code: number | null;
  output: string;
}

const ready = emulatorAvailable('moto') && existsSync(GITLAB_CI_LOCAL);

let emulator: Emulator;

describe.skipIf(!ready)('components in a consumer pipeline (gitlab-ci-local)', () => {
  let gitlab: GitLabDouble;
  let runners: RunnersDouble;
  let notes: NotesState;
  let repo: string;
  let scratch: string;

  /** Runs named jobs of the consumer pipeline the way a GitLab pipeline would, on the host. */
  const runJobs = (
    jobs: string[],
    options: { awsKeys?: boolean; variables?: Record<string, string> } = {},
  ) => {
    const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...endpoint } = emulator.env;
    const variables = {
      ...endpoint,
      ...(options.awsKeys === false ? {} : { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY }),
      ...options.variables,
      RUNNER_FLEET_HOME: ROOT,
      RUNNER_FLEET_GITLAB_TOKEN: API_TOKEN,
      E2E_GITLAB_URL: gitlab.url,
    };
    const args = [
      GITLAB_CI_LOCAL,
      '--force-shell-executor',
      '--no-color',
      // GitLab accepts `tags: []` (an empty tags input); the schema gitlab-ci-local bundles does not.
      '--ignore-schema-paths',
      '#/definitions/tags/minItems',
      ...Object.entries(variables).flatMap(([key, value]) => ['--variable', `${key}=${value}`]),
      ...jobs,
    ];
    const child = spawn(process.execPath, args, {
      cwd: repo,
      env: isolatedEnv({ PATH: `${join(scratch, 'bin')}:${process.env.PATH}`, HOME: scratch }),
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    return new Promise<JobRun>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, output }));
    });
  };
  const artifact = (job: string, file: string) => join(repo, '.gitlab-ci-local', 'artifacts', job, file);

  beforeAll(async () => {
    [emulator, gitlab] = await Promise.all([
      startEmulator('moto'),
      startGitLabDouble({ tokens: [API_TOKEN] }),
    ]);
    runners = addRunnerRoutes(gitlab);
    notes = addNoteRoutes(gitlab);
    runners.addRunner({ id: RUNNER_ID, token: 'glrt-e2e-runner-token' });

    scratch = mkdtempSync(join(tmpdir(), 'rf-e2e-'));
    repo = join(scratch, 'consumer');
    mkdirSync(join(scratch, 'bin'));
    // The image puts runner-fleet on PATH; here it is this checkout's CLI.
    symlinkSync(join(ROOT, 'bin', 'runner-fleet.js'), join(scratch, 'bin', 'runner-fleet'));
    mkdirSync(repo);
    cpSync(join(ROOT, 'templates'), join(repo, 'templates'), { recursive: true });
    cpSync(join(ROOT, 'test', 'e2e', 'consumer-pipeline.yml'), join(repo, '.gitlab-ci.yml'));
    cpSync(join(ROOT, 'test', 'fixtures', 'templates', 'mini-fleet.yaml'), join(repo, 'fleet.yaml'));
    writeFileSync(join(repo, '.gitignore'), '.gitlab-ci-local/\n');
    const git = (...args: string[]) =>
      execFileSync('git', args, {
        cwd: repo,
        env: isolatedEnv({
          GIT_AUTHOR_NAME: 'e2e',
          GIT_AUTHOR_EMAIL: 'e2e@example.com',
          GIT_COMMITTER_NAME: 'e2e',
          GIT_COMMITTER_EMAIL: 'e2e@example.com',
          HOME: scratch,
        }),
        stdio: 'pipe',
      });
    git('init', '--quiet', '--initial-branch=main');
    // gitlab-ci-local takes CI_SERVER_FQDN and CI_PROJECT_PATH from the remote.
    git('remote', 'add', 'origin', 'git@gitlab.example.com:platform/runner-fleet.git');
    git('add', '.');
    git('commit', '--quiet', '-m', 'consumer pipeline');
  });

  afterAll(async () => {
    await Promise.all([emulator?.stop(), gitlab?.close()]);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('deploys the stack and reports its outputs as dotenv', async () => {
    const run = await runJobs(['runner-fleet-deploy']);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain(`Creating stack ${STACK} from fleet.yaml`);
    expect(run.output).toContain(`Stack ${STACK} CREATE_COMPLETE`);
    expect(run.output).toContain('RUNNER_FLEET_RUNNER_TOKEN is not set');
    const dotenv = artifact('runner-fleet-deploy', '.gitlab-ci-reports/dotenv/runner-fleet-outputs.env');
    expect(existsSync(dotenv), run.output).toBe(true);
    for (const line of readFileSync(dotenv, 'utf8').split('\n').filter(Boolean)) {
      expect(line).toMatch(/^[A-Za-z_][A-Za-z0-9_]*=\S*$/);
    }
    const cfn = new CloudFormationClient(awsClientConfig());
    const stack = (await cfn.send(new DescribeStacksCommand({ StackName: STACK }))).Stacks?.[0];
    cfn.destroy();
    expect(stack?.StackStatus).toBe('CREATE_COMPLETE');
    expect(stack?.Tags).toContainEqual({ Key: 'team', Value: 'platform' });
    expect(stack?.Parameters).toContainEqual({ ParameterKey: 'DesiredCapacity', ParameterValue: '2' });
  });

  it('stores the runner token from the masked variable in SSM without printing it', async () => {
    const token = 'glrt-e2e-secret-token-value';
    const run = await runJobs(['runner-fleet-deploy'], { variables: { RUNNER_FLEET_RUNNER_TOKEN: token } });
    expect(run.code, run.output).toBe(0);
    expect(run.output).not.toContain(token);
    const ssm = new SSMClient(awsClientConfig());
    const parameter = await ssm.send(
      new GetParameterCommand({ Name: '/runner-fleet/e2e-fleet/runner-token', WithDecryption: true }),
    );
    ssm.destroy();
    expect(parameter.Parameter?.Type).toBe('SecureString');
    expect(parameter.Parameter?.Value).toBe(token);
  });

  it('smoke-tests the fleet with every manager online and uploads the JUnit report', async () => {
    const autoScaling = new AutoScalingClient(awsClientConfig());
    const groups = await autoScaling.send(new DescribeAutoScalingGroupsCommand({}));
    autoScaling.destroy();
    const instances = groups.AutoScalingGroups?.flatMap((g) => g.Instances ?? []) ?? [];
    expect(instances.length).toBeGreaterThan(0);
    for (const instance of instances) {
      runners.setManager(RUNNER_ID, {
        system_id: systemIdForInstance(instance.InstanceId ?? ''),
        version: '17.6.0',
        contacted_at: new Date(Date.now() + 60_000).toISOString(),
      });
    }
    const run = await runJobs(['runner-fleet-smoke-test']);
    expect(run.code, run.output).toBe(0);
    const junit = readFileSync(artifact('runner-fleet-smoke-test', 'runner-fleet-smoke-test.xml'), 'utf8');
    expect(junit).toMatch(/<testsuites?[\s>]/);
    expect(junit).not.toMatch(/<failure/);
    expect(junit).toContain('online');
    expect(run.output).not.toContain(API_TOKEN);
  });

  it('previews a changed template as a Terraform report and Markdown', async () => {
    const template = readFileSync(join(repo, 'fleet.yaml'), 'utf8');
    writeFileSync(
      join(repo, 'fleet.yaml'),
      template.replace('InstanceType: t3.micro', 'InstanceType: t3.small'),
    );
    const run = await runJobs(['runner-fleet-preview']);
    expect(run.code, run.output).toBe(0);
    const report = JSON.parse(
      readFileSync(artifact('runner-fleet-preview', 'runner-fleet-plan.json'), 'utf8'),
    );
    expect(report).toEqual({
      create: expect.any(Number),
      update: expect.any(Number),
      delete: expect.any(Number),
    });
    expect(report.update + report.create).toBeGreaterThan(0);
    const markdown = readFileSync(artifact('runner-fleet-preview', 'runner-fleet-preview.md'), 'utf8');
    expect(markdown).toContain('LaunchTemplate');
    // The token is set, but this is no merge request pipeline: no note.
    expect(gitlab.requests.some((r) => r.path.includes('/notes'))).toBe(false);
  });

  it('posts the preview as a merge request note in a merge request pipeline', async () => {
    notes.addMergeRequest('1217', 5);
    const run = await runJobs(['runner-fleet-preview'], {
      variables: { CI_MERGE_REQUEST_IID: '5', CI_PROJECT_ID: '1217', CI_API_V4_URL: gitlab.apiUrl },
    });
    expect(run.code, run.output).toBe(0);
    const posted = notes.notesOf('1217', 5);
    expect(posted).toHaveLength(1);
    expect(posted[0]?.body).toContain('LaunchTemplate');
    expect(gitlab.requests.filter((r) => r.method === 'POST').every((r) => r.token === API_TOKEN)).toBe(true);
    expect(run.output).not.toContain(API_TOKEN);
  });

  it('previews with OIDC: ID token file and web identity, no AWS keys in the job', async () => {
    const idToken =
      'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwcm9qZWN0X3BhdGg6cGxhdGZvcm0vcnVubmVyLWZsZWV0In0.c2lnbmF0dXJl';
    const run = await runJobs(['runner-fleet-preview-oidc'], {
      awsKeys: false,
      variables: { RUNNER_FLEET_AWS_ID_TOKEN: idToken },
    });
    expect(run.code, run.output).toBe(0);
    expect(run.output).not.toContain(idToken);
    expect(existsSync(artifact('runner-fleet-preview-oidc', 'runner-fleet-plan.json'))).toBe(true);
  });

  it('runs roll with flags the CLI accepts (moto lacks the calls a dry run makes)', async () => {
    const run = await runJobs(['runner-fleet-roll']);
    // Exit 2 would be a flag the component passes and the CLI refuses.
    expect(run.code, run.output).not.toBe(2);
    if (run.code !== 0) expect(run.output).toMatch(/roll failed: .*may not implement this call/);
  });

  it("refuses to roll from a job on the fleet's own runner (CI_RUNNER_ID)", async () => {
    const run = await runJobs(['runner-fleet-roll'], { variables: { CI_RUNNER_ID: String(RUNNER_ID) } });
    expect(run.code, run.output).not.toBe(0);
    expect(run.output).toContain(`refusing to roll ${STACK} from a job on that fleet`);
    expect(run.output).toContain('--allow-own-fleet');
  });

  it('keeps the stack when the stop job starts without being played (CI_JOB_MANUAL unset)', async () => {
    const run = await runJobs(['runner-fleet-destroy']);
    // A manual job may fail (allow_failure: true): the pipeline shows a warning, not a failure.
    expect(run.output).toMatch(/WARN\s+runner-fleet-destroy/);
    expect(run.output).toContain(`refusing to destroy ${STACK}: this stop job was not started by hand`);
    const cfn = new CloudFormationClient(awsClientConfig());
    const stack = (await cfn.send(new DescribeStacksCommand({ StackName: STACK }))).Stacks?.[0];
    cfn.destroy();
    expect(stack?.StackStatus).toMatch(/_COMPLETE$/);
    expect(stack?.StackStatus).not.toBe('DELETE_COMPLETE');
  });

  it('destroys the stack through the environment stop job, played by hand', async () => {
    // GitLab sets CI_JOB_MANUAL=true in a manual job someone plays; gitlab-ci-local does not set it.
    const run = await runJobs(['runner-fleet-destroy'], { variables: { CI_JOB_MANUAL: 'true' } });
    expect(run.code, run.output).toBe(0);
    const cfn = new CloudFormationClient(awsClientConfig());
    const stacks = await cfn
      .send(new DescribeStacksCommand({ StackName: STACK }))
      .catch((error: Error) => error);
    cfn.destroy();
    if (stacks instanceof Error) expect(stacks.message).toMatch(/does not exist/);
    else expect(stacks.Stacks?.[0]?.StackStatus).toBe('DELETE_COMPLETE');
  });
});
