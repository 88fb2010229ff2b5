/**
 * Errors that end a command, each with the exit code the CLI documents.
 * Modules throw these; only cli.ts turns them into output and an exit code.
 */

export const ExitCode = {
  Success: 0,
  Failure: 1,
  BadInput: 2,
  GateRefused: 3,
  Interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** The user gave something we cannot use: files, flags, parameters, environment. Exit 2. */
export class InputError extends Error {
  readonly exitCode = ExitCode.BadInput;
  /** Every problem found, so one run shows them all. */
  readonly problems: string[];
  constructor(problems: string | string[]) {
    const list = Array.isArray(problems) ? problems : [problems];
    super(list.join('; '));
    this.name = 'InputError';
    this.problems = list;
  }
}

/** AWS or GitLab said no, or a stack operation did not succeed. Exit 1. */
export class OperationError extends Error {
  readonly exitCode = ExitCode.Failure;
  /** Extra lines that explain the failure (first failing resources, what to do). */
  readonly details: string[];
  constructor(message: string, details: string[] = []) {
    super(message);
    this.name = 'OperationError';
    this.details = details;
  }
}

/** A preview gate refused the change (replacement or permission change not allowed). Exit 3. */
export class GateError extends Error {
  readonly exitCode = ExitCode.GateRefused;
  constructor(message: string) {
    super(message);
    this.name = 'GateError';
  }
}

/** SIGINT/SIGTERM arrived; the command cleaned up what it could. Exit 130. */
export class InterruptedError extends Error {
  readonly exitCode = ExitCode.Interrupted;
  constructor(message: string) {
    super(message);
    this.name = 'InterruptedError';
  }
}

export type RunnerFleetError = InputError | OperationError | GateError | InterruptedError;

export function isRunnerFleetError(error: unknown): error is RunnerFleetError {
  return (
    error instanceof InputError ||
    error instanceof OperationError ||
    error instanceof GateError ||
    error instanceof InterruptedError
  );
}

/** The first line of an error's message: enough for a one-line report, never a stack trace. */
export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]?.trim() ?? message;
}

/**
 * Waits for work that may fail with bad input and, if it does, adds its
 * problems to the list instead of stopping, so one run reports them all.
 * Other errors pass through.
 */
export async function collectInputProblems<T>(work: Promise<T>, problems: string[]): Promise<T | undefined> {
  try {
    return await work;
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    problems.push(...error.problems);
    return undefined;
  }
}

const HINTS = Symbol('runner-fleet hints');

/**
 * Adds a line of advice to any error (an SDK error included) on its way up;
 * cli.ts prints it under the error. Returns the error, for `throw withHint(e, ...)`.
 */
export function withHint<T>(error: T, hint: string): T {
  if (typeof error === 'object' && error !== null) {
    const carrier = error as { [HINTS]?: string[] };
    const hints = carrier[HINTS] ?? [];
    if (!hints.includes(hint)) carrier[HINTS] = [...hints, hint];
  }
  return error;
}

export function hintsOf(error: unknown): string[] {
  return typeof error === 'object' && error !== null ? ((error as { [HINTS]?: string[] })[HINTS] ?? []) : [];
}
