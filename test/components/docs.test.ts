/** docs/components.md, the README and the examples say what consumers need to know. */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { renderInputTables, withInputTables } from '../../tools/render-component-docs.ts';
import { CLI, isolatedEnv } from '../support/cli-process.ts';
import { ROOT } from '../support/emulator.ts';

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

describe('docs/components.md', () => {
  const document = read('docs/components.md');

  it('has input tables in step with templates/ (run npx tsx tools/render-component-docs.ts)', () => {
    expect(withInputTables(document, renderInputTables())).toBe(document);
  });

  it('documents every component and names the include lines of each', () => {
    for (const name of ['deploy', 'preview', 'smoke-test', 'roll', 'reconcile', 'destroy']) {
      expect(document).toContain(`### \`${name}\``);
      expect(document).toMatch(new RegExp(`component: \\$CI_SERVER_FQDN/[^\\s]+/${name}@`));
    }
  });
});

describe('the minimum GitLab version', () => {
  it('is named in the README, the component docs and the release description', () => {
    for (const file of ['README.md', 'docs/components.md', '.gitlab-ci.yml']) {
      expect(read(file), file).toMatch(/GitLab 17\.0\s+or\s+later/);
    }
  });
});

/** The retry a job cut by a spot reclaim or drain deadline needs (GitLab's failure reason). */
function retriesInterrupted(job: { retry?: { when?: string | string[] } } | undefined): boolean {
  const when = job?.retry?.when;
  return (Array.isArray(when) ? when : [when]).includes('runner_interrupted');
}

describe('retry advice for jobs cut by a spot reclaim or drain', () => {
  it('is in the README and the component docs', () => {
    for (const file of ['README.md', 'docs/components.md'])
      expect(read(file), file).toContain('runner_interrupted');
  });

  it('is what the canary job in docs/cli.md does', () => {
    const block = read('docs/cli.md').match(/```yaml\n(runner-fleet-canary:[\s\S]*?)```/)?.[1];
    expect(block).toBeDefined();
    const jobs = load(block ?? '') as Record<string, { retry?: { when?: string[] } }>;
    expect(retriesInterrupted(jobs['runner-fleet-canary'])).toBe(true);
  });

  it('is what every example that runs jobs on the fleet does', () => {
    const examples = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.yml'));
    const canaries = examples.flatMap((file) => {
      const pipeline = load(read(`examples/${file}`)) as Record<string, { rules?: { if?: string }[] }>;
      return Object.entries(pipeline)
        .filter(([, job]) => job?.rules?.some((rule) => rule.if?.includes('RUNNER_FLEET_CANARY')))
        .map(([name, job]) => [`${file} ${name}`, job] as const);
    });
    expect(canaries.length).toBeGreaterThan(0);
    for (const [name, job] of canaries) expect(retriesInterrupted(job as never), name).toBe(true);
    const spot = load(read('examples/linux-spot-fleet.yml')) as { default?: { retry?: { when?: string[] } } };
    expect(retriesInterrupted(spot.default)).toBe(true);
  });
});

describe('running the CLI outside GitLab', () => {
  const readme = read('README.md');
  const section = readme.slice(readme.indexOf('## Run the CLI outside GitLab'));

  it('has a README section for a checkout and for the image', () => {
    expect(readme).toContain('## Run the CLI outside GitLab');
    expect(section).toMatch(/npx runner-fleet /);
    expect(section).toMatch(
      /docker run [\s\S]*registry\.gitlab\.com\/runner-fleet\/runner-fleet:\S+ \\\n\s+runner-fleet /,
    );
  });

  it('shows only commands and flags the CLI has', () => {
    const commands = [...section.matchAll(/(?:npx )?runner-fleet (\w[\w-]*)((?:[^\n]*\\\n)*[^\n]*)/g)].filter(
      ([, verb]) => verb !== 'fleet',
    );
    expect(commands.length).toBeGreaterThanOrEqual(3);
    const flagsByVerb = new Map<string, Set<string>>();
    for (const [, verb = '', rest = ''] of commands) {
      const flags = flagsByVerb.get(verb) ?? new Set<string>();
      for (const [flag] of rest.matchAll(/--[a-z][a-z-]+/g)) flags.add(flag);
      flagsByVerb.set(verb, flags);
    }
    for (const [verb, flags] of flagsByVerb) {
      const help = spawnSync(process.execPath, [CLI, verb, '--help'], {
        env: isolatedEnv(),
        encoding: 'utf8',
      });
      expect(help.status, `${verb}: ${help.stderr}`).toBe(0);
      for (const flag of flags) expect(help.stdout, `${verb} ${flag}`).toContain(flag);
    }
  });
});

/**
 * Merge request pipelines carry the MR's source branch in the ID token, so only
 * the preview role (any branch, read-only) can be assumed there; the deploy role
 * trusts protected refs. Every include of preview in the docs and examples must
 * name a role other than the one its deploy uses.
 */
describe('the role each component assumes in the docs and examples', () => {
  const yamlBlocks = (text: string) =>
    [...text.matchAll(/```yaml\n([\s\S]*?)```/g)]
      .map((m) => m[1] ?? '')
      .filter((b) => b.includes('include:'));
  const sources: [string, string][] = [
    ...readdirSync(join(ROOT, 'examples'))
      .filter((f) => f.endsWith('.yml'))
      .map((f): [string, string] => [`examples/${f}`, read(`examples/${f}`)]),
    ...yamlBlocks(read('README.md')).map((b, i): [string, string] => [`README.md block ${i + 1}`, b]),
    ...yamlBlocks(read('docs/components.md')).map((b, i): [string, string] => [
      `docs/components.md block ${i + 1}`,
      b,
    ]),
  ];

  it.each(sources)('%s: preview never assumes the deploy role', (_name, text) => {
    const pipeline = load(text) as {
      include?: { component?: string; inputs?: Record<string, unknown> }[];
      variables?: Record<string, string>;
    };
    const resolve = (value: unknown) =>
      String(value ?? '').replace(
        /^\$\{?(\w+)\}?$/,
        (_, name: string) => pipeline.variables?.[name] ?? `$${name}`,
      );
    const includes = (pipeline.include ?? []).filter((i) => i.component);
    const rolesOf = (component: string) =>
      includes
        .filter((i) => i.component?.includes(`/${component}@`) && i.inputs?.aws_role_arn)
        .map((i) => resolve(i.inputs?.aws_role_arn));
    const deployRoles = new Set(rolesOf('deploy'));
    for (const role of rolesOf('preview')) expect(deployRoles.has(role), role).toBe(false);
  });
});
