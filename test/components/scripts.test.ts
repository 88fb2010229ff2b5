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

  // The CLI reads the inputs from the job's variables (runner-fleet <verb> --help); the shell builds no arguments.
  const plainCalls: [string, string][] = [
    ['runner-fleet-deploy', 'deploy'],
    ['runner-fleet-preview', 'preview'],
    ['runner-fleet-destroy', 'destroy'],
  ];
  it.each(plainCalls)('%s ends in one plain runner-fleet %s call', (name, verb) => {
    const found = jobs.filter(([jobName]) => jobName === name);
    expect(found.length).toBeGreaterThan(0);
    for (const [, job] of found) {
      const script = (job.script as string[]) ?? [];
      const call = script.at(-1) ?? '';
      expect(call).toMatch(
        new RegExp(
          `^runner-fleet ${verb} (--[a-z-]+ ("\\$RF_[A-Z_]+"|[a-z.-]+) ?)+( --only-when-played-by-hand)?$`,
        ),
      );
      // At most one more line: the deploy job's create-runner call when runner_settings_file is set.
      expect(script.length).toBeLessThanOrEqual(2);
      expect(scriptOf(job)).not.toMatch(
        /set --|rf_items|node -e|cfn\/presets|CI_JOB_MANUAL|printenv|left as it is/,
      );
      expect(job.before_script).toEqual([]);
    }
  });

  it.each(jobs)('%s only reads RF_ variables the job defines', (_name, job) => {
    const defined = Object.keys((job.variables as Record<string, string>) ?? {});
    for (const [, name] of scriptOf(job).matchAll(/\$\{?(RF_[A-Z_]+)/g))
      expect(defined, name).toContain(name);
  });
});
