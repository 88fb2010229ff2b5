/**
 * `runner-fleet create-runner`: the fleet's GitLab runner as code. The first
 * run creates the runner (POST /user/runners) and writes its glrt- token
 * straight into the fleet's SSM SecureString, with the runner id as a tag of
 * that parameter; every later run finds the id there and updates the
 * runner's settings (PUT /runners/:id) instead of creating another. A
 * parameter that already holds a working token but no id (deploy
 * --runner-token-from-env) is adopted: its runner becomes the managed one. The
 * token passes through memory only: never a log line, argv, file or report.
 */
import type { SSMClient } from '@aws-sdk/client-ssm';
import {
  describeRunnerToken,
  RUNNER_ID_TAG,
  readRunnerToken,
  tagRunnerToken,
  writeRunnerToken,
} from '../aws/runner-token-parameter.ts';
import { firstLine, InputError, OperationError } from '../errors.ts';
import type { GitLabClient } from '../gitlab/client.ts';
import {
  createRunner as createGitLabRunner,
  getRunner,
  type RunnerDetails,
  type RunnerSettings,
  resolveNamespaceId,
  type SettingChange,
  settingChanges,
  updateRunner,
} from '../gitlab/runner-admin.ts';
import { verifyRunnerToken } from '../gitlab/runners.ts';
import type { Logger } from '../log.ts';

export interface CreateRunnerOptions {
  /** The SSM SecureString the fleet's instances read the token from. */
  parameterName: string;
  settings: RunnerSettings;
  /** Show what would change; create and update nothing. */
  dryRun: boolean;
  kmsKeyId?: string;
  /** Names the fleet in the parameter description. */
  stackName?: string;
}

export interface CreateRunnerDependencies {
  ssm: SSMClient;
  gitlab: GitLabClient;
  log: Logger;
}

export type CreateRunnerOutcome =
  | { action: 'created' | 'would-create'; runnerId?: number }
  | { action: 'updated' | 'unchanged' | 'would-update'; runnerId: number; changes: SettingChange[] };

export async function createRunner(
  options: CreateRunnerOptions,
  deps: CreateRunnerDependencies,
): Promise<CreateRunnerOutcome> {
  const { log } = deps;
  const record = await describeRunnerToken(deps.ssm, options.parameterName);
  const owner = await resolveOwner(deps.gitlab, options.settings);
  const recordedId = record?.runnerId ?? (record ? await adoptStoredToken(options, deps) : undefined);

  if (recordedId !== undefined) {
    const runnerId = recordedId;
    const current = await getRunner(deps.gitlab, runnerId);
    if (!current) {
      throw new InputError(
        `runner #${runnerId}, recorded on SSM parameter ${options.parameterName} (tag ${RUNNER_ID_TAG}), does not exist in GitLab or RUNNER_FLEET_GITLAB_TOKEN cannot see it; to start over with a new runner, remove the tag: aws ssm remove-tags-from-resource --resource-type Parameter --resource-id ${options.parameterName} --tag-keys ${RUNNER_ID_TAG}`,
      );
    }
    checkSameKind(current, options.settings, owner);
    const changes = settingChanges(current, options.settings);
    printChanges(log, `Runner #${runnerId} (${current.runner_type})`, changes);
    if (changes.length === 0) {
      log.info(`Runner #${runnerId} already has these settings; nothing to update`);
      return { action: 'unchanged', runnerId, changes };
    }
    if (options.dryRun) {
      log.info(`Dry run: runner #${runnerId} not updated (${changes.length} setting(s) would change)`);
      return { action: 'would-update', runnerId, changes };
    }
    await updateRunner(deps.gitlab, runnerId, options.settings);
    log.info(`Updated runner #${runnerId}: ${changes.map((c) => c.setting).join(', ')}`);
    return { action: 'updated', runnerId, changes };
  }

  const where = owner.groupId
    ? ` in group ${options.settings.group}`
    : owner.projectId
      ? ` in project ${options.settings.project}`
      : '';
  printChanges(
    log,
    `New ${options.settings.runnerType} runner${where}`,
    settingChanges(undefined, options.settings),
  );
  if (options.dryRun) {
    log.info(`Dry run: no runner created; SSM parameter ${options.parameterName} records none yet`);
    return { action: 'would-create' };
  }
  const created = await createGitLabRunner(deps.gitlab, options.settings, owner);
  try {
    const written = await writeRunnerToken(
      deps.ssm,
      options.parameterName,
      { token: created.token, runnerId: created.id, tokenExpiresAt: created.tokenExpiresAt },
      {
        ...(options.kmsKeyId ? { kmsKeyId: options.kmsKeyId } : {}),
        description: `GitLab runner authentication token of runner #${created.id}${options.stackName ? ` (runner-fleet stack ${options.stackName})` : ''}`,
      },
    );
    log.info(
      `Created runner #${created.id}; its token is in SSM SecureString ${options.parameterName} version ${written.version} (value not shown)${created.tokenExpiresAt ? `, expires ${created.tokenExpiresAt}` : ''}`,
    );
  } catch (error) {
    // A runner whose token nobody holds is useless; remove it so the next run starts clean.
    const removed = await deps.gitlab.delete(`/runners/${created.id}`).then(
      () => true,
      () => false,
    );
    throw new OperationError(
      `created runner #${created.id} but could not store its token in SSM parameter ${options.parameterName}: ${firstLine(error)}`,
      [
        removed
          ? `runner #${created.id} was deleted again; fix the SSM access and run create-runner again`
          : `delete runner #${created.id} in GitLab (its token is lost), fix the SSM access and run create-runner again`,
      ],
    );
  }
  return { action: 'created', runnerId: created.id };
}

/**
 * A parameter that holds a token but no runner id (stored by deploy
 * --runner-token-from-env, or by hand): the runner that token belongs to is
 * the fleet's, so it is recorded and managed from now on instead of replaced.
 * A token GitLab refuses is of no use to anyone; then a new runner is made.
 */
async function adoptStoredToken(
  options: CreateRunnerOptions,
  deps: CreateRunnerDependencies,
): Promise<number | undefined> {
  const token = await readRunnerToken(deps.ssm, options.parameterName);
  const verified = token ? await verifyRunnerToken(deps.gitlab, token) : undefined;
  if (!verified) {
    deps.log.warn(
      `SSM parameter ${options.parameterName} holds a token GitLab refuses (expired or reset): a new runner replaces it`,
    );
    return undefined;
  }
  if (!options.dryRun)
    await tagRunnerToken(deps.ssm, options.parameterName, {
      runnerId: verified.id,
      tokenExpiresAt: verified.tokenExpiresAt,
    });
  deps.log.info(
    `SSM parameter ${options.parameterName} already holds the token of runner #${verified.id}: that runner is the fleet's${options.dryRun ? '' : ` (recorded in tag ${RUNNER_ID_TAG})`}`,
  );
  return verified.id;
}

async function resolveOwner(
  client: GitLabClient,
  settings: RunnerSettings,
): Promise<{ groupId?: number; projectId?: number }> {
  if (settings.runnerType === 'group_type' && settings.group) {
    return { groupId: await resolveNamespaceId(client, 'group', settings.group) };
  }
  if (settings.runnerType === 'project_type' && settings.project) {
    return { projectId: await resolveNamespaceId(client, 'project', settings.project) };
  }
  return {};
}

/** GitLab cannot change a runner's type or owner: a mismatch is bad input, not an update. */
function checkSameKind(
  current: RunnerDetails,
  settings: RunnerSettings,
  owner: { groupId?: number; projectId?: number },
): void {
  const problems: string[] = [];
  if (current.runner_type !== settings.runnerType) {
    problems.push(
      `runner #${current.id} is ${current.runner_type} but the settings say ${settings.runnerType}: GitLab cannot change a runner's type; set runner_type: ${current.runner_type}, or remove the ${RUNNER_ID_TAG} tag to create a new runner`,
    );
  }
  if (owner.groupId !== undefined && current.groups && !current.groups.some((g) => g.id === owner.groupId)) {
    problems.push(
      `runner #${current.id} belongs to group ${current.groups.map((g) => g.full_path ?? g.id).join(', ')}, not ${settings.group}: GitLab cannot move a runner`,
    );
  }
  if (
    owner.projectId !== undefined &&
    current.projects &&
    !current.projects.some((p) => p.id === owner.projectId)
  ) {
    problems.push(
      `runner #${current.id} is not a runner of project ${settings.project}: GitLab cannot move a runner`,
    );
  }
  if (problems.length > 0) throw new InputError(problems);
}

function printChanges(log: Logger, subject: string, changes: readonly SettingChange[]): void {
  if (changes.length === 0) return;
  log.info(`${subject}:`);
  const width = Math.max('SETTING'.length, ...changes.map((c) => c.setting.length));
  const beforeWidth = Math.max('GITLAB NOW'.length, ...changes.map((c) => c.before.length));
  log.info(`  ${'SETTING'.padEnd(width)}  ${'GITLAB NOW'.padEnd(beforeWidth)}  WANTED`);
  for (const change of changes) {
    log.info(`  ${change.setting.padEnd(width)}  ${change.before.padEnd(beforeWidth)}  ${change.after}`);
  }
}
