/**
 * Reads and checks everything `deploy` (and `preview`, which takes the same
 * inputs) needs from the command line and files. Every problem is collected
 * and reported at once, so one run shows all that is wrong.
 */
import { access, constants, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { collectInputProblems, InputError } from '../errors.ts';
import { parseKeyValuePairs, readParameterFile } from './parameters.ts';
import { checkGivenParameters } from './stack-parameters.ts';
import { type LoadedTemplate, loadTemplate } from './template.ts';

export interface StackInputFlags {
  'stack-name'?: string | undefined;
  'template-file'?: string | undefined;
  parameters?: string[] | undefined;
  parameter?: string[] | undefined;
  tag?: string[] | undefined;
}

export interface StackInputs {
  stackName: string;
  template: LoadedTemplate;
  parameterValues: Map<string, string>;
  tags: Map<string, string>;
}

/** CloudFormation stack names: a letter, then letters, digits and hyphens, at most 128. */
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

/** Problems with a --stack-name value: every command checks it before it calls AWS. */
export function stackNameProblems(stackName: string | undefined): string[] {
  if (!stackName) return ['missing --stack-name NAME'];
  if (!STACK_NAME.test(stackName)) {
    return [
      `invalid --stack-name ${stackName}: use a letter then letters, digits and hyphens (at most 128 characters)`,
    ];
  }
  return [];
}

export async function loadStackInputs(flags: StackInputFlags): Promise<StackInputs> {
  const problems: string[] = [];
  const stackName = flags['stack-name'] ?? '';
  problems.push(...stackNameProblems(flags['stack-name']));

  let template: LoadedTemplate | undefined;
  if (!flags['template-file']) problems.push('missing --template-file FILE');
  else {
    template = await collectInputProblems(loadTemplate(flags['template-file']), problems);
  }

  const parameterValues = new Map<string, string>();
  for (const file of flags.parameters ?? []) {
    const fromFile = await readParameterFile(file);
    problems.push(...fromFile.problems);
    for (const [key, value] of fromFile.values) parameterValues.set(key, value);
  }
  const fromFlags = parseKeyValuePairs('--parameter', flags.parameter ?? []);
  problems.push(...fromFlags.problems);
  for (const [key, value] of fromFlags.values) parameterValues.set(key, value);

  const tagPairs = parseKeyValuePairs('--tag', flags.tag ?? []);
  problems.push(...tagPairs.problems);

  if (template) problems.push(...checkGivenParameters(template.parameters, parameterValues));

  if (problems.length > 0 || !template) throw new InputError(problems);
  return { stackName, template, parameterValues, tags: tagPairs.values };
}

/** Checks that an output file can be written before any AWS work is done. */
export async function checkWritableFile(flag: string, path: string | undefined): Promise<string[]> {
  if (!path) return [];
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) return [`cannot write ${flag} ${path}: it is a directory; name a file`];
  try {
    await access(existing ? path : dirname(path), constants.W_OK);
    return [];
  } catch {
    return [
      existing
        ? `cannot write ${flag} ${path}: the file is not writable`
        : `cannot write ${flag} ${path}: its directory does not exist or is not writable`,
    ];
  }
}

export function parsePositiveInteger(
  flag: string,
  raw: string | undefined,
  fallback: number,
  problems: string[],
): number {
  return parseIntegerFlag(flag, raw, fallback, problems, { min: 1 });
}

/** A whole-number flag within bounds; a problem is recorded (and the fallback returned) otherwise. */
export function parseIntegerFlag(
  flag: string,
  raw: string | undefined,
  fallback: number,
  problems: string[],
  bounds: { min: number; max?: number },
): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  const { min, max } = bounds;
  if (!Number.isInteger(value) || value < min || (max !== undefined && value > max)) {
    problems.push(
      max === undefined
        ? `invalid ${flag} ${raw}: expected a whole number${min === 1 ? ' above 0' : ` from ${min}`}`
        : `invalid ${flag} ${raw}: expected a whole number from ${min} to ${max}`,
    );
    return fallback;
  }
  return value;
}
