/** Flags and wiring of `runner-fleet status`; the flow is in status.ts. */
import { autoScalingClient, awsSetupProblems, cloudFormationClient, ec2Client } from '../aws/clients.ts';
import { optionalGitLabAccess, runnerTokenFromEnv } from '../config/gitlab-access.ts';
import { InputError } from '../errors.ts';
import { fleetRunnerId } from '../gitlab/runners.ts';
import { asString, type CommandSpec, regionOption, runnerIdOption, stackNameOption } from './command-spec.ts';
import { status } from './status.ts';

export const statusCommand: CommandSpec = {
  name: 'status',
  usage: `runner-fleet status --stack-name NAME [options]

  --stack-name NAME     the fleet stack
  --region REGION       AWS region (default: AWS_REGION)
  --runner-id N         the fleet's GitLab runner (or RUNNER_FLEET_RUNNER_TOKEN)
  --gitlab-url URL      GitLab (default: CI_API_V4_URL / CI_SERVER_URL)

With RUNNER_FLEET_GITLAB_TOKEN set, each instance's runner manager (status,
version, last contact) is shown too.`,
  options: {
    'stack-name': { type: 'string' },
    region: { type: 'string' },
    'runner-id': { type: 'string' },
    'gitlab-url': { type: 'string' },
  },
  async run(flags, context) {
    const problems: string[] = [];
    const stackName = stackNameOption(flags, problems);
    const runnerIdFlag = runnerIdOption(flags, problems);
    const cloudFormation = cloudFormationClient(regionOption(flags));
    problems.push(...(await awsSetupProblems(cloudFormation)));
    if (problems.length > 0 || !stackName) throw new InputError(problems);
    const gitlab = optionalGitLabAccess(asString(flags['gitlab-url']), context.env);
    const runnerToken = runnerTokenFromEnv(context.env);
    await status(stackName, {
      cloudFormation,
      autoScaling: await autoScalingClient(regionOption(flags)),
      ec2: await ec2Client(regionOption(flags)),
      log: context.log,
      ...(gitlab
        ? {
            gitlab: {
              client: gitlab.client,
              runnerId: () => fleetRunnerId(gitlab.client, runnerIdFlag, runnerToken),
            },
          }
        : {}),
    });
  },
};
