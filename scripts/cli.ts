/**
 * Entry point: parse argv, dispatch to a command, turn errors into one clear
 * line and a documented exit code. No command logic lives here.
 */
import { readFileSync } from 'node:fs';
import { isUnparsableResponse } from './aws/errors.ts';
import { readCommandLine } from './cli-input/command-line.ts';
import type { CommandSpec } from './commands/command-spec.ts';
import { COMMANDS } from './commands/registry.ts';
import { adoptNamedRunnerToken, namedRunnerToken } from './config/runner-token-variable.ts';
import {
  ExitCode,
  firstLine,
  hintsOf,
  InputError,
  isRunnerFleetError,
  OperationError,
  withHint,
} from './errors.ts';
import { createLogger, type Logger } from './log.ts';

export const EXIT_CODES_HELP = `Exit codes:
  0    success (also: no changes to deploy)
  1    AWS or GitLab failure: the stack operation failed, rolled back or timed out;
       AWS refused a call, kept throttling, or did not answer (one line names the call)
  2    bad input: unknown flag, unreadable or malformed file, unknown parameter,
       invalid KEY=VALUE or stack name, unwritable output path, invalid URL,
       missing region or credentials (all listed before any AWS call)
  3    the preview gate refused the change (replacement or permission change)
  130  interrupted (SIGINT/SIGTERM): pending change sets are deleted, an update is
       cancelled; a signal repeated within 1 s never skips this clean-up`;

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const list = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n');
  return `runner-fleet: GitLab Runner fleets on AWS Auto Scaling with spot

Usage: runner-fleet <command> [options]    runner-fleet <command> --help

Commands:
${list}

AWS region, credentials and endpoint come from the standard AWS environment
(AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE);
RUNNER_FLEET_AWS_AUTH=oidc assumes RUNNER_FLEET_AWS_ROLE_ARN with the GitLab ID token in
RUNNER_FLEET_AWS_ID_TOKEN. RUNNER_FLEET_RUNNER_TOKEN_VARIABLE names a variable that holds
the runner token in place of RUNNER_FLEET_RUNNER_TOKEN.
Every AWS call ends: one attempt waits RUNNER_FLEET_AWS_TIMEOUT_SECONDS (default 20),
an unanswered call is tried 3 times, throttling up to AWS_MAX_ATTEMPTS (default 8).

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

export async function runCli(
  argv: readonly string[],
  log: Logger = createLogger({ knownSecrets: secretsFromEnv(process.env) }),
): Promise<number> {
  const [verb, ...rest] = argv;
  adoptNamedRunnerToken(process.env);
  if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
    log.info(mainHelp());
    return verb ? ExitCode.Success : ExitCode.BadInput;
  }
  if (verb === '--version') {
    log.info(version());
    return ExitCode.Success;
  }
  const entry = COMMANDS.find((c) => c.name === verb);
  if (!entry) {
    log.error(`unknown command ${verb}: run runner-fleet --help for the list`);
    return ExitCode.BadInput;
  }
  // Loaded here, not at start-up: the command module and the AWS SDK it brings
  // cost more than the rest of the CLI, and `--help` needs neither.
  const [command, aws] = await Promise.all([entry.load(), import('./aws/clients.ts')]);
  if (rest.includes('--help') || rest.includes('-h')) {
    log.info(`${command.usage}\n\n${EXIT_CODES_HELP}`);
    return ExitCode.Success;
  }

  const controller = new AbortController();
  let firstSignal: { name: NodeJS.Signals; at: number } | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (!firstSignal) {
      firstSignal = { name: signal, at: Date.now() };
      log.warn(
        `${signal} received: stopping cleanly${signal === 'SIGINT' ? ' (press Ctrl-C again to stop at once, skipping the clean-up)' : ''}`,
      );
      controller.abort(new InterruptSignal(signal));
      return;
    }
    // timeout(1) and GitLab's cancel signal the process and then its group, so one
    // stop request can arrive twice within milliseconds; only a person pressing
    // Ctrl-C again, a moment later, means "skip the clean-up". SIGTERM never does:
    // whoever sends it follows with SIGKILL if they will not wait.
    if (signal === 'SIGINT' && Date.now() - firstSignal.at >= REPEATED_SIGNAL_GRACE_MS) {
      log.warn('SIGINT again: stopping at once; a pending change set or a running update may be left behind');
      process.exit(ExitCode.Interrupted);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  aws.reportAwsRetriesTo((line) => log.warn(line));
  const commandLine = readCommandLine(command.name, command.options, rest);
  try {
    await command.run(
      commandLine.values,
      { log, signal: controller.signal, env: process.env },
      commandLine.problems,
    );
    return ExitCode.Success;
  } catch (error) {
    if (error instanceof InputError && commandLine.problems.length > 0) {
      withHint(error, `run runner-fleet ${command.name} --help for its flags`);
    }
    if (controller.signal.aborted && !isRunnerFleetError(error)) {
      // Stopped by the signal before a command step could say what it had done.
      log.error(
        `${command.name} interrupted by ${firstSignal?.name ?? 'a signal'} before it started any stack operation`,
      );
      return ExitCode.Interrupted;
    }
    return reportError(error, log, command, aws);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    aws.reportAwsRetriesTo(() => undefined);
  }
}

/** A second signal sooner than this after the first is the same stop request delivered twice. */
const REPEATED_SIGNAL_GRACE_MS = 1_000;

class InterruptSignal extends Error {
  constructor(signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
    this.name = 'AbortError';
  }
}

/** Secret values this run may hold, masked in every line it prints. */
function secretsFromEnv(env: NodeJS.ProcessEnv): string[] {
  return [
    'RUNNER_FLEET_RUNNER_TOKEN',
    'RUNNER_FLEET_GITLAB_TOKEN',
    'RUNNER_FLEET_AWS_ID_TOKEN',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
  ]
    .map((name) => env[name]?.trim() ?? '')
    .concat(namedRunnerToken(env)?.value.trim() ?? '')
    .filter((value) => value.length >= 12);
}

/** How AWS errors are told apart (aws/clients.ts, passed in because it is loaded on demand). */
type AwsErrorKinds = Pick<typeof import('./aws/clients.ts'), 'awsActionOf' | 'isNoAnswer' | 'isThrottle'>;

function reportError(error: unknown, log: Logger, command: CommandSpec, aws: AwsErrorKinds): number {
  const hints = hintsOf(error);
  const code = reportErrorLines(error, log, command, aws);
  for (const hint of hints) log.error(`  ${hint}`);
  return code;
}

/** AWS errors that mean "this identity may not do that": retrying will not help. */
const ACCESS_DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'AuthorizationError',
  'InvalidClientTokenId',
  'ExpiredToken',
  'ExpiredTokenException',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
]);

function reportErrorLines(error: unknown, log: Logger, command: CommandSpec, aws: AwsErrorKinds): number {
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
  // AWS SDK service errors: one line with the action and error name; never the request, which may carry values.
  const name = error instanceof Error ? error.name : 'Error';
  const message = firstLine(error);
  const action = aws.awsActionOf(error);
  const service = (error as { $service?: string } | undefined)?.$service ?? 'AWS';
  const call = action ? `${service} ${action}` : 'an AWS call';
  const attempts = (error as { $metadata?: { attempts?: number } } | undefined)?.$metadata?.attempts;
  const errno = (error as NodeJS.ErrnoException | undefined)?.code;
  if (ACCESS_DENIED.has(name)) {
    log.error(
      `${command.name} failed: AWS refused ${call} (${name}); the identity running this job needs permission for it (see docs/security.md for the deployer role)`,
    );
    return ExitCode.Failure;
  }
  if (aws.isThrottle(error)) {
    log.error(
      `${command.name} failed: AWS kept throttling ${call} (${name}) after ${attempts ?? 'several'} attempts; other pipelines or tools are calling this account: run again later, or raise AWS_MAX_ATTEMPTS`,
    );
    return ExitCode.Failure;
  }
  if (aws.isNoAnswer(error)) {
    const endpoint = process.env.AWS_ENDPOINT_URL ? ` ${process.env.AWS_ENDPOINT_URL}` : '';
    const what =
      name === 'TimeoutError' ? 'got no answer in time' : `could not reach the AWS endpoint${endpoint}`;
    log.error(
      `${command.name} failed: ${call} ${what} (${errno ?? name}) after ${attempts ?? 1} attempt(s); check the network and AWS_ENDPOINT_URL, or raise RUNNER_FLEET_AWS_TIMEOUT_SECONDS`,
    );
    return ExitCode.Failure;
  }
  const httpStatus = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
  if (isUnparsableResponse(error) && httpStatus !== undefined) {
    // Not an AWS error document: an emulator without this API, a proxy page, an outage.
    const endpoint = process.env.AWS_ENDPOINT_URL ? ` (${process.env.AWS_ENDPOINT_URL})` : '';
    log.error(
      `${command.name} failed: the AWS endpoint${endpoint} answered ${call} with HTTP ${httpStatus} and something that is not an AWS API response; if it is an emulator, it may not implement this call`,
    );
    return ExitCode.Failure;
  }
  log.error(`${command.name} failed: ${action ? `${call}: ` : ''}${name}: ${message}`);
  if (process.env.RUNNER_FLEET_DEBUG === '1' && error instanceof Error && error.stack) {
    log.error(error.stack);
  }
  return ExitCode.Failure;
}
