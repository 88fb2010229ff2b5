/**
 * A real systemd user manager in a private mount namespace (test/rig/ns-init.sh),
 * and the way into it: every command the rig runs "on the instance" goes
 * through nsenter into that namespace with the manager's environment, so
 * `systemctl --user` reaches this manager and no other.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface UserManager {
  pid: number;
  env: Record<string, string>;
  /** Runs a command inside the namespace with the manager's environment. */
  run(argv: string[], options?: { timeoutMs?: number; env?: Record<string, string> }): Promise<CommandResult>;
  systemctl(...args: string[]): Promise<CommandResult>;
  /** `systemctl --user show -p ...` parsed into a map. */
  show(unit: string, properties: string[]): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

const RUNTIME_DIR = '/run/user/0';

export function runCommand(
  argv: string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const [command, ...args] = argv;
    if (!command) return reject(new Error('empty command'));
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

export async function startUserManager(options: {
  /** test/rig/ns-init.sh */
  initScript: string;
  unitsDir: string;
  scriptsDir: string;
  env: Record<string, string>;
}): Promise<UserManager> {
  const env: Record<string, string> = { ...options.env, XDG_RUNTIME_DIR: RUNTIME_DIR };
  const child: ChildProcess = spawn(
    'unshare',
    ['--mount', '--propagation', 'private', 'bash', options.initScript, options.unitsDir, options.scriptsDir],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const pid = child.pid;
  if (!pid) throw new Error('unshare did not start');
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });

  const run: UserManager['run'] = (argv, runOptions = {}) =>
    runCommand(
      [
        'nsenter',
        '--target',
        String(pid),
        '--mount',
        '--',
        'env',
        ...envArgs({ ...env, ...runOptions.env }),
        ...argv,
      ],
      {},
      runOptions.timeoutMs,
    );
  const systemctl: UserManager['systemctl'] = (...args) => run(['/usr/bin/systemctl', '--user', ...args]);

  // The manager is ready when its private socket answers.
  const readyBy = Date.now() + 15_000;
  for (;;) {
    if (exited) throw new Error(`the systemd user manager exited at start: ${stderr.trim()}`);
    const state = await systemctl('is-system-running');
    if (['running', 'degraded'].includes(state.stdout.trim())) break;
    if (Date.now() > readyBy)
      throw new Error(`the systemd user manager is not ready: ${state.stdout}${state.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  // A manager takes its environment from its own, except PATH, which it resets
  // to systemd's default: the units need the rig's PATH (the systemctl shim,
  // the runner, the aws CLI), as a login session would set it.
  const setPath = await systemctl('set-environment', `PATH=${env.PATH ?? ''}`);
  if (setPath.code !== 0) throw new Error(`systemctl --user set-environment failed: ${setPath.stderr}`);

  return {
    pid,
    env,
    run,
    systemctl,
    async show(unit, properties) {
      const result = await systemctl('show', unit, ...properties.flatMap((property) => ['-p', property]));
      return Object.fromEntries(
        result.stdout
          .split('\n')
          .filter((line) => line.includes('='))
          .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
      );
    },
    async stop() {
      if (exited) return;
      // Every unit's whole cgroup (runner, its jobs, the agent), then the manager.
      await systemctl('kill', '--signal=SIGKILL', 'gitlab-runner.service', 'runner-fleet-lifecycle.service');
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

function envArgs(env: Record<string, string>): string[] {
  return ['-i', ...Object.entries(env).map(([key, value]) => `${key}=${value}`)];
}

/** Reads a file if it exists (logs for diagnostics). */
export function readIfExists(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
