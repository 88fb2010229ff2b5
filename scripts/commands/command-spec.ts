/** What every command module provides to the CLI, and small flag helpers they share. */
import type { ParseArgsConfig } from 'node:util';
import { parsePositiveInteger, stackNameProblems } from '../config/deploy-config.ts';
import type { Logger } from '../log.ts';

export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface CommandContext {
  log: Logger;
  signal: AbortSignal;
  env: NodeJS.ProcessEnv;
}

/** A command's implementation; its summary lives in registry.ts, so `--help` need not load it. */
export interface CommandSpec {
  name: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(flags: FlagValues, context: CommandContext): Promise<void>;
}

export function asString(value: FlagValues[string]): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function regionOption(flags: FlagValues): { region?: string } {
  const region = asString(flags.region);
  return region ? { region } : {};
}

/** The flags of commands that take a template and its inputs (deploy, preview). */
export const stackInputOptions = {
  'stack-name': { type: 'string' },
  'template-file': { type: 'string' },
  parameters: { type: 'string', multiple: true },
  parameter: { type: 'string', multiple: true },
  tag: { type: 'string', multiple: true },
  region: { type: 'string' },
} as const;

/** --stack-name, checked (missing or not a CloudFormation stack name is a problem). */
export function stackNameOption(flags: FlagValues, problems: string[]): string | undefined {
  const stackName = asString(flags['stack-name']);
  const found = stackNameProblems(stackName);
  problems.push(...found);
  return found.length === 0 ? stackName : undefined;
}

/** --runner-id as a number, or undefined when not given; a bad value is recorded as a problem. */
export function runnerIdOption(flags: FlagValues, problems: string[]): number | undefined {
  const raw = asString(flags['runner-id']);
  return raw === undefined ? undefined : parsePositiveInteger('--runner-id', raw, 0, problems);
}
