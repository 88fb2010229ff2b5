/**
 * Runners and runner managers through the GitLab REST API: which runner a
 * `glrt-` token belongs to, the managers (one per host) of a runner, the
 * manager of a given EC2 instance and the versions they run, and removing
 * one manager. Used by smoke-test, status, roll and destroy. Nothing here
 * prints; no token ever appears in a returned value or an error message.
 */
import { OperationError } from '../errors.ts';
import { GitLabApiError, type GitLabClient } from './client.ts';
import { systemIdForInstance } from './system-id.ts';

export { RUNNER_SYSTEM_ID_PATTERN, systemIdForInstance } from './system-id.ts';

/** `status` of a runner manager as GitLab reports it. */
export type RunnerManagerStatus = 'online' | 'offline' | 'stale' | 'never_contacted';

/** One host running gitlab-runner with the runner's token (GET /runners/:id/managers). */
export interface RunnerManager {
  id: number;
  system_id: string;
  version: string | null;
  revision: string | null;
  platform: string | null;
  architecture: string | null;
  ip_address: string | null;
  created_at: string;
  contacted_at: string | null;
  status: RunnerManagerStatus | string;
}

/**
 * The system_id sent with POST /runners/verify. GitLab records a runner
 * manager for every verify call (`<legacy>` when no system_id is given), so
 * resolveRunnerId sends this recognisable id and deletes that manager right
 * after. It cannot collide with a fleet instance: those are `s_` + hex.
 */
export const VERIFY_PROBE_SYSTEM_ID = 'runner-fleet-verify';

export interface ResolvedRunner {
  id: number;
  /** ISO time the runner authentication token expires, or null when it does not. */
  tokenExpiresAt: string | null;
}

/**
 * The id of the runner a runner authentication token belongs to
 * (POST /runners/verify). Needs no API token; GitLab answers 403 for a token
 * it does not know.
 */
export async function resolveRunnerId(client: GitLabClient, runnerToken: string): Promise<ResolvedRunner> {
  const verified = await verifyRunnerToken(client, runnerToken);
  if (!verified) {
    throw new OperationError(
      'GitLab refused the runner authentication token in RUNNER_FLEET_RUNNER_TOKEN (POST /runners/verify answered 403): it is not a valid glrt- token of this GitLab instance, or it was reset; set it to the fleet runner token, or pass --runner-id',
    );
  }
  return verified;
}

/** token_expires_at from GET /runners/:id; undefined on GitLab versions that do not expose it. */
export async function runnerTokenExpiry(
  client: GitLabClient,
  runnerId: number,
): Promise<string | null | undefined> {
  const runner = await client.get<{ token_expires_at?: string | null }>(`/runners/${runnerId}`);
  return runner.token_expires_at;
}

/**
 * POST /runners/verify: the runner and expiry of a runner authentication
 * token, or undefined when GitLab refuses it (unknown, reset or expired).
 */
export async function verifyRunnerToken(
  client: GitLabClient,
  runnerToken: string,
): Promise<ResolvedRunner | undefined> {
  let verified: { id?: number; token_expires_at?: string | null };
  try {
    verified = await client.post('/runners/verify', {
      token: runnerToken,
      system_id: VERIFY_PROBE_SYSTEM_ID,
    });
  } catch (error) {
    if (error instanceof GitLabApiError && (error.status === 403 || error.status === 401)) return undefined;
    throw error;
  }
  if (typeof verified?.id !== 'number') {
    throw new OperationError(
      'POST /runners/verify returned no runner id; this GitLab is older than 15.10 (runner authentication tokens): pass --runner-id',
    );
  }
  // Best effort: the probe manager goes stale and GitLab removes it after 7 days anyway.
  await deleteManagerBySystemId(client, runnerToken, VERIFY_PROBE_SYSTEM_ID).catch(() => 'failed');
  return { id: verified.id, tokenExpiresAt: verified.token_expires_at ?? null };
}

/** Every manager of a runner. Needs an API token that can read the runner (Maintainer/Owner, or admin). */
export async function listManagers(client: GitLabClient, runnerId: number): Promise<RunnerManager[]> {
  // GitLab returns all managers in one response today; getAll also follows pages if that changes.
  return client.getAll<RunnerManager>(`/runners/${runnerId}/managers`);
}

/** The manager whose system_id is the one derived from this instance id, if GitLab has one. */
export function findManagerForInstance(
  managers: readonly RunnerManager[],
  instanceId: string,
): RunnerManager | undefined {
  const systemId = systemIdForInstance(instanceId);
  return managers.find((manager) => manager.system_id === systemId);
}

/**
 * The gitlab-runner version each instance runs, as its manager last reported
 * it: instance id → version, for the instances GitLab has a manager with a
 * version for. `roll` compares them with the wanted release.
 */
export async function managerVersionsByInstance(
  client: GitLabClient,
  runnerId: number,
  instanceIds: readonly string[],
): Promise<Map<string, string>> {
  const managers = await listManagers(client, runnerId);
  const versions = new Map<string, string>();
  for (const instanceId of instanceIds) {
    const version = findManagerForInstance(managers, instanceId)?.version;
    if (version) versions.set(instanceId, version);
  }
  return versions;
}

/** Managers whose system_id belongs to none of these instances (gone instances, hand-run hosts). */
export function managersWithoutInstance(
  managers: readonly RunnerManager[],
  instanceIds: readonly string[],
): RunnerManager[] {
  const known = new Set(instanceIds.map(systemIdForInstance));
  return managers.filter((manager) => !known.has(manager.system_id));
}

export type DeleteManagerOutcome = 'deleted' | 'not-found';

/**
 * Removes one runner manager, as `gitlab-runner unregister` does on the host:
 * DELETE /runners/managers with the runner authentication token and the
 * system_id. The runner and its other managers stay. GitLab has no API-token
 * endpoint for this (only DELETE /runners/:id, which removes every manager).
 * A manager that is already gone is 'not-found', so callers can repeat it.
 */
export async function deleteManagerBySystemId(
  client: GitLabClient,
  runnerToken: string,
  systemId: string,
): Promise<DeleteManagerOutcome> {
  try {
    await client.delete('/runners/managers', { token: runnerToken, system_id: systemId });
    return 'deleted';
  } catch (error) {
    if (error instanceof GitLabApiError && error.status === 404) return 'not-found';
    if (error instanceof GitLabApiError && (error.status === 403 || error.status === 401)) {
      throw new OperationError(
        `GitLab refused to delete runner manager ${systemId}: the runner authentication token in RUNNER_FLEET_RUNNER_TOKEN is not valid (DELETE /runners/managers answered ${error.status})`,
      );
    }
    throw error;
  }
}
