/**
 * The component files: two YAML documents each, inputs described and
 * consistent across components, bodies valid against GitLab's CI schema once
 * interpolated, no global keywords, and no way for a secret to reach a log.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { packageVersion, versionProblems } from '../../tools/component-version.ts';
import { ROOT } from '../support/emulator.ts';
import {
  ciValidator,
  DEFAULT_IMAGE,
  inputProblems,
  interpolate,
  REQUIRED_INPUT_SAMPLES,
  readComponent,
} from './gitlab-ci.ts';

const templatesDir = join(ROOT, 'templates');
const components = readdirSync(templatesDir)
  .filter((f) => f.endsWith('.yml'))
  .sort()
  .map((f) => readComponent(join(templatesDir, f)));
const validator = ciValidator();

/** Keywords that are global in .gitlab-ci.yml; a component must not set them. */
const GLOBAL_KEYWORDS = [
  'default',
  'stages',
  'variables',
  'workflow',
  'include',
  'image',
  'services',
  'cache',
];
/** Inputs every component shares; they must mean the same everywhere. */
const SHARED_INPUTS = [
  'as',
  'stage',
  'rules',
  'stack_name',
  'region',
  'aws_auth',
  'aws_role_arn',
  'aws_audience',
  'image',
  'runner_token_variable',
  'tags',
];

describe('component files', () => {
  it('are the six documented components', () => {
    expect(components.map((c) => c.name)).toEqual([
      'deploy',
      'destroy',
      'preview',
      'reconcile',
      'roll',
      'smoke-test',
    ]);
  });

  describe.each(components.map((c) => [c.name, c] as const))('%s', (_name, component) => {
    const inputs = component.header.spec.inputs;

    it('has a header that is valid against the schema, without spec:component (GitLab 18.6+, Beta)', () => {
      expect(validator.header(component.header)).toEqual([]);
      expect(component.header.spec.component).toBeUndefined();
      expect(component.bodyText).not.toMatch(/\$\[\[\s*component\./);
    });

    it('describes every input, gives defaults where sensible and valid options/regex', () => {
      for (const [name, spec] of Object.entries(inputs)) {
        expect(spec.description, `${name} description`).toMatch(/\S{3,}/);
        if (spec.default === undefined) expect(Object.keys(REQUIRED_INPUT_SAMPLES)).toContain(name);
        if (spec.options && spec.default !== undefined) expect(spec.options).toContain(spec.default);
        if (spec.regex) {
          expect(spec.type ?? 'string', `${name}: regex only applies to strings`).toBe('string');
          const sample = spec.default ?? REQUIRED_INPUT_SAMPLES[name];
          expect(new RegExp(spec.regex).test(String(sample)), `${name} default matches its regex`).toBe(true);
        }
        const type = spec.type ?? 'string';
        if (spec.default !== undefined) {
          const actual = Array.isArray(spec.default) ? 'array' : typeof spec.default;
          expect(actual, `${name} default type`).toBe(type);
        }
      }
      for (const shared of SHARED_INPUTS) expect(Object.keys(inputs)).toContain(shared);
    });

    it('uses only declared inputs, and uses every declared input', () => {
      const used = new Set([...component.bodyText.matchAll(/\$\[\[\s*inputs\.([\w-]+)/g)].map((m) => m[1]));
      expect([...used].sort()).toEqual(Object.keys(inputs).sort());
    });

    it('interpolates with defaults to jobs that are valid against the schema', () => {
      const body = interpolate(component, REQUIRED_INPUT_SAMPLES);
      expect(validator.config(body)).toEqual([]);
      for (const keyword of GLOBAL_KEYWORDS) expect(Object.keys(body)).not.toContain(keyword);
      for (const job of Object.values(body)) {
        expect(job.image).toBe(DEFAULT_IMAGE);
        expect(job.tags).toEqual([]);
        expect(job.id_tokens).toEqual({ RUNNER_FLEET_AWS_ID_TOKEN: { aud: 'sts.amazonaws.com' } });
        // What the CLI reads to assume the role and to find the runner token (aws/clients.ts, config/runner-token-variable.ts).
        expect(job.variables).toMatchObject({
          RUNNER_FLEET_AWS_AUTH: 'oidc',
          RUNNER_FLEET_AWS_ROLE_ARN: '',
          RUNNER_FLEET_RUNNER_TOKEN_VARIABLE: 'RUNNER_FLEET_RUNNER_TOKEN',
        });
      }
    });

    it('interpolates custom inputs into a valid job named by `as`', () => {
      const custom = Object.fromEntries(
        Object.entries(inputs).map(([name, spec]) => {
          if (name === 'rules') return [name, [{ if: '$RUN_FLEET == "yes"', when: 'manual' }]];
          if (name === 'tags') return [name, ['fleet-ops', 'on-demand']];
          if (name === 'as') return [name, `custom-${component.name}`];
          if (spec.options) return [name, spec.options.at(-1)];
          return [name, spec.default ?? REQUIRED_INPUT_SAMPLES[name]];
        }),
      );
      const body = interpolate(component, { ...custom, stack_name: 'fleet-$CI_PIPELINE_ID' });
      expect(validator.config(body)).toEqual([]);
      expect(Object.keys(body)).toContain(`custom-${component.name}`);
      expect(body[`custom-${component.name}`]?.rules).toEqual([
        { if: '$RUN_FLEET == "yes"', when: 'manual' },
      ]);
      for (const job of Object.values(body)) expect(job.tags).toEqual(['fleet-ops', 'on-demand']);
    });

    it('never prints variables or traces commands', () => {
      expect(component.text).not.toMatch(/set -[a-wyz]*x|set -o xtrace|bash -x/);
      expect(component.text).not.toMatch(
        /echo[^\n]*\$\{?(RUNNER_FLEET_AWS_ID_TOKEN|RUNNER_FLEET_GITLAB_TOKEN|AWS_SECRET|CI_JOB_TOKEN)/,
      );
      // The CLI reads the ID token from the environment: no shell touches it or writes it to a file.
      expect(component.text).not.toMatch(/\$\{?RUNNER_FLEET_AWS_ID_TOKEN|AWS_WEB_IDENTITY_TOKEN_FILE|mktemp/);
    });
  });

  it('default to the image of the release package.json names (tools/component-version.ts)', () => {
    expect(versionProblems(packageVersion())).toEqual([]);
  });

  it('offers exactly the presets the image ships (cfn/presets/) wherever a preset input exists', () => {
    const shipped = readdirSync(join(ROOT, 'cfn', 'presets'))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => f.replace(/\.yaml$/, ''))
      .sort();
    const withPreset = components.filter((c) => c.header.spec.inputs.preset);
    expect(withPreset.map((c) => c.name)).toEqual(['deploy', 'preview']);
    for (const component of withPreset) {
      const options = (component.header.spec.inputs.preset as { options?: string[] }).options ?? [];
      expect([...options].sort(), component.name).toEqual(['none', ...shipped].sort());
    }
  });

  it('gives shared inputs the same meaning in every component', () => {
    for (const name of SHARED_INPUTS.filter((n) => !['as', 'stage', 'rules'].includes(n))) {
      const specs = components.map((c) => JSON.stringify(c.header.spec.inputs[name]));
      expect(new Set(specs).size, name).toBe(1);
    }
  });
});

interface DeployJob {
  environment: Record<string, string>;
  resource_group: string;
  artifacts?: { reports: Record<string, string> };
  rules: unknown;
  stage: string;
  when?: string;
  script: string[];
}

describe('deploy component', () => {
  const deploy = components.find((c) => c.name === 'deploy');
  const destroy = components.find((c) => c.name === 'destroy');
  if (!deploy || !destroy) throw new Error('deploy and destroy components are required');
  const body = interpolate(deploy, { region: 'eu-west-1', stack_name: 'fleet-a' });
  const job = body['runner-fleet-deploy'] as unknown as DeployJob;
  const stop = body['runner-fleet-destroy'] as unknown as DeployJob;

  it('records the environment, serialises deploys and exports outputs as dotenv', () => {
    expect(job.environment).toEqual({
      name: 'runner-fleet/eu-west-1/fleet-a',
      url: 'https://eu-west-1.console.aws.amazon.com/cloudformation/home?region=eu-west-1#/stacks/stackinfo?stackId=fleet-a',
      on_stop: 'runner-fleet-destroy',
      action: 'start',
    });
    expect(job.resource_group).toBe('runner-fleet-eu-west-1-fleet-a');
    expect(job.artifacts?.reports).toEqual({ dotenv: 'runner-fleet-outputs.env' });
  });

  it('adds its stop job to the same pipeline: manual, rules of its own, same stage and resource group', () => {
    expect(stop.environment).toEqual({ name: 'runner-fleet/eu-west-1/fleet-a', action: 'stop' });
    expect(stop.when).toBe('manual');
    expect(stop.rules).toEqual([{ if: '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH', when: 'manual' }]);
    expect(stop.stage).toBe(job.stage);
    expect(stop.resource_group).toBe(job.resource_group);
    expect(stop.script.join('\n')).toContain('runner-fleet destroy');
  });

  it('has the same stop job as the destroy component', () => {
    const alone = interpolate(destroy, { region: 'eu-west-1', stack_name: 'fleet-a' });
    expect(alone['runner-fleet-destroy']).toEqual(stop);
  });

  it('shares the resource group with roll', () => {
    const roll = components.find((c) => c.name === 'roll');
    if (!roll) throw new Error('roll component missing');
    const rollJob = interpolate(roll, { region: 'eu-west-1', stack_name: 'fleet-a' })['runner-fleet-roll'];
    expect(rollJob?.resource_group).toBe(job.resource_group);
  });
});

describe('pipelines in this project', () => {
  const files = [
    '.gitlab-ci.yml',
    ...readdirSync(join(ROOT, 'examples'))
      .filter((f) => f.endsWith('.yml'))
      .map((f) => `examples/${f}`),
    ...readdirSync(join(ROOT, 'test', 'e2e'))
      .filter((f) => f.endsWith('.yml'))
      .map((f) => `test/e2e/${f}`),
  ];

  it.each(files)('%s is valid against the schema', (file) => {
    const data = load(readFileSync(join(ROOT, file), 'utf8'));
    expect(validator.config(data)).toEqual([]);
  });

  it.each(files)('%s gives the components inputs GitLab accepts', (file) => {
    const data = load(readFileSync(join(ROOT, file), 'utf8')) as {
      include?: { component?: string; inputs?: object }[];
    };
    const includes = (data.include ?? []).filter((i) => i.component);
    expect(includes.length).toBeGreaterThan(0);
    for (const include of includes) {
      const name = include.component?.match(/\/([\w-]+)@/)?.[1];
      const component = components.find((c) => c.name === name);
      expect(component, include.component).toBeDefined();
      if (!component) continue;
      const inputs = (include.inputs ?? {}) as Record<string, unknown>;
      expect(inputProblems(component, inputs), include.component).toEqual([]);
      const body = interpolate(component, inputs);
      expect(validator.config(body)).toEqual([]);
    }
  });
});
