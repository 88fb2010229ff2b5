/**
 * Runs the shell of an interpolated component job the way a runner does:
 * before_script and script in one POSIX shell, the job's variables in the
 * environment (with $VAR references expanded from the given CI variables, as
 * GitLab expands variables in variables), and a `runner-fleet` on PATH that
 * records its arguments instead of calling AWS, or, with `realCli`, that
 * records them and then runs the real CLI of this checkout (no AWS
 * credentials, no instance metadata: for the refusals it makes before any
 * AWS call).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, isolatedEnv } from '../support/cli-process.ts';
import type { Job } from './gitlab-ci.ts';

export interface JobScriptRun {
  status: number | null;
  stderr: string;
  stdout: string;
  /** Arguments of each runner-fleet call, in order. */
  cliCalls: string[][];
}

function expand(value: string, ci: Record<string, string>): string {
  return value.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name: string) => ci[name] ?? '');
}

/** The job's variables as the job's shell sees them: $VAR references expanded from the CI variables. */
export function jobVariables(job: Job, ci: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(
    Object.entries((job.variables as Record<string, string>) ?? {}).map(([k, v]) => [
      k,
      expand(String(v), ci),
    ]),
  );
}

export function runJobScript(
  job: Job,
  ci: Record<string, string> = {},
  options: { realCli?: boolean } = {},
): JobScriptRun {
  const dir = mkdtempSync(join(tmpdir(), 'rf-job-script-'));
  try {
    const calls = join(dir, 'calls');
    writeFileSync(calls, '');
    // One line per call, arguments separated by a unit separator.
    writeFileSync(
      join(dir, 'runner-fleet'),
      `#!/bin/sh\n{ for arg in "$@"; do printf '%s\\037' "$arg"; done; printf '\\n'; } >>"${calls}"\n${
        options.realCli ? `exec "${process.execPath}" "${CLI}" "$@"\n` : ''
      }`,
    );
    chmodSync(join(dir, 'runner-fleet'), 0o755);
    const variables = jobVariables(job, ci);
    const script = [...((job.before_script as string[]) ?? []), ...((job.script as string[]) ?? [])].join(
      '\n',
    );
    const result = spawnSync('sh', ['-e', '-c', script], {
      env: {
        ...(options.realCli ? isolatedEnv() : {}),
        PATH: `${dir}:${process.env.PATH}`,
        HOME: dir,
        ...ci,
        ...variables,
      },
      encoding: 'utf8',
      cwd: dir,
    });
    const cliCalls = readFileSync(calls, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split('\x1f').slice(0, -1));
    return { status: result.status, stderr: result.stderr, stdout: result.stdout, cliCalls };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
