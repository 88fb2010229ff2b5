/**
 * The runner itself as a GitLab object, through API-token endpoints
 * (docs.gitlab.com/api/users/#create-a-runner-linked-to-a-user and
 * docs.gitlab.com/api/runners/): create it (POST /user/runners), read and
 * update its settings (GET/PUT /runners/:id), reset its authentication token
 * (POST /runners/:id/reset_authentication_token with an API token, or
 * POST /runners/reset_authentication_token with the current runner token).
 * A returned token is handed to the caller and never printed or put in an
 * error here.
 */
import { InputError } from '../errors.ts';
import { GitLabApiError, type GitLabClient } from './client.ts';

export const RUNNER_TYPES = ['instance_type', 'group_type', 'project_type'] as const;
export type RunnerType = (typeof RUNNER_TYPES)[number];
export const ACCESS_LEVELS = ['not_protected', 'ref_protected'] as const;
export type AccessLevel = (typeof ACCESS_LEVELS)[number];

/** What the consumer's repository says the runner is; unset fields are left to GitLab. */
export interface RunnerSettings {
  runnerType: RunnerType;
  /** Numeric id or full path; group_type only. */
  group?: string;
  /** Numeric id or full path; project_type only. */
  project?: string;
  description?: string;
  tagList?: string[];
  runUntagged?: boolean;
  locked?: boolean;
  paused?: boolean;
  /** Seconds; GitLab's minimum is 600. */
  maximumTimeout?: number;
  accessLevel?: AccessLevel;
  maintenanceNote?: string;
}

/** GET /runners/:id, the fields runner-fleet manages plus the owner. */
export interface RunnerDetails {
  id: number;
  runner_type: RunnerType;
  description: string | null;
  tag_list: string[];
  run_untagged: boolean;
  locked: boolean;
  paused: boolean;
  maximum_timeout: number | null;
  access_level: AccessLevel;
  maintenance_note?: string | null;
  groups?: { id: number; full_path?: string }[];
  projects?: { id: number; path_with_namespace?: string }[];
  /** Only on GitLab versions that expose it in the runner details (gitlab-org/gitlab#627823). */
  token_expires_at?: string | null;
}

/** A new runner authentication token: create and both reset endpoints answer with this shape. */
export interface IssuedToken {
  token: string;
  tokenExpiresAt: string | null;
}

/** The updatable settings, in GitLab's field names (PUT /runners/:id and POST /user/runners share them). */
export function settingsBody(settings: RunnerSettings): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (settings.description !== undefined) body.description = settings.description;
  if (settings.tagList !== undefined) body.tag_list = settings.tagList;
  if (settings.runUntagged !== undefined) body.run_untagged = settings.runUntagged;
  if (settings.locked !== undefined) body.locked = settings.locked;
  if (settings.paused !== undefined) body.paused = settings.paused;
  if (settings.maximumTimeout !== undefined) body.maximum_timeout = settings.maximumTimeout;
  if (settings.accessLevel !== undefined) body.access_level = settings.accessLevel;
  if (settings.maintenanceNote !== undefined) body.maintenance_note = settings.maintenanceNote;
  return body;
}

export interface SettingChange {
  setting: string;
  before: string;
  after: string;
}

/** The settings that differ between GitLab and the repository; tag order does not count. Pure. */
export function settingChanges(
  current: RunnerDetails | undefined,
  settings: RunnerSettings,
): SettingChange[] {
  const wanted = settingsBody(settings);
  const changes: SettingChange[] = [];
  const show = (value: unknown) =>
    value === undefined || value === null
      ? '-'
      : Array.isArray(value)
        ? value.join(', ') || '-'
        : String(value);
  for (const [setting, after] of Object.entries(wanted)) {
    const before = current ? (current as unknown as Record<string, unknown>)[setting] : undefined;
    const same =
      Array.isArray(after) && Array.isArray(before)
        ? [...after].sort().join('\n') === [...before].sort().join('\n')
        : (before ?? null) === (after ?? null) || (before == null && after === '');
    if (!same) changes.push({ setting, before: show(before), after: show(after) });
  }
  return changes;
}

/**
 * A group or project (id or full path) as a numeric id, looked up either way:
 * GitLab answers an unknown group_id in POST /user/runners with a vague
 * "Missing/invalid scope", so the lookup first gives one clear line. An
 * unknown group is bad input (exit 2), not a GitLab failure.
 */
export async function resolveNamespaceId(
  client: GitLabClient,
  kind: 'group' | 'project',
  reference: string,
): Promise<number> {
  try {
    const found = await client.get<{ id: number }>(`/${kind}s/${encodeURIComponent(reference)}`);
    return found.id;
  } catch (error) {
    if (error instanceof GitLabApiError && error.status === 404) {
      throw new InputError(
        `unknown ${kind} ${reference}: GitLab has no such ${kind}, or RUNNER_FLEET_GITLAB_TOKEN cannot see it`,
      );
    }
    throw explainRefusal(error, undefined, `read the ${kind} of`);
  }
}

/** POST /user/runners. Needs a token with the create_runner (or api) scope and the right role. */
export async function createRunner(
  client: GitLabClient,
  settings: RunnerSettings,
  owner: { groupId?: number; projectId?: number },
): Promise<IssuedToken & { id: number }> {
  const body = {
    runner_type: settings.runnerType,
    ...(owner.groupId !== undefined ? { group_id: owner.groupId } : {}),
    ...(owner.projectId !== undefined ? { project_id: owner.projectId } : {}),
    ...settingsBody(settings),
  };
  const created = await client
    .post<{ id: number; token: string; token_expires_at?: string | null }>('/user/runners', body)
    .catch((error: unknown) => {
      throw explainRefusal(error, settings, 'create');
    });
  return { id: created.id, token: created.token, tokenExpiresAt: created.token_expires_at ?? null };
}

/** GET /runners/:id; undefined when GitLab no longer has it (deleted in the UI). */
export async function getRunner(client: GitLabClient, runnerId: number): Promise<RunnerDetails | undefined> {
  try {
    return await client.get<RunnerDetails>(`/runners/${runnerId}`);
  } catch (error) {
    if (error instanceof GitLabApiError && error.status === 404) return undefined;
    throw explainRefusal(error, undefined, 'read');
  }
}

/** PUT /runners/:id with the settable fields only; GitLab cannot change a runner's type or owner. */
export async function updateRunner(
  client: GitLabClient,
  runnerId: number,
  settings: RunnerSettings,
): Promise<RunnerDetails> {
  return client.put<RunnerDetails>(`/runners/${runnerId}`, settingsBody(settings)).catch((error: unknown) => {
    throw explainRefusal(error, settings, 'update');
  });
}

/**
 * A new token for the runner, the old one stops working at once. With an API
 * token the runner id is enough (works even after the token expired); without
 * one the current runner token proves ownership (it must not have expired).
 */
export async function resetRunnerToken(
  client: GitLabClient,
  how: { runnerId: number } | { currentToken: string },
): Promise<IssuedToken> {
  const byId = 'runnerId' in how;
  let reset: { token: string; token_expires_at?: string | null };
  try {
    reset = byId
      ? await client.post(`/runners/${how.runnerId}/reset_authentication_token`)
      : await client.post('/runners/reset_authentication_token', { token: how.currentToken });
  } catch (error) {
    if (!byId && error instanceof GitLabApiError && (error.status === 403 || error.status === 401)) {
      throw new InputError(
        'GitLab refused the current runner token (POST /runners/reset_authentication_token answered 403): it expired or was reset elsewhere; set RUNNER_FLEET_GITLAB_TOKEN so the token is reset by runner id',
      );
    }
    throw explainRefusal(error, undefined, 'reset the token of');
  }
  return { token: reset.token, tokenExpiresAt: reset.token_expires_at ?? null };
}

/**
 * 401, 403 and 404 from an API-token call are the caller's to fix (token,
 * scope, role, ids): one line that says which, exit 2. Other errors pass.
 */
function explainRefusal(error: unknown, settings: RunnerSettings | undefined, action: string): unknown {
  if (!(error instanceof GitLabApiError)) return error;
  const owner =
    settings?.runnerType === 'group_type'
      ? 'Owner of the group'
      : settings?.runnerType === 'project_type'
        ? 'Maintainer of the project'
        : settings?.runnerType === 'instance_type'
          ? 'an administrator'
          : 'allowed to manage the runner';
  switch (error.status) {
    case 401:
      return new InputError(
        `GitLab refused RUNNER_FLEET_GITLAB_TOKEN (401${error.errorCode ? ` ${error.errorCode}` : ''}): it is missing, expired or revoked`,
      );
    case 403:
      return new InputError(
        error.errorCode === 'insufficient_scope'
          ? `RUNNER_FLEET_GITLAB_TOKEN lacks the scope to ${action} a runner: give it the create_runner scope (or api)`
          : `RUNNER_FLEET_GITLAB_TOKEN may not ${action} this runner (403): the token's user must be ${owner}`,
      );
    case 400:
      return new InputError(
        `GitLab refused the runner settings (400): check runner_type, group, project and the values in the settings file`,
      );
    default:
      return error;
  }
}
