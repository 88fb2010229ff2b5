/** Inputs and wiring of `runner-fleet deploy`; the flow is in deploy.ts. */
import { awsSetupProblems, cloudFormationClient, ssmClient } from '../aws/clients.ts';
import { putSecureStringIfChanged } from '../aws/ssm.ts';
import { minutes, runnerTokenKmsKey } from '../cli-input/common-flags.ts';
import { loadStackInputs, type StackInputs, stackInputFlags } from '../config/deploy-config.ts';
import { RUNNER_TOKEN_VARIABLE_ENV } from '../config/runner-token-variable.ts';
import { collectInputProblems, InputError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { defineCommand, regionOption } from './command-spec.ts';
import { deploy } from './deploy.ts';

/** Names the runner settings the deploy component's create-runner step applied. */
const RUNNER_SETTINGS_FILE_ENV = 'RUNNER_FLEET_RUNNER_SETTINGS_FILE';

export const deployCommand = defineCommand({
  name: 'deploy',
  synopsis: 'runner-fleet deploy --stack-name NAME --template-file FILE [options]',
  flags: {
    ...stackInputFlags,
    'stack-name': { ...stackInputFlags['stack-name'], help: 'CloudFormation stack to create or update' },
    'outputs-dotenv': {
      type: 'text',
      placeholder: 'FILE',
      writes: true,
      help: 'write stack outputs as KEY=value lines (GitLab dotenv report)',
    },
    'timeout-minutes': minutes(60, 'longest wait for the stack operation', ['RUNNER_FLEET_TIMEOUT_MINUTES']),
    'wait-minutes': minutes(30, 'longest wait for an operation already running'),
    'runner-token-from-env': {
      type: 'text',
      placeholder: 'VAR',
      env: [RUNNER_TOKEN_VARIABLE_ENV],
      help: `store the runner token held in environment variable VAR as an SSM SecureString before deploying (never printed); when ${RUNNER_TOKEN_VARIABLE_ENV} names VAR, an unset VAR only leaves the SSM parameter as it is`,
    },
    'runner-token-parameter': {
      type: 'text',
      placeholder: 'NAME',
      env: ['RUNNER_FLEET_RUNNER_TOKEN_PARAMETER'],
      help: 'the SSM parameter for it (default: the RunnerTokenParameterName parameter value); passed to the stack as RunnerTokenParameterName',
    },
    'runner-token-kms-key': {
      ...runnerTokenKmsKey,
      help: 'KMS key id/alias for the SecureString; aws/ssm when none is given',
      env: ['RUNNER_FLEET_RUNNER_TOKEN_KMS_KEY'],
    },
  },
  environment: {
    [RUNNER_SETTINGS_FILE_ENV]: {
      help: 'set (by the deploy component) when runner-fleet create-runner made the runner and wrote its token to --runner-token-parameter: deploy then passes that name to the stack as RunnerTokenParameterName and stores no token itself',
    },
  },
  checks: [
    ({ flags, env }) =>
      env[RUNNER_SETTINGS_FILE_ENV] && !flags['runner-token-parameter']
        ? `${RUNNER_SETTINGS_FILE_ENV} (the deploy component's runner_settings_file) needs --runner-token-parameter NAME (its runner_token_parameter, the SSM parameter for the token)`
        : undefined,
  ],
  notes: `Parameters not given keep their previous value on update and take the template
default on create; NoEcho values are never printed.`,
  async run({ flags, env, given, problems }, context) {
    const inputs = await collectInputProblems(loadStackInputs(flags, context.env, given), problems);
    const cloudFormation = cloudFormationClient(regionOption(flags.region));
    problems.push(...(await awsSetupProblems(cloudFormation)));
    const tokenPlan = inputs
      ? planRunnerToken(
          {
            ...flags,
            tokenVariableNamedByEnv: !given.has('runner-token-from-env'),
            tokenMadeByCreateRunner: env[RUNNER_SETTINGS_FILE_ENV] !== undefined,
          },
          context,
          inputs,
          problems,
        )
      : undefined;
    if (problems.length > 0 || !inputs) throw new InputError(problems);

    if (tokenPlan) {
      const outcome = await putSecureStringIfChanged(
        await ssmClient(regionOption(flags.region)),
        tokenPlan.parameterName,
        tokenPlan.token,
        {
          ...(tokenPlan.kmsKeyId ? { kmsKeyId: tokenPlan.kmsKeyId } : {}),
          description: `GitLab runner authentication token of runner-fleet stack ${inputs.stackName}`,
        },
      );
      context.log.info(
        outcome === 'unchanged'
          ? `Runner token in SSM parameter ${tokenPlan.parameterName} is up to date`
          : `Runner token ${outcome === 'created' ? 'stored in new' : 'updated in'} SSM SecureString ${tokenPlan.parameterName} (value not shown)`,
      );
    }

    await deploy(
      {
        ...inputs,
        outputsDotenv: flags['outputs-dotenv'],
        timeoutMinutes: flags['timeout-minutes'],
        waitForOtherOperationMinutes: flags['wait-minutes'],
      },
      { cloudFormation, log: context.log, signal: context.signal },
    );
  },
});

/** SSM parameter names: letters, digits and _.-/ ; a leading slash for hierarchies. */
const SSM_NAME = /^[A-Za-z0-9_.\-/]{1,1011}$/;

interface RunnerTokenPlan {
  token: string;
  parameterName: string;
  kmsKeyId: string | undefined;
}

/**
 * Works out where the runner token goes. The token itself comes only from the
 * environment variable named on the command line (or by
 * RUNNER_FLEET_RUNNER_TOKEN_VARIABLE), so it never appears in argv, in a
 * parameter file or in the stack. When create-runner has already written it
 * (the deploy component with runner_settings_file), the stack only gets the
 * parameter's name.
 */
function planRunnerToken(
  flags: {
    'runner-token-from-env': string | undefined;
    'runner-token-parameter': string | undefined;
    'runner-token-kms-key': string | undefined;
    /** The variable's name came from RUNNER_FLEET_RUNNER_TOKEN_VARIABLE: a CI job whose token is optional. */
    tokenVariableNamedByEnv: boolean;
    tokenMadeByCreateRunner: boolean;
  },
  context: { env: NodeJS.ProcessEnv; log: Logger },
  inputs: StackInputs,
  problems: string[],
): RunnerTokenPlan | undefined {
  const variable = flags['runner-token-from-env'];
  if (flags.tokenMadeByCreateRunner && (flags.tokenVariableNamedByEnv || !variable)) {
    const parameterName = flags['runner-token-parameter'];
    if (parameterName) inputs.parameterValues.set('RunnerTokenParameterName', parameterName);
    return undefined;
  }
  if (!variable) return undefined;
  const token = context.env[variable]?.trim() ?? '';
  if (!token && flags.tokenVariableNamedByEnv) {
    context.log.info(`${variable} is not set; the runner token in SSM is left as it is`);
    return undefined;
  }
  if (!token) {
    problems.push(
      `environment variable ${variable} (--runner-token-from-env) is empty or unset: set it to the fleet's glrt- runner token, e.g. a masked CI/CD variable`,
    );
  }
  const parameterName =
    flags['runner-token-parameter'] ?? inputs.parameterValues.get('RunnerTokenParameterName') ?? '';
  if (!parameterName) {
    problems.push(
      '--runner-token-from-env needs --runner-token-parameter NAME (or a RunnerTokenParameterName parameter value)',
    );
  } else if (!SSM_NAME.test(parameterName)) {
    problems.push(`invalid --runner-token-parameter ${parameterName}: use letters, digits and _.-/`);
  } else if (inputs.template.parameters.has('RunnerTokenParameterName')) {
    const given = inputs.parameterValues.get('RunnerTokenParameterName');
    if (given !== undefined && given !== parameterName) {
      problems.push(
        `--runner-token-parameter ${parameterName} differs from parameter RunnerTokenParameterName=${given}: give one of them`,
      );
    }
    inputs.parameterValues.set('RunnerTokenParameterName', parameterName);
  }
  if (problems.length > 0) return undefined;
  return { token, parameterName, kmsKeyId: flags['runner-token-kms-key'] };
}
