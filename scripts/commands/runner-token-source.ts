/**
 * Where the fleet's runner token lives, for the commands that manage the
 * runner's identity (create-runner, rotate-token, reconcile): the SSM
 * parameter named by --runner-token-parameter, else the stack's
 * RunnerTokenParameterName parameter.
 */
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { describeStack } from '../aws/cloudformation.ts';
import { TOKEN_PARAMETER_KEY, tokenParameterOfStack } from '../aws/runner-token-parameter.ts';
import type { TextFlag } from '../cli-input/schema.ts';
import { InputError } from '../errors.ts';

/** SSM parameter names: letters, digits and _.-/ ; the stack wants a leading slash. */
export const SSM_PARAMETER_NAME = /^\/?[A-Za-z0-9_.\-/]{1,1011}$/;

/** --runner-token-parameter of the commands that manage the runner's identity. */
export const runnerTokenParameter = {
  type: 'text',
  placeholder: 'NAME',
  check: (name) =>
    SSM_PARAMETER_NAME.test(name)
      ? undefined
      : `invalid --runner-token-parameter ${name}: use letters, digits and _.-/ (e.g. /runner-fleet/prod/token)`,
  help: "SSM SecureString for the runner token (default: the stack's RunnerTokenParameterName, with --stack-name)",
} as const satisfies TextFlag;

/** The cross check of the commands that take the parameter: it, or a stack to read it from. */
export function tokenParameterOrStack(input: {
  flags: { 'runner-token-parameter'?: string | undefined; 'stack-name'?: string | undefined };
}): string | undefined {
  return input.flags['runner-token-parameter'] || input.flags['stack-name']
    ? undefined
    : 'pass --runner-token-parameter NAME, or --stack-name of a fleet that has one';
}

/** The parameter name: the flag, else the stack's RunnerTokenParameterName. */
export async function tokenParameterName(
  cloudFormation: CloudFormationClient,
  flag: string | undefined,
  stackName: string | undefined,
): Promise<string> {
  if (flag) return flag;
  if (!stackName) {
    throw new InputError('pass --runner-token-parameter NAME, or --stack-name of a fleet that has one');
  }
  const stack = await describeStack(cloudFormation, stackName);
  if (!stack) {
    throw new InputError(
      `stack ${stackName} does not exist; pass --runner-token-parameter NAME (the SSM parameter deploy will give the stack)`,
    );
  }
  const value = tokenParameterOfStack(stack);
  if (!value) {
    throw new InputError(
      `stack ${stackName} keeps its runner token elsewhere (its ${TOKEN_PARAMETER_KEY} is empty): runner-fleet manages tokens in SSM only; pass --runner-token-parameter`,
    );
  }
  return value;
}
