/** `runner-fleet status`: what the fleet is right now. Read-only; orchestration only. */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { describeGroup, groupNameOfStack, instanceDetails } from '../aws/auto-scaling.ts';
import { describeStack } from '../aws/cloudformation.ts';

import { firstLine, InputError } from '../errors.ts';
import type { GitLabClient } from '../gitlab/client.ts';
import { findManagerForInstance, listManagers, type RunnerManager } from '../gitlab/runners.ts';
import type { Logger } from '../log.ts';
import { renderStatus } from '../render/status-table.ts';

export interface StatusDependencies {
  cloudFormation: CloudFormationClient;
  autoScaling: AutoScalingClient;
  ec2: EC2Client;
  log: Logger;
  now?: () => Date;
  /** GitLab client and runner id when a token was given; managers are then shown. */
  gitlab?: { client: GitLabClient; runnerId: () => Promise<number | undefined> };
}

export async function status(stackName: string, deps: StatusDependencies): Promise<void> {
  const stack = await describeStack(deps.cloudFormation, stackName);
  if (!stack) throw new InputError(`stack ${stackName} does not exist (check --stack-name and --region)`);
  const group = await groupNameOfStack(deps.cloudFormation, stack)
    .then((groupName) => describeGroup(deps.autoScaling, groupName))
    .catch((error: unknown) => {
      deps.log.warn(`could not read the stack's Auto Scaling group: ${firstLine(error)}`);
      return undefined;
    });
  const instanceIds = (group?.Instances ?? []).map((i) => i.InstanceId ?? '').filter(Boolean);
  const details = await instanceDetails(deps.ec2, instanceIds);

  let managers: Map<string, RunnerManager | undefined> | undefined;
  const runnerId = deps.gitlab ? await deps.gitlab.runnerId() : undefined;
  if (deps.gitlab && runnerId !== undefined) {
    const all = await listManagers(deps.gitlab.client, runnerId);
    managers = new Map(instanceIds.map((id) => [id, findManagerForInstance(all, id)]));
  }
  for (const line of renderStatus({
    stack,
    group,
    details,
    managers,
    now: (deps.now ?? (() => new Date()))(),
  })) {
    deps.log.info(line);
  }
  if (!managers) {
    deps.log.info(
      '(runner managers not shown: set RUNNER_FLEET_GITLAB_TOKEN and --runner-id or RUNNER_FLEET_RUNNER_TOKEN)',
    );
  }
}
