/**
 * What every command module provides to the CLI, built from one declaration:
 * its input schema (flags, variables, cross checks; scripts/cli-input/) and
 * the run that gets the checked values. The summary lives in registry.ts, so
 * `runner-fleet --help` need not load any command.
 */
import type { ParseArgsConfig } from 'node:util';
import {
  type CheckedInput,
  type EnvironmentTable,
  type FlagTable,
  type InputSchema,
  parseArgsOptions,
  type RawFlags,
  readInput,
} from '../cli-input/schema.ts';
import { renderUsage } from '../cli-input/usage.ts';
import type { Logger } from '../log.ts';

export interface CommandContext {
  log: Logger;
  signal: AbortSignal;
  env: NodeJS.ProcessEnv;
}

/** A command as the CLI sees it: parse with `options`, show `usage`, then `run`. */
export interface CommandSpec {
  name: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /**
   * Checks the raw flags against the schema, then runs; every input problem,
   * those the command line already had (unknown flags, stray arguments)
   * first, is in one InputError (exit 2).
   */
  run(flags: RawFlags, context: CommandContext, commandLineProblems?: readonly string[]): Promise<void>;
}

/**
 * The checked input handed to a command: its values, and the problems found
 * so far, to which the command adds what only it can find out (the files it
 * reads, the AWS setup) before it refuses them all at once.
 */
export type CommandInput<F extends FlagTable, E extends EnvironmentTable> = CheckedInput<F, E> & {
  problems: string[];
};

export interface CommandDefinition<F extends FlagTable, E extends EnvironmentTable>
  extends InputSchema<F, E> {
  name: string;
  /** The first line of the help, e.g. `runner-fleet status --stack-name NAME [options]`. */
  synopsis: string;
  /** Paragraphs of the help after the flags. */
  notes?: string;
  run(input: CommandInput<F, E>, context: CommandContext): Promise<void>;
}

export function defineCommand<
  const F extends FlagTable,
  const E extends EnvironmentTable = Record<never, never>,
>(definition: CommandDefinition<F, E>): CommandSpec {
  return {
    name: definition.name,
    usage: renderUsage(definition),
    options: parseArgsOptions(definition.flags),
    async run(flags, context, commandLineProblems = []) {
      const input = await readInput(definition, flags, context.env);
      await definition.run({ ...input, problems: [...commandLineProblems, ...input.problems] }, context);
    },
  };
}

/** The `region` client option from --region, when given. */
export function regionOption(region: string | undefined): { region?: string } {
  return region ? { region } : {};
}
