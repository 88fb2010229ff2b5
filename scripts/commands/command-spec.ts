/** What every command module provides to the CLI, and small flag helpers they share. */
import type { ParseArgsConfig } from 'node:util';
import type { Logger } from '../log.ts';

export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface CommandContext {
  log: Logger;
  signal: AbortSignal;
  env: NodeJS.ProcessEnv;
}

export interface CommandSpec {
  name: string;
  summary: string;
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
