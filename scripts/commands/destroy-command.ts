/** Inputs and wiring of `runner-fleet destroy`; the flow is in destroy.ts. */
import type { Stack } from '@aws-sdk/client-cloudformation';
import type { SSMClient } from '@aws-sdk/client-ssm';
import {
  autoScalingClient,
  awsSetupProblems,
  cloudFormationClient,
  s3Client,
  ssmClient,
} from '../aws/clients.ts';
import { describeStack, stackParameterValue } from '../aws/cloudformation.ts';
import { readRunnerToken, tokenParameterOfStack } from '../aws/runner-token-parameter.ts';
import { allowOwnFleet, gitlabUrl, minutes, region, runnerId, stackName } from '../cli-input/common-flags.ts';
import { apiRoot, gitlabApiUrl } from '../config/gitlab-access.ts';
import { refuseOwnFleet } from '../config/own-fleet.ts';
import { firstLine, InputError } from '../errors.ts';
import { createGitLabClient, type GitLabClient } from '../gitlab/client.ts';
import type { Logger } from '../log.ts';
import { defineCommand, regionOption } from './command-spec.ts';
import { destroy } from './destroy.ts';
import { findFleetRunner } from './fleet-runner.ts';

export const destroyCommand = defineCommand({
  name: 'destroy',
  synopsis: 'runner-fleet destroy --stack-name NAME --yes-destroy-stack NAME [options]',
  flags: {
    'stack-name': stackName,
    'yes-destroy-stack': {
      type: 'text',
      placeholder: 'NAME',
      help: 'confirmation: the same stack name again',
    },
    region,
    'timeout-minutes': minutes(
      120,
      'longest wait for the deletion; instances drain their running jobs before they terminate',
    ),
    'gitlab-url': gitlabUrl,
    'runner-id': {
      ...runnerId,
      help: "the fleet's GitLab runner, to tell whether this job runs on it (else found from RUNNER_FLEET_RUNNER_TOKEN, else the id create-runner recorded on the stack's token parameter)",
    },
    'allow-own-fleet': allowOwnFleet,
    'only-when-played-by-hand': {
      type: 'switch',
      help: 'for a GitLab stop job: refuse (exit 2, before any AWS call) unless the job was played by hand (CI_JOB_MANUAL=true), since a when: in its rules overrides when: manual; RUNNER_FLEET_ALLOW_AUTOMATIC=true lifts it',
    },
  },
  environment: {
    CI_JOB_MANUAL: {
      help: 'true in a GitLab job that waited to be played by hand (for --only-when-played-by-hand)',
    },
    RUNNER_FLEET_ALLOW_AUTOMATIC: {
      help: "true lets --only-when-played-by-hand destroy a stack in a job started automatically, e.g. the cleanup of a throwaway stack (the destroy component's allow_automatic)",
    },
    RUNNER_FLEET_RUNNER_TOKEN: {
      help: "the fleet's glrt- runner token: with it, runner managers of the deleted instances that are still registered are removed (DELETE /runners/managers); without it, the token in the stack's token parameter is used",
    },
  },
  notes: `The stack's cache bucket is emptied first (it holds only disposable job
caches), so CloudFormation can delete it.`,
  checks: [
    ({ flags }) => {
      const confirmation = flags['yes-destroy-stack'];
      return flags['stack-name'] && confirmation !== flags['stack-name']
        ? `destroy needs --yes-destroy-stack ${flags['stack-name']} (the stack name again) to confirm${confirmation ? `; got ${confirmation}` : ''}`
        : undefined;
    },
    ({ flags, env }) =>
      env.RUNNER_FLEET_RUNNER_TOKEN && !flags['gitlab-url']
        ? 'RUNNER_FLEET_RUNNER_TOKEN is set but no GitLab URL: pass --gitlab-url or set CI_SERVER_URL'
        : undefined,
  ],
  async run({ flags, env, problems }, context) {
    const refusal = notPlayedByHand(flags, env);
    // Alone and first: whatever else is wrong, a job nobody played destroys nothing and calls nothing.
    if (refusal) throw new InputError(refusal);
    const cloudFormation = cloudFormationClient(regionOption(flags.region));
    problems.push(...(await awsSetupProblems(cloudFormation)));
    if (problems.length > 0) throw new InputError(problems);
    const stack = flags['stack-name'];
    const apiUrl = gitlabApiUrl(flags['gitlab-url']);
    // DELETE /runners/managers and POST /runners/verify authenticate with the runner token; no API token is needed.
    const gitlab = apiUrl ? createGitLabClient({ apiUrl, token: '' }) : undefined;
    const ssm = () => ssmClient(regionOption(flags.region));
    let described: Promise<Stack | undefined> | undefined;
    const fleetStack = () => {
      described ??= describeStack(cloudFormation, stack);
      return described;
    };
    await refuseOwnFleet({
      verb: 'destroy',
      stackName: stack,
      allowOwnFleet: flags['allow-own-fleet'],
      env: context.env,
      log: context.log,
      fleetRunnerId: async () =>
        (
          await findFleetRunner({
            runnerIdFlag: flags['runner-id'],
            runnerToken: env.RUNNER_FLEET_RUNNER_TOKEN,
            gitlab,
            stack: fleetStack,
            ssm,
            log: context.log,
          })
        )?.id,
    });
    const runnerToken = env.RUNNER_FLEET_RUNNER_TOKEN;
    const runnerCleanup = runnerToken
      ? gitlab && { client: gitlab, runnerToken }
      : await storedTokenCleanup(fleetStack, ssm, apiUrl, context.log);
    await destroy(
      { stackName: stack, timeoutMinutes: flags['timeout-minutes'] },
      {
        cloudFormation,
        autoScaling: await autoScalingClient(regionOption(flags.region)),
        s3: () => s3Client(regionOption(flags.region)),
        log: context.log,
        signal: context.signal,
        ...(runnerCleanup ? { runnerCleanup } : {}),
      },
    );
  },
});

/**
 * The clean-up of leftover managers with the token in the stack's token
 * parameter (create-runner put it there), read before the stack goes. The
 * token goes only to the GitLab the fleet registers with: the stack's
 * GitLabUrl, else this job's GitLab. Any failure here only costs that
 * clean-up, so it warns.
 */
async function storedTokenCleanup(
  fleetStack: () => Promise<Stack | undefined>,
  ssm: () => Promise<SSMClient>,
  jobApiUrl: string | undefined,
  log: Logger,
): Promise<{ client: GitLabClient; runnerToken: string } | undefined> {
  let parameterName: string | undefined;
  try {
    const stack = await fleetStack();
    parameterName = tokenParameterOfStack(stack);
    const fleetGitLab = stackParameterValue(stack, 'GitLabUrl');
    const apiUrl = fleetGitLab ? apiRoot(fleetGitLab) : jobApiUrl;
    if (!parameterName || !apiUrl) return undefined;
    const runnerToken = await readRunnerToken(await ssm(), parameterName);
    return runnerToken ? { client: createGitLabClient({ apiUrl, token: '' }), runnerToken } : undefined;
  } catch (error) {
    log.warn(
      `could not read the runner token${parameterName ? ` in ${parameterName}` : ''}: ${firstLine(error)}; leftover runner managers will not be removed`,
    );
    return undefined;
  }
}

/** The refusal of --only-when-played-by-hand, or undefined when the job may go on. */
export function notPlayedByHand(
  flags: { 'stack-name': string; 'only-when-played-by-hand': boolean },
  env: { CI_JOB_MANUAL: string | undefined; RUNNER_FLEET_ALLOW_AUTOMATIC: string | undefined },
): string | undefined {
  if (!flags['only-when-played-by-hand']) return undefined;
  if (env.RUNNER_FLEET_ALLOW_AUTOMATIC === 'true' || env.CI_JOB_MANUAL === 'true') return undefined;
  return `refusing to destroy ${flags['stack-name']}: this stop job was not started by hand (a when: in its rules overrides when: manual); give every rule when: manual, or for a throwaway stack use the destroy component with allow_automatic: true`;
}
