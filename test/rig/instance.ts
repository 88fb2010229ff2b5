/**
 * One rig "instance": the shipped instance scripts, the real gitlab-runner and
 * a real systemd user manager, wired to the doubles of what surrounds an EC2
 * instance (IMDS, GitLab, Auto Scaling / SSM / CloudWatch).
 *
 * What is real: runner_configs/linux (bootstrap, lifecycle agent, the
 * drop-in runner.sh writes, the shipped runner-fleet-lifecycle.service,
 * unchanged), gitlab-runner 19.4.0 built from source (shell executor, real
 * jobs), systemd 252 as a user manager, the aws CLI. What stands in: the one
 * `systemctl` shim that adds --user, the gitlab-runner.service unit (the
 * package's, written here the way its installer writes it, without --user
 * gitlab-runner so jobs run as root), and the doubles.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AwsLifecycleFake } from './doubles/aws-lifecycle-fake.js';
import type { RunnerApiDouble } from './doubles/gitlab-runner-api.js';
import { readIfExists, startUserManager, type UserManager } from './user-manager.js';

export const REPO = resolve(import.meta.dirname, '../..');
export const RUNNER_UNIT = 'gitlab-runner.service';
export const AGENT_UNIT = 'runner-fleet-lifecycle.service';

export interface ImdsDouble {
  url: string;
  set(state: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

/** The IMDSv2 double (test/doubles/imds/imds_double.py), as a process. */
export async function startImds(instanceId: string, asgName: string): Promise<ImdsDouble> {
  const dir = mkdtempSync(join(tmpdir(), 'rig-imds-'));
  const portFile = join(dir, 'port');
  const child: ChildProcess = spawn(
    'python3',
    [join(REPO, 'test/doubles/imds/imds_double.py'), '--port-file', portFile],
    {
      stdio: 'ignore',
    },
  );
  const readyBy = Date.now() + 10_000;
  let port = '';
  while (!port) {
    port = readIfExists(portFile).trim();
    if (port) break;
    if (Date.now() > readyBy) throw new Error('the IMDS double did not start');
    await sleep(50);
  }
  const url = `http://127.0.0.1:${port}`;
  const set = async (state: Record<string, unknown>): Promise<void> => {
    const response = await fetch(`${url}/_control/state`, { method: 'POST', body: JSON.stringify(state) });
    if (response.status !== 200) throw new Error(`IMDS double control: ${response.status}`);
  };
  await set({
    instance_id: instanceId,
    asg_name: asgName,
    region: 'eu-west-1',
    lifecycle_state: 'InService',
  });
  return {
    url,
    set,
    close: async () => {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface InstanceTimings {
  /** Template seconds become this many real seconds (also applied to RF_HEARTBEAT_TIMEOUT). */
  timeScale: number;
  heartbeatTimeoutSeconds: number;
  maxDrainSeconds: number;
  env: Record<string, string>;
}

export interface Instance {
  id: string;
  root: string;
  manager: UserManager;
  imds: ImdsDouble;
  logDir: string;
  stateDir: string;
  token: string;
  /** Runs shell.sh (the launch) inside the namespace; resolves with its exit code. */
  bootstrap(): Promise<{ code: number; output: string }>;
  agentLog(): string;
  runnerLog(): string;
  close(): Promise<void>;
}

export function randomInstanceId(): string {
  return `i-0${randomBytes(8).toString('hex')}`;
}

export async function startInstance(options: {
  gitlab: RunnerApiDouble;
  aws: AwsLifecycleFake;
  runnerBinary: string;
  timings: InstanceTimings;
  /** Token the SSM parameter holds; defaults to a fresh valid glrt- token. */
  token?: string;
}): Promise<Instance> {
  const id = randomInstanceId();
  const asgName = 'rig-asg';
  const root = mkdtempSync(join(tmpdir(), 'rig-instance-'));
  const dir = (name: string): string => {
    const path = join(root, name);
    mkdirSync(path, { recursive: true });
    return path;
  };
  const dirs = {
    bin: dir('bin'),
    etc: dir('etc'),
    state: dir('state'),
    log: dir('log'),
    runnerConfig: dir('runner-config'),
    units: dir('units'),
    home: dir('home'),
    builds: dir('builds'),
  };
  const imds = await startImds(id, asgName);

  // The only stand-in on the systemd path: the scripts call `systemctl`, the
  // rig's manager is a user manager.
  writeFileSync(join(dirs.bin, 'systemctl'), '#!/bin/sh\nexec /usr/bin/systemctl --user "$@"\n');
  chmodSync(join(dirs.bin, 'systemctl'), 0o755);

  const token = options.token ?? `glrt-rig${randomBytes(12).toString('hex')}`;
  const parameterName = '/rig/runner-token';
  options.aws.parameters.set(parameterName, token);
  const launchHook = options.aws.hooks.find(
    (hook) => hook.transition === 'autoscaling:EC2_INSTANCE_LAUNCHING',
  );
  const terminateHook = options.aws.hooks.find(
    (hook) => hook.transition === 'autoscaling:EC2_INSTANCE_TERMINATING',
  );
  const scaledHeartbeatTimeout = Math.max(
    1,
    Math.round(options.timings.heartbeatTimeoutSeconds * options.timings.timeScale),
  );
  // fleet.env as the template's UserData writes it (cfn/runner-fleet.yaml), with the rig's values.
  writeFileSync(
    join(dirs.etc, 'fleet.env'),
    [
      'RF_STACK_NAME=rig',
      'RF_REGION=eu-west-1',
      'RF_LOG_GROUP=',
      `RF_GITLAB_URL=${options.gitlab.url}`,
      'RF_RUNNER_VERSION=19.4.0',
      'RF_EXECUTOR=shell',
      'RF_CONCURRENT=4',
      'RF_DOCKER_IMAGE=',
      'RF_CACHE_BUCKET=',
      `RF_TOKEN_SOURCE=ssm:${parameterName}`,
      'RF_TOKEN_KIND=authentication',
      'RF_RUNNER_TAGS=',
      'RF_PATCH_SCOPE=none',
      `RF_LAUNCH_HOOK=${launchHook?.name ?? ''}`,
      `RF_TERMINATE_HOOK=${terminateHook?.name ?? ''}`,
      `RF_HEARTBEAT_TIMEOUT=${scaledHeartbeatTimeout}`,
      `RF_MAX_DRAIN_SECONDS=${options.timings.maxDrainSeconds}`,
      'RF_METRICS_NAMESPACE=RunnerFleet/Rig',
      '',
    ].join('\n'),
  );

  // The package's unit, as its installer writes it (kardianos/service's
  // systemd template, which `gitlab-runner install` uses).
  writeFileSync(
    join(dirs.units, RUNNER_UNIT),
    [
      '[Unit]',
      'Description=GitLab Runner',
      `ConditionFileIsExecutable=${options.runnerBinary}`,
      'After=network.target',
      '',
      '[Service]',
      'StartLimitInterval=5',
      'StartLimitBurst=10',
      `ExecStart=${options.runnerBinary} "run" "--working-directory" "${dirs.builds}" "--config" "${dirs.runnerConfig}/config.toml" "--service" "gitlab-runner"`,
      'Restart=always',
      'RestartSec=120',
      '',
      '[Install]',
      'WantedBy=multi-user.target',
      '',
    ].join('\n'),
  );

  const runnerBinDir = resolve(options.runnerBinary, '..');
  const env: Record<string, string> = {
    PATH: [
      dirs.bin,
      runnerBinDir,
      join(REPO, '.tools/bin'),
      '/usr/local/bin',
      '/usr/bin',
      '/bin',
      '/usr/sbin',
      '/sbin',
    ].join(':'),
    HOME: dirs.home,
    LANG: 'C.UTF-8',
    AWS_ENDPOINT_URL: options.aws.url,
    AWS_ACCESS_KEY_ID: 'rig',
    AWS_SECRET_ACCESS_KEY: 'rig',
    AWS_DEFAULT_REGION: 'eu-west-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url,
    RF_ENV_FILE: join(dirs.etc, 'fleet.env'),
    RF_STATE_DIR: dirs.state,
    RF_LOG_DIR: dirs.log,
    RF_RUNNER_CONFIG_DIR: dirs.runnerConfig,
    RF_SYSTEMD_DIR: '/etc/systemd/user',
    ...options.timings.env,
  };
  const manager = await startUserManager({
    initScript: join(REPO, 'test/rig/ns-init.sh'),
    unitsDir: dirs.units,
    // RF_RIG_SCRIPTS_DIR runs the rig against another copy of the scripts (e.g. an older revision).
    scriptsDir: process.env.RF_RIG_SCRIPTS_DIR ?? join(REPO, 'runner_configs/linux'),
    env,
  });
  await manager.systemctl('daemon-reload');

  return {
    id,
    root,
    manager,
    imds,
    logDir: dirs.log,
    stateDir: dirs.state,
    token,
    async bootstrap() {
      const result = await manager.run(['bash', '/opt/runner-fleet/shell.sh'], { timeoutMs: 120_000 });
      return { code: result.code, output: result.stdout + result.stderr };
    },
    agentLog: () => readIfExists(join(dirs.log, 'lifecycle-agent.log')),
    runnerLog: () => readIfExists(join(dirs.log, 'gitlab-runner.log')),
    async close() {
      await manager.stop();
      await imds.close();
      if (!process.env.RIG_KEEP) rmSync(root, { recursive: true, force: true });
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until check() returns a value (not undefined/false) or the time is up. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
): Promise<T> {
  const by = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > by) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
