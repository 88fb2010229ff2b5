/** Flags and wiring of `runner-fleet deploy`; the flow is in deploy.ts. */
import { awsSetupProblems, cloudFormationClient, ssmClient } from '../aws/clients.ts';
import { putSecureStringIfChanged } from '../aws/ssm.ts';
import {
  checkWritableFile,
  loadStackInputs,
  parsePositiveInteger,
  type StackInputs,
} from '../config/deploy-config.ts';
import { collectInputProblems, InputError } from '../errors.ts';
import {
  asString,
  type CommandSpec,
  type FlagValues,
  regionOption,
  stackInputOptions,
} from './command-spec.ts';
import { deploy } from './deploy.ts';

export const deployCommand: CommandSpec = {
  name: 'deploy',
  usage: `runner-fleet deploy --stack-name NAME --template-file FILE [options]

  --stack-name NAME         CloudFormation stack to create or update
  --template-file FILE      template (YAML or JSON)
  --parameters FILE         parameter file: YAML/JSON map {Key: value} or AWS CLI
                            list [{ParameterKey, ParameterValue}]; repeatable, later wins
  --parameter KEY=VALUE     one parameter value; repeatable; overrides files
  --tag KEY=VALUE           stack tag (propagated to resources); repeatable
  --region REGION           AWS region (default: AWS_REGION / AWS_DEFAULT_REGION)
  --outputs-dotenv FILE     write stack outputs as KEY=value lines (GitLab dotenv report)
  --timeout-minutes N       longest wait for the stack operation (default 60)
  --wait-minutes N          longest wait for an operation already running (default 30)
  --runner-token-from-env VAR
                            store the runner token held in environment variable VAR
                            as an SSM SecureString before deploying (never printed)
  --runner-token-parameter NAME
                            the SSM parameter for it (default: the RunnerTokenParameterName
                            parameter value); passed to the stack as RunnerTokenParameterName
  --runner-token-kms-key KEY  KMS key id/alias for the SecureString (default: aws/ssm)

Parameters not given keep their previous value on update and take the template
default on create; NoEcho values are never printed.`,
  options: {
    ...stackInputOptions,
    'outputs-dotenv': { type: 'string' },
    'timeout-minutes': { type: 'string' },
    'wait-minutes': { type: 'string' },
    'runner-token-from-env': { type: 'string' },
    'runner-token-parameter': { type: 'string' },
    'runner-token-kms-key': { type: 'string' },
  },
  async run(flags, context) {
    const problems: string[] = [];
    const timeoutMinutes = parsePositiveInteger(
      '--timeout-minutes',
      asString(flags['timeout-minutes']),
      60,
      problems,
    );
    const waitMinutes = parsePositiveInteger('--wait-minutes', asString(flags['wait-minutes']), 30, problems);
    const outputsDotenv = asString(flags['outputs-dotenv']);
    problems.push(...(await checkWritableFile('--outputs-dotenv', outputsDotenv)));
    const inputs = await collectInputProblems(loadStackInputs(flags), problems);
    const cloudFormation = cloudFormationClient(regionOption(flags));
    problems.push(...(await awsSetupProblems(cloudFormation)));
    const tokenPlan = inputs ? planRunnerToken(flags, context.env, inputs, problems) : undefined;
    if (problems.length > 0 || !inputs) throw new InputError(problems);

    if (tokenPlan) {
      const outcome = await putSecureStringIfChanged(
        await ssmClient(regionOption(flags)),
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
        outputsDotenv,
        timeoutMinutes,
        waitForOtherOperationMinutes: waitMinutes,
      },
      { cloudFormation, log: context.log, signal: context.signal },
    );
  },
};

/** SSM parameter names: letters, digits and _.-/ ; a leading slash for hierarchies. */
const SSM_NAME = /^[A-Za-z0-9_.\-/]{1,1011}$/;

interface RunnerTokenPlan {
  token: string;
  parameterName: string;
  kmsKeyId: string | undefined;
}

/**
 * Works out where the runner token goes. The token itself comes only from the
 * environment variable named on the command line, so it never appears in
 * argv, in a parameter file or in the stack.
 */
function planRunnerToken(
  flags: FlagValues,
  env: NodeJS.ProcessEnv,
  inputs: StackInputs,
  problems: string[],
): RunnerTokenPlan | undefined {
  const variable = asString(flags['runner-token-from-env']);
  if (!variable) return undefined;
  const token = env[variable]?.trim() ?? '';
  if (!token) {
    problems.push(
      `environment variable ${variable} (--runner-token-from-env) is empty or unset: set it to the fleet's glrt- runner token, e.g. a masked CI/CD variable`,
    );
  }
  const parameterName =
    asString(flags['runner-token-parameter']) ?? inputs.parameterValues.get('RunnerTokenParameterName') ?? '';
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
  return { token, parameterName, kmsKeyId: asString(flags['runner-token-kms-key']) };
}
