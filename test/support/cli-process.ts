/** Runs the real runner-fleet CLI as a child process, as a CI job would. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './emulator.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved in arrival order. */
  output: string;
}

export const CLI = join(ROOT, 'bin', 'runner-fleet.js');

/** Environment of the test process minus anything that could reach real AWS or GitLab. */
export function isolatedEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(AWS_|GITLAB_|CI_|RUNNER_FLEET_)/.test(key)) continue;
    env[key] = value;
  }
  return {
    ...env,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  };
}

export function runCliProcess(
  args: string[],
  env: NodeJS.ProcessEnv,
  options: {
    onOutput?: (text: string) => void;
    timeoutMs?: number;
    /** Start it as the leader of its own process group, as a CI job's shell does. */
    processGroup?: boolean;
  } = {},
): Promise<CliResult> & { child: ReturnType<typeof spawn> } {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: isolatedEnv(env),
    cwd: ROOT,
    detached: options.processGroup === true,
  });
  let stdout = '';
  let stderr = '';
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    output += chunk.toString();
    options.onOutput?.(chunk.toString());
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    output += chunk.toString();
    options.onOutput?.(chunk.toString());
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  const promise = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, output });
    });
  }) as Promise<CliResult> & { child: ReturnType<typeof spawn> };
  promise.child = child;
  return promise;
}
