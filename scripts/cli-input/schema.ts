/**
 * A command's inputs, declared once: every flag with its type, bounds,
 * environment fallback and help text, the environment variables it reads,
 * and the few rules that tie flags together. From this one table come the
 * options node's parseArgs accepts, the checked values (every problem
 * collected, so one run reports them all with exit 2), the `--help` text
 * (usage.ts) and through it docs/cli.md.
 */
import type { ParseArgsConfig } from 'node:util';
import { oneOfProblem, writableFileProblem } from './checks.ts';

interface Described {
  /** One sentence or two; usage.ts wraps it and adds the default, the bounds and the fallback. */
  help: string;
}

/** --flag, no value. */
export interface SwitchFlag extends Described {
  type: 'switch';
  /** Variables that turn it on when not given: on when any of them is `true` (a component's boolean input, a pipeline variable). */
  env?: readonly string[];
  /** Variables that turn it on when any of them is `false`: the other side of a boolean input (reconcile's apply false is --dry-run). */
  envFalse?: readonly string[];
}

/** --flag VALUE, once. */
export interface TextFlag extends Described {
  type: 'text';
  placeholder: string;
  /** Variables read, in this order, when the flag is not given (the first that is set and not blank). */
  env?: readonly string[];
  /** Missing (flag and variables) is a problem: `missing --flag PLACEHOLDER`, or this line. */
  required?: true | string;
  /** The problem with a value, or undefined; `source` is the flag or the variable it came from. */
  check?: (value: string, source: string) => string | undefined;
  /** The only values allowed (an empty one is not among them); the help text names them. */
  oneOf?: readonly string[];
  /** A file the command writes: refused before any work when it cannot be written. */
  writes?: true;
}

/** --flag VALUE, repeatable; the values in order. */
export interface TextListFlag extends Described {
  type: 'texts';
  placeholder: string;
  /**
   * Variables read, in this order, when the flag is not given (the first that
   * is set and not blank): a JSON list, `json: [...]` as a CI job variable
   * holds an array input, or else one value.
   */
  env?: readonly string[];
}

/** --flag N, a whole number within bounds. */
export interface IntegerFlag extends Described {
  type: 'integer';
  placeholder: string;
  min: number;
  max?: number;
  default?: number;
  /** Variables read, in this order, when the flag is not given (the first that is set and not blank). */
  env?: readonly string[];
  /** A variable holding this counts as not set: a component input whose 0 means "not given". */
  envNotGiven?: string;
}

/**
 * --flag VALUE turned into something else, e.g. a list; `parse` says what is
 * wrong with a bad value, naming `source`: the flag, or the variable the value
 * came from.
 */
export interface ParsedFlag<T> extends Described {
  type: 'parsed';
  placeholder: string;
  parse(raw: string, source: string): { value: T } | { problem: string };
  /** Variables read, in this order, when the flag is not given; a JSON list (`json: [...]`) is handed to parse comma-joined. */
  env?: readonly string[];
}

// biome-ignore lint/suspicious/noExplicitAny: a table mixes parsed flags of any value type
export type FlagSpec = SwitchFlag | TextFlag | TextListFlag | IntegerFlag | ParsedFlag<any>;
export type FlagTable = Readonly<Record<string, FlagSpec>>;

/** A variable the command reads that is never a flag (a token would show in process lists and job logs). */
export interface EnvironmentInput extends Described {
  /** The problem line when it is unset or blank; optional otherwise. */
  required?: string;
}
export type EnvironmentTable = Readonly<Record<string, EnvironmentInput>>;

/**
 * The value a flag gives the command. A bad whole number becomes its default
 * (or undefined), a bad text stays as given, a missing required one is '';
 * each is a problem, and the command refuses to run, so only the cross
 * checks and the command's own input checks ever see such a value.
 */
export type FlagValue<S> = S extends SwitchFlag
  ? boolean
  : S extends TextListFlag
    ? string[]
    : S extends IntegerFlag
      ? S extends { default: number }
        ? number
        : number | undefined
      : S extends TextFlag
        ? S extends { required: true | string }
          ? string
          : string | undefined
        : S extends ParsedFlag<infer T>
          ? T | undefined
          : never;

export type FlagValuesOf<F extends FlagTable> = { -readonly [K in keyof F]: FlagValue<F[K]> };
export type EnvironmentValuesOf<E extends EnvironmentTable> = {
  -readonly [K in keyof E]: string | undefined;
};

export interface CheckedInput<F extends FlagTable, E extends EnvironmentTable> {
  flags: FlagValuesOf<F>;
  env: EnvironmentValuesOf<E>;
  /** The flags given on the command line, a bad or empty value included. */
  given: ReadonlySet<keyof F & string>;
}

/** A rule between inputs: the problem when it is broken, else undefined. */
export type CrossCheck<F extends FlagTable, E extends EnvironmentTable> = (
  input: CheckedInput<F, E>,
) => string | undefined;

export interface InputSchema<F extends FlagTable, E extends EnvironmentTable> {
  flags: F;
  environment?: E;
  checks?: readonly CrossCheck<F, E>[];
}

/** What parseArgs reads the command line with; every value stays text until readInput checks it. */
export function parseArgsOptions(flags: FlagTable): NonNullable<ParseArgsConfig['options']> {
  return Object.fromEntries(
    Object.entries(flags).map(([name, spec]) => [
      name,
      spec.type === 'switch'
        ? { type: 'boolean' }
        : spec.type === 'texts'
          ? { type: 'string', multiple: true }
          : { type: 'string' },
    ]),
  );
}

/**
 * Raw values as the command line gives them (command-line.ts) or a test hands
 * them in: text for a valued flag, `true` for a switch; `true` for a valued
 * flag or text for a switch is a flag written wrong, reported as a problem.
 */
export type RawFlags = Record<string, string | boolean | (string | boolean)[] | undefined>;

/**
 * Checks every input against the schema. Returns the values with every
 * problem found, in the order of the table, then the variables, then the
 * cross checks; the command adds what only it can find out (files it reads,
 * the AWS setup) and refuses the lot at once.
 */
export async function readInput<F extends FlagTable, E extends EnvironmentTable>(
  schema: InputSchema<F, E>,
  raw: RawFlags,
  env: NodeJS.ProcessEnv,
): Promise<CheckedInput<F, E> & { problems: string[] }> {
  const problems: string[] = [];
  const flags: Record<string, unknown> = {};
  const given = new Set<string>();
  for (const [name, spec] of Object.entries(schema.flags)) {
    const value = raw[name];
    if (value !== undefined) given.add(name);
    flags[name] = await readFlag(name, spec, value ?? fromVariables(spec, env, problems), env, problems);
  }
  const environment: Record<string, string | undefined> = {};
  for (const [name, spec] of Object.entries(schema.environment ?? {})) {
    environment[name] = nonBlank(env[name]);
    if (environment[name] === undefined && spec.required) problems.push(spec.required);
  }
  const input = {
    flags: flags as FlagValuesOf<F>,
    env: environment as EnvironmentValuesOf<E>,
    given: given as ReadonlySet<keyof F & string>,
  };
  for (const check of schema.checks ?? []) {
    const problem = check(input);
    if (problem) problems.push(problem);
  }
  return { ...input, problems };
}

async function readFlag(
  name: string,
  spec: FlagSpec,
  value: RawFlags[string],
  env: NodeJS.ProcessEnv,
  problems: string[],
): Promise<unknown> {
  const flag = `--${name}`;
  if (spec.type === 'switch') {
    if (typeof value === 'string') problems.push(`${flag} takes no value: write ${flag} alone`);
    return value === true;
  }
  // A valued flag written without its value comes as `true` (command-line.ts): refused like a bad value.
  if (value === true || (Array.isArray(value) && value.includes(true))) {
    problems.push(`missing value after ${flag}: write ${flag} ${spec.placeholder}`);
    if (spec.type === 'integer') return spec.default;
    if (spec.type === 'text') return spec.required ? '' : undefined;
  }
  switch (spec.type) {
    case 'texts':
      return (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter(
        (item): item is string => typeof item === 'string',
      );
    case 'integer': {
      const found: [string, string] | undefined =
        typeof value === 'string' ? [flag, value] : fromEnvironment(spec.env ?? [], env);
      // The input's "not given" counts only in the variable: on the command line it is a value like any other.
      if (!found || (found[0] !== flag && found[1] === spec.envNotGiven)) return spec.default;
      const [source, text] = found;
      const problem = integerProblem(source, text, spec);
      if (problem) problems.push(problem);
      return problem ? spec.default : Number(text);
    }
    case 'parsed': {
      const found =
        typeof value === 'string' ? ([flag, value] as const) : parsedFromVariable(spec, env, problems);
      if (!found) return undefined;
      const parsed = spec.parse(found[1], found[0]);
      if ('problem' in parsed) {
        problems.push(parsed.problem);
        return undefined;
      }
      return parsed.value;
    }
    case 'text': {
      const [source, text] =
        typeof value === 'string'
          ? [flag, value]
          : (fromEnvironment(spec.env ?? [], env) ?? [flag, undefined]);
      if (text === undefined || (text === '' && !spec.oneOf)) {
        // An empty value given on purpose stays empty: `--group ''` clears the settings file's group.
        if (!spec.required) return text;
        problems.push(spec.required === true ? `missing ${flag} ${spec.placeholder}` : spec.required);
        return '';
      }
      const problem =
        spec.check?.(text, source) ??
        (spec.oneOf ? oneOfProblem(text, spec.oneOf, source) : undefined) ??
        (spec.writes ? await writableFileProblem(flag, text) : undefined);
      if (problem) problems.push(problem);
      // Kept even when refused, so a cross check speaks of what was given rather than of its absence.
      return text;
    }
  }
}

/**
 * What the variables of a switch or a list stand for when it is not given;
 * the other flags read theirs in readFlag, so a problem line names the
 * variable the value came from.
 */
function fromVariables(spec: FlagSpec, env: NodeJS.ProcessEnv, problems: string[]): RawFlags[string] {
  switch (spec.type) {
    case 'switch': {
      const isSet = (names: readonly string[] | undefined, to: string) =>
        (names ?? []).some((name) => nonBlank(env[name]) === to);
      return isSet(spec.env, 'true') || isSet(spec.envFalse, 'false') ? true : undefined;
    }
    case 'texts':
      return listFromEnvironment(spec.env ?? [], env, problems)?.values;
    default:
      return undefined;
  }
}

/** A parsed flag's variable with its name; a JSON list comes comma-joined. */
function parsedFromVariable(
  spec: ParsedFlag<unknown>,
  env: NodeJS.ProcessEnv,
  problems: string[],
): readonly [string, string] | undefined {
  const found = listFromEnvironment(spec.env ?? [], env, problems);
  return found && [found.name, found.values.join(',')];
}

/** The list in the first of the variables that is set, with its name; an unreadable one is a problem. */
function listFromEnvironment(
  names: readonly string[],
  env: NodeJS.ProcessEnv,
  problems: string[],
): { name: string; values: string[] } | undefined {
  const found = fromEnvironment(names, env);
  if (!found) return undefined;
  const items = listFromVariable(...found);
  if ('problem' in items) {
    problems.push(items.problem);
    return undefined;
  }
  return { name: found[0], values: items.values };
}

/** The first of the variables that is set and not blank, with its name. */
function fromEnvironment(names: readonly string[], env: NodeJS.ProcessEnv): [string, string] | undefined {
  for (const name of names) {
    const value = nonBlank(env[name]);
    if (value !== undefined) return [name, value];
  }
  return undefined;
}

/**
 * The values a list variable holds. `json: [...]` (or a bare JSON list) is a
 * list whose items stay whole, spaces and `=` included; numbers and booleans
 * count as their text and empty items are dropped, as the components' shell
 * did with them. Anything else is one value.
 */
export function listFromVariable(name: string, text: string): { values: string[] } | { problem: string } {
  const json = /^json:/.test(text) ? text.replace(/^json:\s*/, '') : text.startsWith('[') ? text : undefined;
  if (json === undefined) return { values: [text] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(json || '[]');
  } catch {
    parsed = undefined;
  }
  const items = Array.isArray(parsed) ? parsed : undefined;
  if (!items || items.some((item) => !['string', 'number', 'boolean'].includes(typeof item))) {
    return { problem: `invalid ${name}: expected a JSON list of texts, e.g. json: ["Key=value"]` };
  }
  return { values: items.map(String).filter((item) => item !== '') };
}

function nonBlank(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** A whole number within the flag's bounds, or the line that says why not. */
function integerProblem(
  flag: string,
  raw: string,
  bounds: { min: number; max?: number | undefined },
): string | undefined {
  const value = Number(raw);
  const { min, max } = bounds;
  if (Number.isInteger(value) && value >= min && (max === undefined || value <= max)) {
    return undefined;
  }
  return max === undefined
    ? `invalid ${flag} ${raw}: expected a whole number${min === 1 ? ' above 0' : ` from ${min}`}`
    : `invalid ${flag} ${raw}: expected a whole number from ${min} to ${max}`;
}
