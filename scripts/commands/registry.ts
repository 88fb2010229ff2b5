/**
 * The commands the CLI knows: their flags, help text and how flags become a
 * call of the command module. cli.ts stays a thin dispatcher.
 */
import type { ParseArgsConfig } from 'node:util';
import { checkAwsSetup, cloudFormationClient } from '../aws/clients.ts';
import { checkWritableFile, loadStackInputs, parsePositiveInteger } from '../config/deploy-config.ts';
import { InputError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { deploy } from './deploy.ts';

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

const stackInputOptions = {
  'stack-name': { type: 'string' },
  'template-file': { type: 'string' },
  parameters: { type: 'string', multiple: true },
  parameter: { type: 'string', multiple: true },
  tag: { type: 'string', multiple: true },
  region: { type: 'string' },
} as const;

const deployCommand: CommandSpec = {
  name: 'deploy',
  summary: 'create or update the fleet stack through a change set and follow it to the end',
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

Parameters not given keep their previous value on update and take the template
default on create; NoEcho values are never printed.`,
  options: {
    ...stackInputOptions,
    'outputs-dotenv': { type: 'string' },
    'timeout-minutes': { type: 'string' },
    'wait-minutes': { type: 'string' },
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
    let inputs: Awaited<ReturnType<typeof loadStackInputs>> | undefined;
    try {
      inputs = await loadStackInputs(flags);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      problems.push(...error.problems);
    }
    const cloudFormation = cloudFormationClient(regionOption(flags));
    try {
      await checkAwsSetup(cloudFormation);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      problems.push(...error.problems);
    }
    if (problems.length > 0 || !inputs) throw new InputError(problems);

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

export const COMMANDS: readonly CommandSpec[] = [deployCommand];

export function asString(value: FlagValues[string]): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function regionOption(flags: FlagValues): { region?: string } {
  const region = asString(flags.region);
  return region ? { region } : {};
}
