/**
 * Flags several commands take, declared once so they read, check and show
 * alike everywhere. A command puts them in its own table, often with its own
 * help sentence (`{ ...stackName, help: '...' }`).
 */
import { gitlabAddressProblem, stackNameProblem } from './checks.ts';
import type { IntegerFlag, SwitchFlag, TextFlag } from './schema.ts';

/** For commands that can do without a stack when given what it would have told them. */
export const optionalStackName = {
  type: 'text',
  placeholder: 'NAME',
  check: stackNameProblem,
  help: 'the fleet stack',
} as const satisfies TextFlag;

export const stackName = { ...optionalStackName, required: true } as const satisfies TextFlag;

export const region = {
  type: 'text',
  placeholder: 'REGION',
  // The AWS SDK reads AWS_REGION itself; a flag only overrides it.
  help: 'AWS region (default: AWS_REGION)',
} as const satisfies TextFlag;

/** Instance or API address of GitLab; runner-fleet adds /api/v4 when it is missing. */
export const gitlabUrl = {
  type: 'text',
  placeholder: 'URL',
  env: ['CI_API_V4_URL', 'CI_SERVER_URL'],
  check: gitlabAddressProblem,
  help: 'GitLab',
} as const satisfies TextFlag;

export const runnerId = {
  type: 'integer',
  placeholder: 'N',
  min: 1,
  help: "the fleet's GitLab runner (else found from RUNNER_FLEET_RUNNER_TOKEN, else the id create-runner recorded on the stack's token parameter)",
} as const satisfies IntegerFlag;

export const runnerTokenKmsKey = {
  type: 'text',
  placeholder: 'KEY',
  help: 'KMS key id/alias for the SecureString (default: aws/ssm)',
} as const satisfies TextFlag;

export const junit = {
  type: 'text',
  placeholder: 'FILE',
  writes: true,
  help: 'write a JUnit report (one test case per check)',
} as const satisfies TextFlag;

export const allowOwnFleet = {
  type: 'switch',
  help: "go on even when this GitLab job runs on the fleet's own runner (CI_RUNNER_ID / CI_RUNNER_DESCRIPTION); refused otherwise",
} as const satisfies SwitchFlag;

/** A longest wait, in minutes; `env` names the variables read when the flag is not given. */
export function minutes(defaultMinutes: number, help: string, env: readonly string[] = []) {
  return {
    type: 'integer',
    placeholder: 'N',
    min: 1,
    default: defaultMinutes,
    help,
    ...(env.length > 0 ? { env } : {}),
  } as const satisfies IntegerFlag;
}

/** --runner-id from a component's runner_id input, whose 0 means "find it from the token or the recorded id". */
export const runnerIdFromJob = {
  ...runnerId,
  env: ['RUNNER_FLEET_RUNNER_ID'],
  envNotGiven: '0',
} as const satisfies IntegerFlag;

/** For the commands that cannot work without GitLab: --gitlab-url or a CI variable must name it. */
export function gitlabUrlRequired(input: {
  flags: { 'gitlab-url'?: string | undefined };
}): string | undefined {
  return input.flags['gitlab-url'] ? undefined : 'no GitLab URL: pass --gitlab-url or set CI_SERVER_URL';
}
