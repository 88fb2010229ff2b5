/**
 * Token expiry without an outage, proved with the real gitlab-runner (built
 * from source by tools/setup.d/60-gitlab-runner.sh, branch issue-9) against
 * the GitLab double, moto for SSM, the real `runner-fleet rotate-token`
 * process, the real AWS CLI and the agent's own bash function token_watch:
 *
 *  1. control: the real `gitlab-runner register` with an expiring token
 *     writes token_expires_at, and `gitlab-runner run` then resets the shared
 *     token itself (POST /runners/reset_authentication_token) and keeps the
 *     new one to itself: the outage this design prevents;
 *  2. after token_pin_no_rotation the runner never calls that endpoint; a job
 *     running while the token is rotated centrally and swapped into
 *     config.toml finishes and reports success, and new jobs are requested
 *     with the new token, even after the old one was refused long enough for
 *     the runner to mark itself unhealthy.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addRunnerAdminRoutes } from '../doubles/gitlab/runner-admin.ts';
import { addRunnerJobRoutes, type RunnerJobsDouble } from '../doubles/gitlab/runner-jobs.ts';
import { addRunnerRoutes, type RunnersDouble } from '../doubles/gitlab/runners.ts';
import { type GitLabDouble, startGitLabDouble } from '../doubles/gitlab/server.ts';
import { runCliProcess } from '../support/cli-process.ts';
import { type Emulator, ROOT, startEmulator, TOOLS_BIN } from '../support/emulator.ts';

/** The real runner: RUNNER_FLEET_GITLAB_RUNNER, the setup link, or the build cache. */
function realRunner(): string | undefined {
  const cache = join(
    process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
    'runner-fleet',
    'gitlab-runner',
  );
  const cached = existsSync(cache) ? readdirSync(cache).map((d) => join(cache, d, 'gitlab-runner')) : [];
  return [
    process.env.RUNNER_FLEET_GITLAB_RUNNER,
    join(ROOT, '.tools/gitlab-runner/bin/gitlab-runner'),
    ...cached,
  ]
    .filter((p): p is string => Boolean(p))
    .find((p) => existsSync(p));
}

const RUNNER = realRunner();
const RUNNER_ID = 7;
const PARAMETER = '/rig/runner-token';
const LINUX_LIB = join(ROOT, 'runner_configs/linux/lib');
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

const isRunner = (request: { headers: Record<string, unknown> }) =>
  String(request.headers['user-agent'] ?? '').startsWith('gitlab-runner');

function runToEnd(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

async function until(what: string, check: () => boolean, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds}s waiting for ${what}`);
    await delay(200);
  }
}

describe.skipIf(!RUNNER)('token rotation with the real gitlab-runner', () => {
  let emulator: Emulator;
  let gitlab: GitLabDouble;
  let runners: RunnersDouble;
  let jobs: RunnerJobsDouble;
  let work: string;
  let runner: ChildProcess | undefined;
  let runnerLog = '';

  const configDir = () => join(work, 'etc');
  const configFile = () => join(configDir(), 'config.toml');
  const currentToken = () => runners.runners.get(RUNNER_ID)?.token ?? '';

  beforeAll(async () => {
    emulator = await startEmulator('moto');
    gitlab = await startGitLabDouble({ tokens: [] });
    runners = addRunnerRoutes(gitlab);
    jobs = addRunnerJobRoutes(gitlab, runners);
    // POST /runners/reset_authentication_token: what both the runner and rotate-token call.
    addRunnerAdminRoutes(gitlab, runners);
    work = mkdtempSync(join(tmpdir(), 'rf-rotation-'));
  });
  afterAll(async () => {
    await stopRunner();
    await gitlab?.close();
    await emulator?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** config.toml as `gitlab-runner register` leaves it for a token that expires (register.go verifyRunner). */
  function writeRegisteredConfig(token: string, obtained: Date, expires: Date): void {
    mkdirSync(configDir(), { recursive: true });
    writeFileSync(join(configDir(), '.runner_system_id'), 's_0123456789ab\n');
    writeFileSync(
      configFile(),
      `concurrent = 2
check_interval = 1
shutdown_timeout = 5

[[runners]]
  name = "rotation-rig"
  url = "${gitlab.url}"
  id = ${RUNNER_ID}
  token = "${token}"
  token_obtained_at = ${obtained.toISOString().replace(/\.\d+Z$/, 'Z')}
  token_expires_at = ${expires.toISOString().replace(/\.\d+Z$/, 'Z')}
  executor = "shell"
  builds_dir = "${join(work, 'builds')}"
  cache_dir = "${join(work, 'cache')}"
`,
      { mode: 0o600 },
    );
  }

  function startRunner(): void {
    runnerLog = '';
    runner = spawn(RUNNER ?? '', ['run', '--config', configFile(), '--working-directory', work], {
      env: { PATH: process.env.PATH ?? '', HOME: work },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    runner.stdout?.on('data', (chunk: Buffer) => {
      runnerLog += chunk.toString();
    });
    runner.stderr?.on('data', (chunk: Buffer) => {
      runnerLog += chunk.toString();
    });
  }

  async function stopRunner(): Promise<void> {
    const child = runner;
    runner = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGQUIT');
    await Promise.race([exited, delay(15_000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }

  /** The agent's own bash functions, with the real AWS CLI against moto. */
  function agent(functionName: string): { status: number | null; output: string } {
    const result = spawnSync(
      'bash',
      ['-c', `set -Eeuo pipefail; . "${LINUX_LIB}/bootstrap.sh"; ${functionName}`],
      {
        encoding: 'utf8',
        env: {
          PATH: `${TOOLS_BIN}:${process.env.PATH ?? ''}`,
          HOME: work,
          ...emulator.env,
          RF_RUNNER_CONFIG_DIR: configDir(),
          RF_STATE_DIR: join(work, 'state'),
          RF_LOG_DIR: join(work, 'log'),
          RF_REGION: 'us-east-1',
          RF_TOKEN_SOURCE: `ssm:${PARAMETER}`,
          RF_TOKEN_WATCH_INTERVAL_SECONDS: '0',
        },
      },
    );
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  }

  it('control: after a real register with an expiring token, the runner resets the shared token itself', async () => {
    // Eight seconds of life: gitlab-runner resets at 75% of it (common.TokenResetIntervalFactor).
    runners.addRunner({
      id: RUNNER_ID,
      token: 'glrt-rig-control-token-0001',
      tokenExpiresAt: new Date(Date.now() + 8_000).toISOString(),
    });
    mkdirSync(configDir(), { recursive: true });
    // Asynchronously: the double answers verify from this same process.
    const registered = await runToEnd(
      RUNNER ?? '',
      [
        'register',
        '--non-interactive',
        '--config',
        configFile(),
        '--url',
        gitlab.url,
        '--name',
        'rotation-rig',
        '--executor',
        'shell',
      ],
      // As runner_register does it: the token only in the child's environment.
      { PATH: process.env.PATH ?? '', HOME: work, CI_SERVER_TOKEN: currentToken() },
    );
    expect(registered.status, registered.output).toBe(0);
    expect(readFileSync(configFile(), 'utf8')).toMatch(/^\s*token_expires_at = \d{4}-\d\d-\d\dT/m);
    startRunner();
    await until(
      'the runner to call POST /runners/reset_authentication_token',
      () => gitlab.requests.some((r) => r.path === '/runners/reset_authentication_token' && isRunner(r)),
      30,
    );
    await until(
      'the runner to save its new token',
      () => readFileSync(configFile(), 'utf8').includes(currentToken()),
      10,
    );
    await stopRunner();
    // GitLab now knows only the token this one host wrote to its own config.toml.
    expect(currentToken()).not.toBe('glrt-rig-control-token-0001');
    expect(readFileSync(configFile(), 'utf8')).toContain(`token = "${currentToken()}"`);
  }, 60_000);

  it('pinned: no self-rotation; a job runs across a central rotation and new jobs use the new token', async () => {
    gitlab.requests.length = 0;
    runners.addRunner({ id: RUNNER_ID, token: 'glrt-rig-shared-token-0001' });
    const ssm = new SSMClient({ endpoint: emulator.endpoint, region: 'us-east-1', credentials });
    await ssm.send(
      new PutParameterCommand({
        Name: PARAMETER,
        Value: currentToken(),
        Type: 'SecureString',
        Overwrite: true,
      }),
    );
    ssm.destroy();
    const oldToken = currentToken();
    writeRegisteredConfig(oldToken, new Date(Date.now() - 10 * 86_400_000), new Date(Date.now() + 3_600_000));
    const pinned = agent('token_pin_no_rotation');
    expect(pinned.status, pinned.output).toBe(0);
    expect(readFileSync(configFile(), 'utf8')).toContain('token_expires_at = 0001-01-01T00:00:00Z');
    // The agent's first check records the version config.toml already has.
    expect(agent('token_watch').status).toBe(0);

    startRunner();
    await until(
      'a job request with the shared token',
      () => jobs.jobRequests.some((r) => r.token === oldToken),
      20,
    );
    const long = jobs.enqueue('long', ['sleep 8', 'echo long-job-done']);
    await until('the long job to run', () => long.states.some((s) => s.state === 'running'), 20);

    const rotated = await runCliProcess(
      ['rotate-token', '--runner-token-parameter', PARAMETER, '--gitlab-url', gitlab.url],
      emulator.env,
    );
    expect(rotated.code, rotated.output).toBe(0);
    const newToken = currentToken();
    expect(newToken).not.toBe(oldToken);
    const rotatedAt = Date.now();
    // Leave the old token refused for more than three polls: the runner marks itself unhealthy
    // (health_helper.go: unhealthy_requests_limit 3, then silent for unhealthy_interval, 60 min).
    await until(
      'three refused job requests',
      () => jobs.jobRequests.filter((r) => r.token === oldToken && r.status === 403).length >= 3,
      20,
    );
    await delay(1500);

    const watched = agent('token_watch');
    expect(watched.status, watched.output).toBe(0);
    expect(watched.output).toContain(`runner token version 2 of ${PARAMETER} swapped into config.toml`);
    expect(watched.output).not.toContain(newToken);
    const swappedAt = Date.now();
    const next = jobs.enqueue('after-rotation', ['echo next-job-done']);

    await until(
      'the long job to end',
      () => long.states.some((s) => ['success', 'failed'].includes(s.state)),
      30,
    );
    await until(
      'the next job to end',
      () => next.states.some((s) => ['success', 'failed'].includes(s.state)),
      30,
    );
    await stopRunner();

    // The refused polls did make the runner give up on the old token; the reload brought it back.
    expect(runnerLog).toMatch(/is unhealthy and will be disabled/);
    expect(runnerLog).toMatch(/Configuration loaded/);
    console.info(
      `rotation figures: refused polls ${jobs.jobRequests.filter((r) => r.token === oldToken && r.status === 403).length}, rotate-to-swap ${swappedAt - rotatedAt} ms, swap-to-next-job-taken ${(next.takenAt ?? 0) - swappedAt} ms, long job ended ${(long.states.at(-1)?.at ?? 0) - swappedAt} ms after the swap`,
    );
    expect(long.states.at(-1)?.state, runnerLog).toBe('success');
    expect(long.trace).toContain('long-job-done');
    expect(long.states.at(-1)?.at ?? 0).toBeGreaterThan(swappedAt);
    expect(next.takenWith).toBe(newToken);
    expect(next.states.at(-1)?.state).toBe('success');
    expect((next.takenAt ?? 0) - swappedAt, 'the new job was taken within seconds of the swap').toBeLessThan(
      10_000,
    );
    // Never a self-rotation by the runner; after the reload (3 s) only the new token is used.
    expect(
      gitlab.requests.filter((r) => r.path.includes('reset_authentication_token') && isRunner(r)),
    ).toEqual([]);
    expect(jobs.jobRequests.filter((r) => r.at > swappedAt + 4000 && r.token !== newToken)).toEqual([]);
    expect(jobs.jobRequests.filter((r) => r.at > rotatedAt && r.token === newToken).length).toBeGreaterThan(
      0,
    );
  }, 120_000);
});
