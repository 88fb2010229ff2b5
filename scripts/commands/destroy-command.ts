/** Inputs and wiring of `runner-fleet destroy`; the flow is in destroy.ts. */
import { autoScalingClient, awsSetupProblems, cloudFormationClient, s3Client } from '../aws/clients.ts';
import { allowOwnFleet, gitlabUrl, minutes, region, runnerId, stackName } from '../cli-input/common-flags.ts';
import { apiRoot } from '../config/gitlab-access.ts';
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
  },
  environment: {
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
    const cloudFormation = cloudFormationClient(regionOption(flags.region));
    problems.push(...(await awsSetupProblems(cloudFormation)));
    if (problems.length > 0) throw new InputError(problems);
    const stack = flags['stack-name'];
    const runnerToken = env.RUNNER_FLEET_RUNNER_TOKEN;
    const apiUrl = flags['gitlab-url'] ? apiRoot(flags['gitlab-url']) : undefined;
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
