/** Inputs and wiring of `runner-fleet destroy`; the flow is in destroy.ts. */
import { autoScalingClient, awsSetupProblems, cloudFormationClient, s3Client } from '../aws/clients.ts';
import { allowOwnFleet, gitlabUrl, minutes, region, runnerId, stackName } from '../cli-input/common-flags.ts';
import { gitlabApiUrl } from '../config/gitlab-access.ts';
import { refuseOwnFleet } from '../config/own-fleet.ts';
import { InputError } from '../errors.ts';
import { createGitLabClient } from '../gitlab/client.ts';
import { fleetRunnerIdFor } from '../gitlab/runners.ts';
import { defineCommand, regionOption } from './command-spec.ts';
import { destroy } from './destroy.ts';

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
      help: "the fleet's GitLab runner, to tell whether this job runs on it (else found from RUNNER_FLEET_RUNNER_TOKEN)",
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
      help: "the fleet's glrt- runner token: with it, runner managers of the deleted instances that are still registered are removed (DELETE /runners/managers)",
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
    const runnerToken = env.RUNNER_FLEET_RUNNER_TOKEN;
    const apiUrl = gitlabApiUrl(flags['gitlab-url']);
    await refuseOwnFleet({
      verb: 'destroy',
      stackName: stack,
      allowOwnFleet: flags['allow-own-fleet'],
      env: context.env,
      log: context.log,
      fleetRunnerId: () => fleetRunnerIdFor({ runnerIdFlag: flags['runner-id'], runnerToken, apiUrl }),
    });
    await destroy(
      { stackName: stack, timeoutMinutes: flags['timeout-minutes'] },
      {
        cloudFormation,
        autoScaling: await autoScalingClient(regionOption(flags.region)),
        s3: () => s3Client(regionOption(flags.region)),
        log: context.log,
        signal: context.signal,
        ...(runnerToken && apiUrl
          ? // DELETE /runners/managers authenticates with the runner token in the body; no API token is needed.
            { runnerCleanup: { client: createGitLabClient({ apiUrl, token: '' }), runnerToken } }
          : {}),
      },
    );
  },
});

/** The refusal of --only-when-played-by-hand, or undefined when the job may go on. */
export function notPlayedByHand(
  flags: { 'stack-name': string; 'only-when-played-by-hand': boolean },
  env: { CI_JOB_MANUAL: string | undefined; RUNNER_FLEET_ALLOW_AUTOMATIC: string | undefined },
): string | undefined {
  if (!flags['only-when-played-by-hand']) return undefined;
  if (env.RUNNER_FLEET_ALLOW_AUTOMATIC === 'true' || env.CI_JOB_MANUAL === 'true') return undefined;
  return `refusing to destroy ${flags['stack-name']}: this stop job was not started by hand (a when: in its rules overrides when: manual); give every rule when: manual, or for a throwaway stack use the destroy component with allow_automatic: true`;
}
