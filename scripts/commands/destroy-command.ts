/** Flags and wiring of `runner-fleet destroy`; the flow is in destroy.ts. */
import { autoScalingClient, awsSetupProblems, cloudFormationClient, s3Client } from '../aws/clients.ts';
import { parsePositiveInteger } from '../config/deploy-config.ts';
import { gitlabApiUrl, gitlabUrlProblems, runnerTokenFromEnv } from '../config/gitlab-access.ts';
import { refuseOwnFleet } from '../config/own-fleet.ts';
import { InputError } from '../errors.ts';
import { createGitLabClient } from '../gitlab/client.ts';
import { fleetRunnerIdFor } from '../gitlab/runners.ts';
import { asString, type CommandSpec, regionOption, runnerIdOption, stackNameOption } from './command-spec.ts';
import { destroy } from './destroy.ts';

export const destroyCommand: CommandSpec = {
  name: 'destroy',
  usage: `runner-fleet destroy --stack-name NAME --yes-destroy-stack NAME [options]

  --stack-name NAME           the fleet stack
  --yes-destroy-stack NAME    confirmation: the same stack name again
  --region REGION             AWS region (default: AWS_REGION)
  --timeout-minutes N         longest wait for the deletion (default 120: instances
                              drain their running jobs before they terminate)
  --gitlab-url URL            GitLab (default: CI_API_V4_URL / CI_SERVER_URL)
  --runner-id N               the fleet's GitLab runner, to tell whether this job runs
                              on it (else found from RUNNER_FLEET_RUNNER_TOKEN)
  --allow-own-fleet           destroy even when this GitLab job runs on the fleet's own
                              runner (CI_RUNNER_ID / CI_RUNNER_DESCRIPTION); refused otherwise

The stack's cache bucket is emptied first (it holds only disposable job
caches), so CloudFormation can delete it. With RUNNER_FLEET_RUNNER_TOKEN set, runner managers of the deleted instances
that are still registered are removed (DELETE /runners/managers).`,
  options: {
    'stack-name': { type: 'string' },
    'yes-destroy-stack': { type: 'string' },
    region: { type: 'string' },
    'timeout-minutes': { type: 'string' },
    'gitlab-url': { type: 'string' },
    'runner-id': { type: 'string' },
    'allow-own-fleet': { type: 'boolean' },
  },
  async run(flags, context) {
    const problems: string[] = [];
    const stackName = stackNameOption(flags, problems);
    const confirmation = asString(flags['yes-destroy-stack']);
    if (stackName && confirmation !== stackName) {
      problems.push(
        `destroy needs --yes-destroy-stack ${stackName} (the stack name again) to confirm${confirmation ? `; got ${confirmation}` : ''}`,
      );
    }
    const timeoutMinutes = parsePositiveInteger(
      '--timeout-minutes',
      asString(flags['timeout-minutes']),
      120,
      problems,
    );
    const cloudFormation = cloudFormationClient(regionOption(flags));
    problems.push(...(await awsSetupProblems(cloudFormation)));
    problems.push(...gitlabUrlProblems(asString(flags['gitlab-url']), context.env));
    const runnerToken = runnerTokenFromEnv(context.env);
    const apiUrl = gitlabApiUrl(asString(flags['gitlab-url']), context.env);
    if (runnerToken && !apiUrl) {
      problems.push(
        'RUNNER_FLEET_RUNNER_TOKEN is set but no GitLab URL: pass --gitlab-url or set CI_SERVER_URL',
      );
    }
    const runnerIdFlag = runnerIdOption(flags, problems);
    if (problems.length > 0 || !stackName) throw new InputError(problems);
    await refuseOwnFleet({
      verb: 'destroy',
      stackName,
      allowOwnFleet: flags['allow-own-fleet'] === true,
      env: context.env,
      log: context.log,
      fleetRunnerId: () => fleetRunnerIdFor({ runnerIdFlag, runnerToken, apiUrl }),
    });
    await destroy(
      { stackName, timeoutMinutes },
      {
        cloudFormation,
        autoScaling: await autoScalingClient(regionOption(flags)),
        s3: () => s3Client(regionOption(flags)),
        log: context.log,
        signal: context.signal,
        ...(runnerToken && apiUrl
          ? // DELETE /runners/managers authenticates with the runner token in the body; no API token is needed.
            { runnerCleanup: { client: createGitLabClient({ apiUrl, token: '' }), runnerToken } }
          : {}),
      },
    );
  },
};
