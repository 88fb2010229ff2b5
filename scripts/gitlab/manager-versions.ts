/**
 * The gitlab-runner version each instance runs, as its runner manager last
 * reported it (GET /runners/:id/managers). `roll` compares them with the
 * wanted release to tell which instances are out of date.
 */
import type { GitLabClient } from './client.ts';
import { findManagerForInstance, listManagers } from './runners.ts';

/** Instance id → version, for the instances whose manager GitLab knows and reports a version for. */
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
