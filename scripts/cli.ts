/**
 * Entry point: parse argv, dispatch to a command, turn errors into one clear
 * line and a documented exit code. No command logic lives here.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { COMMANDS, type CommandSpec } from './commands/registry.ts';
import { ExitCode, firstLine, InputError, isRunnerFleetError, OperationError } from './errors.ts';
import { createLogger, type Logger } from './log.ts';

export const EXIT_CODES_HELP = `Exit codes:
  0    success (also: no changes to deploy)
  1    AWS or GitLab failure: the stack operation failed, rolled back or timed out
  2    bad input: unknown flag, unreadable or malformed file, unknown parameter,
       invalid KEY=VALUE, missing region or credentials
  3    the preview gate refused the change (replacement or permission change)
  130  interrupted (SIGINT/SIGTERM); pending change sets are deleted`;

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const list = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n');
  return `runner-fleet: GitLab Runner fleets on AWS Auto Scaling with spot

Usage: runner-fleet <command> [options]    runner-fleet <command> --help

Commands:
${list}

AWS region, credentials and endpoint come from the standard AWS environment
(AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE).

${EXIT_CODES_HELP}`;
}

export function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export async function runCli(argv: readonly string[], log: Logger = createLogger()): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
    log.info(mainHelp());
    return verb ? ExitCode.Success : ExitCode.BadInput;
  }
  if (verb === '--version') {
    log.info(version());
    return ExitCode.Success;
  }
  const command = COMMANDS.find((c) => c.name === verb);
  if (!command) {
    log.error(`unknown command ${verb}: run runner-fleet --help for the list`);
    return ExitCode.BadInput;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    log.info(`${command.usage}\n\n${EXIT_CODES_HELP}`);
    return ExitCode.Success;
  }

  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      // A second signal means "now": skip the clean-up.
      process.exit(ExitCode.Interrupted);
    }
    log.warn(`${signal} received: stopping cleanly (send it again to stop at once)`);
    controller.abort(new Error(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const flags = parseFlags(command, rest);
    await command.run(flags, { log, signal: controller.signal, env: process.env });
    return ExitCode.Success;
  } catch (error) {
    return reportError(error, log, command);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function parseFlags(command: CommandSpec, args: readonly string[]) {
  try {
    return parseArgs({ args: [...args], options: command.options, strict: true, allowPositionals: false })
      .values;
  } catch (error) {
    throw new InputError(`${firstLine(error)}; run runner-fleet ${command.name} --help`);
  }
}

function reportError(error: unknown, log: Logger, command: CommandSpec): number {
  if (isRunnerFleetError(error)) {
    if (error instanceof InputError) {
      for (const problem of error.problems) log.error(problem);
    } else {
      log.error(error.message);
    }
    if (error instanceof OperationError) {
      for (const detail of error.details) log.error(`  ${detail}`);
    }
    return error.exitCode;
  }
  // AWS SDK service errors: one line with the error name; never the request, which may carry values.
  const name = error instanceof Error ? error.name : 'Error';
  const message = firstLine(error);
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT' || code === 'ECONNRESET') {
    const endpoint = process.env.AWS_ENDPOINT_URL ? ` ${process.env.AWS_ENDPOINT_URL}` : '';
    log.error(
      `${command.name} failed: cannot reach the AWS endpoint${endpoint} (${code}); check the network and AWS_ENDPOINT_URL`,
    );
    return ExitCode.Failure;
  }
  const httpStatus = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
  if (/XML parse error|Unexpected token|is not valid JSON/.test(message ?? '') && httpStatus !== undefined) {
    // Not an AWS error document: an emulator without this API, a proxy page, an outage.
    const endpoint = process.env.AWS_ENDPOINT_URL ? ` (${process.env.AWS_ENDPOINT_URL})` : '';
    log.error(
      `${command.name} failed: the AWS endpoint${endpoint} answered HTTP ${httpStatus} with something that is not an AWS API response; if it is an emulator, it may not implement this call`,
    );
    return ExitCode.Failure;
  }
  log.error(`${command.name} failed: ${name}: ${message}`);
  if (process.env.RUNNER_FLEET_DEBUG === '1' && error instanceof Error && error.stack) {
    log.error(error.stack);
  }
  return ExitCode.Failure;
}
