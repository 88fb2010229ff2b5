/** A runner manager as GitLab's GET /runners/:id/managers returns it, for unit tests; overrides set what a test is about. */
import type { RunnerManager } from '../../scripts/gitlab/runners.ts';

export function runnerManager(
  overrides: Partial<RunnerManager> & Pick<RunnerManager, 'system_id'>,
): RunnerManager {
  return {
    id: 1,
    version: '17.11.1',
    revision: null,
    platform: 'linux',
    architecture: 'amd64',
    ip_address: null,
    created_at: '2026-11-28T10:00:00Z',
    contacted_at: '2026-11-28T10:00:00Z',
    status: 'online',
    ...overrides,
  };
}
