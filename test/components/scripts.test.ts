/**
 * The shell the components run, checked by shellcheck as POSIX sh (GitLab
 * runs job scripts with bash when the image has it, sh otherwise): inputs
 * reach the scripts only through job variables, so the scripts are plain
 * shell and lint as they are.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/emulator.ts';
import { interpolate, REQUIRED_INPUT_SAMPLES, readComponent } from './gitlab-ci.ts';

const shellcheck = spawnSync('shellcheck', ['--version']).status === 0;
const components = readdirSync(join(ROOT, 'templates'))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => readComponent(join(ROOT, 'templates', f)));

describe.skipIf(!shellcheck)('component scripts', () => {
  const jobs = components.flatMap((component) =>
    Object.entries(interpolate(component, REQUIRED_INPUT_SAMPLES)).map(([name, job]) => [name, job] as const),
  );
  const scriptOf = (job: Record<string, unknown>) =>
    [...((job.before_script as string[]) ?? []), ...((job.script as string[]) ?? [])].join('\n');

  it.each(jobs)('%s passes shellcheck', (_name, job) => {
    const script = `#!/bin/sh\nset -e\n${scriptOf(job)}\n`;
    const result = spawnSync('shellcheck', ['--shell=sh', '--severity=style', '-'], {
      input: script,
      encoding: 'utf8',
    });
    expect(result.stdout, script).toBe('');
    expect(result.status).toBe(0);
  });

  it.each(jobs)('%s only reads RF_ variables the job defines', (_name, job) => {
    const defined = Object.keys((job.variables as Record<string, string>) ?? {});
    for (const [, name] of scriptOf(job).matchAll(/\$\{?(RF_[A-Z_]+)/g))
      expect(defined, name).toContain(name);
  });
});
