/**
 * Helpers for checking GitLab CI files: GitLab's CI JSON schema (the copy
 * gitlab-ci-local bundles), a validator, and input interpolation that follows
 * GitLab's text interpolation of `$[[ inputs.* ]]` / `$[[ component.* ]]`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import vm from 'node:vm';
import { Ajv, type ErrorObject } from 'ajv';
import { load, loadAll } from 'js-yaml';

export type InputSpec = {
  type?: 'string' | 'number' | 'boolean' | 'array';
  default?: unknown;
  description?: string;
  options?: unknown[];
  regex?: string;
};
export type ComponentHeader = { spec: { component?: string[]; inputs: Record<string, InputSpec> } };
export type Job = Record<string, unknown>;

const SCHEMA_MARKER =
  '{$schema:"http://json-schema.org/draft-07/schema#",$id:"https://gitlab.com/.gitlab-ci.yml"';

/**
 * gitlab-ci-local ships GitLab's ci.json inlined in its bundle as an object
 * literal; cut it out by bracket matching and evaluate it in an empty context.
 */
export function loadGitLabCiSchema(): Record<string, unknown> {
  const require = createRequire(import.meta.url);
  const bundle = readFileSync(require.resolve('gitlab-ci-local/dist/index.js'), 'utf8');
  const start = bundle.indexOf(SCHEMA_MARKER);
  if (start < 0) throw new Error('GitLab CI schema not found in gitlab-ci-local bundle');
  let depth = 0;
  let quote: string | null = null;
  let end = start;
  for (; end < bundle.length; end++) {
    const c = bundle[end];
    if (quote) {
      if (c === '\\') end++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) break;
    }
  }
  return vm.runInNewContext(`(${bundle.slice(start, end + 1)})`) as Record<string, unknown>;
}

export interface CiValidator {
  /** Problems of a whole CI file (after interpolation); empty when valid. */
  config(data: unknown): string[];
  /** Problems of a component header (`spec:`). */
  header(data: unknown): string[];
}

export function ciValidator(): CiValidator {
  const schema = loadGitLabCiSchema() as {
    definitions: Record<string, { properties?: Record<string, unknown> }>;
    properties: { spec: { properties: Record<string, unknown> } };
  };
  // Where GitLab itself accepts more than the bundled schema, as its sources and docs say:
  // - spec:component (GitLab 18.6, Beta): the components no longer use it, but consumers may.
  schema.properties.spec.properties.component = {
    type: 'array',
    items: { enum: ['name', 'sha', 'version', 'reference'] },
    uniqueItems: true,
  };
  // - tags: [] (Gitlab::Ci::Config::Entry::Tags validates an array of strings under 50 items, no minimum),
  //   what an empty `tags` input interpolates to.
  const tags = schema.definitions.tags as { minItems?: number };
  tags.minItems = 0;
  // - retry:when runner_interrupted, the failure reason of a job cut by a forced runner shutdown
  //   (accepted by GitLab's CI lint; newer than the bundled schema).
  const retryErrors = schema.definitions.retry_errors as unknown as { oneOf: object[] };
  retryErrors.oneOf.push({ const: 'runner_interrupted' });
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const validateConfig = ajv.compile(schema);
  const format = (errors: ErrorObject[] | null | undefined) =>
    (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
  return {
    config: (data) => (validateConfig(data) ? [] : format(validateConfig.errors)),
    // A header is a file with only the top-level `spec` key.
    header: (data) => (validateConfig(data) ? [] : format(validateConfig.errors)),
  };
}

export interface ComponentFile {
  name: string;
  path: string;
  text: string;
  header: ComponentHeader;
  /** The body text, not yet interpolated. */
  bodyText: string;
}

export function readComponent(path: string): ComponentFile {
  const text = readFileSync(path, 'utf8');
  const docs = loadAll(text);
  if (docs.length !== 2)
    throw new Error(`${path}: expected a spec header and a body, found ${docs.length} documents`);
  const separator = text.indexOf('\n---\n');
  const name =
    path
      .split('/')
      .pop()
      ?.replace(/\.yml$/, '') ?? path;
  return { name, path, text, header: docs[0] as ComponentHeader, bodyText: text.slice(separator + 5) };
}

export const TEST_COMPONENT_CONTEXT = {
  name: 'component',
  sha: '0123456789abcdef0123456789abcdef01234567',
  version: '1.2.3',
  reference: '1.2.3',
};

/**
 * GitLab interpolates the body as text before parsing it: strings go in as
 * they are, numbers and booleans as literals, arrays as JSON (flow YAML).
 */
export function interpolate(
  component: ComponentFile,
  inputs: Record<string, unknown> = {},
  context: Record<string, string> = TEST_COMPONENT_CONTEXT,
): Record<string, Job> {
  const specs = component.header.spec.inputs;
  for (const key of Object.keys(inputs)) {
    if (!(key in specs)) throw new Error(`${component.name}: unknown input ${key}`);
  }
  const text = component.bodyText
    .replace(/\$\[\[\s*inputs\.([\w-]+)\s*\]\]/g, (_, key: string) => {
      const spec = specs[key];
      if (!spec) throw new Error(`${component.name}: body uses undeclared input ${key}`);
      const value = key in inputs ? inputs[key] : spec.default;
      if (value === undefined) throw new Error(`${component.name}: input ${key} has no default and no value`);
      return typeof value === 'string' ? value : JSON.stringify(value);
    })
    .replace(/\$\[\[\s*component\.(\w+)\s*\]\]/g, (_, key: string) => {
      if (!component.header.spec.component?.includes(key)) {
        throw new Error(`${component.name}: component.${key} used but not declared in spec:component`);
      }
      return context[key] ?? '';
    });
  return load(text) as Record<string, Job>;
}

/** The image every component runs by default: this project's image of the release in package.json. */
export const DEFAULT_IMAGE = `registry.gitlab.com/runner-fleet/runner-fleet:${
  (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
    .version
}`;

/** Values for inputs that have no default, valid for their regex. */
export const REQUIRED_INPUT_SAMPLES: Record<string, unknown> = { region: 'eu-west-1' };

/**
 * The checks GitLab runs on the inputs of an include before it interpolates
 * (Gitlab::Ci::Config::Interpolation::Inputs: one class per type, then
 * options and regex): a value of another type is refused outright, so
 * `runner_id: 42` is "not a string" for a string input. Empty when valid.
 */
export function inputProblems(component: ComponentFile, inputs: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const specs = component.header.spec.inputs;
  for (const [name, value] of Object.entries(inputs)) {
    const spec = specs[name];
    if (!spec) {
      problems.push(`unknown input name provided: ${name}`);
      continue;
    }
    const type = spec.type ?? 'string';
    const actual = Array.isArray(value) ? 'array' : typeof value;
    if (actual !== type) {
      problems.push(`\`${name}\` input: provided value is not a ${type}`);
      continue;
    }
    if (spec.options && !spec.options.includes(value)) {
      problems.push(
        `\`${name}\` input: \`${String(value)}\` cannot be used because it is not in the list of allowed options`,
      );
    }
    if (spec.regex && typeof value === 'string' && !new RegExp(spec.regex).test(value)) {
      problems.push(`\`${name}\` input: provided value does not match required RegEx pattern`);
    }
  }
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.default === undefined && !(name in inputs))
      problems.push(`\`${name}\` input: required value has not been provided`);
  }
  return problems;
}
