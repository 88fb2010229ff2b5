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
  const plainCall = (verb: string) =>
    new RegExp(
      `runner-fleet ${verb} (--[a-z-]+ ("\\$RF_[A-Z_]+"|[a-z.-]+) ?)+( --only-when-played-by-hand)?`,
    );
  // [job, verb, script lines before the last call]: deploy's create-runner step; roll's rotate-token and reconcile steps.
  const plainCalls: [string, string, number][] = [
    ['runner-fleet-deploy', 'deploy', 1],
    ['runner-fleet-preview', 'preview', 0],
    ['runner-fleet-destroy', 'destroy', 0],
    ['runner-fleet-smoke-test', 'smoke-test', 0],
    ['runner-fleet-reconcile', 'reconcile', 0],
    ['runner-fleet-roll', 'roll', 2],
  ];
  it.each(plainCalls)('%s ends in one plain runner-fleet %s call', (name, verb, stepsBefore) => {
    const found = jobs.filter(([jobName]) => jobName === name);
    expect(found.length).toBeGreaterThan(0);
    for (const [, job] of found) {
      const script = (job.script as string[]) ?? [];
      expect(script.at(-1) ?? '').toMatch(new RegExp(`^${plainCall(verb).source}$`));
      expect(script.length).toBeLessThanOrEqual(stepsBefore + 1);
      // The steps before it are plain calls too, each under at most a condition on the job's inputs.
      for (const step of script.slice(0, -1)) {
        for (const call of step.match(/runner-fleet [a-z-]+ [^;\n]*/g) ?? []) {
          expect(call.replace(/ *$/, '')).toMatch(new RegExp(`^${plainCall('[a-z-]+').source}$`));
        }
      }
      expect(scriptOf(job)).not.toMatch(
        /set --|rf_items|node -e|cfn\/presets|CI_JOB_MANUAL|printenv|left as it is/,
      );
      // Only the roll keeps a step of its own first: its input-conflict check (consumer-inputs.test.ts).
      if (verb !== 'roll') expect(job.before_script).toEqual([]);
    }
  });

  it.each(jobs)('%s only reads RF_ variables the job defines', (_name, job) => {
    const defined = Object.keys((job.variables as Record<string, string>) ?? {});
    for (const [, name] of scriptOf(job).matchAll(/\$\{?(RF_[A-Z_]+)/g))
      expect(defined, name).toContain(name);
  });
});
