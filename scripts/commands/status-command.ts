/** Inputs and wiring of `runner-fleet status`; the flow is in status.ts. */
import {
  autoScalingClient,
  awsSetupProblems,
  cloudFormationClient,
  ec2Client,
  ssmClient,
} from '../aws/clients.ts';
import { gitlabUrl, region, runnerId, stackName } from '../cli-input/common-flags.ts';
import { optionalGitLabAccess } from '../config/gitlab-access.ts';
import { InputError } from '../errors.ts';
import { defineCommand, regionOption } from './command-spec.ts';
import { findFleetRunner } from './fleet-runner.ts';
import { status } from './status.ts';

export const statusCommand = defineCommand({
  name: 'status',
  synopsis: 'runner-fleet status --stack-name NAME [options]',
  flags: {
    'stack-name': stackName,
    region,
    'runner-id': runnerId,
    'gitlab-url': gitlabUrl,
  },
  environment: {
    RUNNER_FLEET_GITLAB_TOKEN: {
      help: "optional: with it each instance's runner manager (status, version, last contact) is shown too",
    },
    RUNNER_FLEET_RUNNER_TOKEN: {
      help: "the fleet's glrt- runner token, when --runner-id is not given (else the id create-runner recorded is used)",
    },
  },
  async run({ flags, env, problems }, context) {
    const cloudFormation = cloudFormationClient(regionOption(flags.region));
    problems.push(...(await awsSetupProblems(cloudFormation)));
    if (problems.length > 0) throw new InputError(problems);
    const gitlab = optionalGitLabAccess(flags['gitlab-url'], context.env);
    await status(flags['stack-name'], {
      cloudFormation,
      autoScaling: await autoScalingClient(regionOption(flags.region)),
      ec2: await ec2Client(regionOption(flags.region)),
      log: context.log,
      ...(gitlab
        ? {
            gitlab: {
              client: gitlab.client,
              runnerId: async (stack) =>
                (
                  await findFleetRunner({
                    runnerIdFlag: flags['runner-id'],
                    runnerToken: env.RUNNER_FLEET_RUNNER_TOKEN,
                    gitlab: gitlab.client,
                    stack: async () => stack,
                    ssm: () => ssmClient(regionOption(flags.region)),
                    log: context.log,
                  })
                )?.id,
            },
          }
        : {}),
    });
  },
});
