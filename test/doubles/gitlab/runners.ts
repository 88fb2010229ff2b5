/**
 * Runner routes of the GitLab API double, with GitLab's documented shapes
 * and status codes:
 *   POST   /runners/verify          runner token in the body; 403 for an unknown
 *                                   or expired token; records a manager (system_id, or
 *                                   `<legacy>` without one), as GitLab does
 *   GET    /runners/:id/managers    API token; 404 for an unknown runner
 *   DELETE /runners/managers        runner token + system_id; 403 / 404 / 204
 * GitLab answers /runners/:id/managers in one unpaginated response; tests
 * that need pages set `paginateManagers`.
 */
import { type DoubleResponse, type GitLabDouble, paginate } from './server.ts';

export interface DoubleRunnerManager {
  id: number;
  system_id: string;
  version: string | null;
  revision: string | null;
  platform: string | null;
  architecture: string | null;
  ip_address: string | null;
  created_at: string;
  contacted_at: string | null;
  status: 'online' | 'offline' | 'stale' | 'never_contacted';
}

export interface DoubleRunner {
  id: number;
  token: string;
  tokenExpiresAt: string | null;
  managers: DoubleRunnerManager[];
}

export interface RunnersDouble {
  runners: Map<number, DoubleRunner>;
  paginateManagers: boolean;
  addRunner(runner: { id: number; token: string; tokenExpiresAt?: string | null }): DoubleRunner;
  /** Adds or replaces (by system_id) a manager; unset fields take an online 17.11.1 linux/amd64 manager's values. */
  setManager(
    runnerId: number,
    manager: Partial<DoubleRunnerManager> & { system_id: string },
  ): DoubleRunnerManager;
}

const LEGACY_SYSTEM_ID = '<legacy>';

export function addRunnerRoutes(double: GitLabDouble): RunnersDouble {
  const runners = new Map<number, DoubleRunner>();
  let nextManagerId = 1;

  const byToken = (token: unknown) =>
    typeof token === 'string' ? [...runners.values()].find((runner) => runner.token === token) : undefined;

  const state: RunnersDouble = {
    runners,
    paginateManagers: false,
    addRunner({ id, token, tokenExpiresAt = null }) {
      const runner: DoubleRunner = { id, token, tokenExpiresAt, managers: [] };
      runners.set(id, runner);
      return runner;
    },
    setManager(runnerId, manager) {
      const runner = runners.get(runnerId);
      if (!runner) throw new Error(`no runner ${runnerId} in the double`);
      const now = new Date().toISOString();
      const full: DoubleRunnerManager = {
        id: nextManagerId++,
        version: '17.11.1',
        revision: 'b5e7a2c1',
        platform: 'linux',
        architecture: 'amd64',
        ip_address: '10.0.0.10',
        created_at: now,
        contacted_at: now,
        status: 'online',
        ...manager,
      };
      runner.managers = runner.managers.filter((m) => m.system_id !== manager.system_id).concat(full);
      return full;
    },
  };

  double.addRoute('POST', '/runners/verify', (request) => {
    const body = (request.body ?? {}) as { token?: unknown; system_id?: unknown };
    if (typeof body.token !== 'string') return { status: 400, body: { error: 'token is missing' } };
    const runner = byToken(body.token);
    // An expired token authenticates nothing (Ci::Runner token_expired?).
    const expired = runner?.tokenExpiresAt && Date.parse(runner.tokenExpiresAt) <= Date.now();
    if (!runner || expired) return { status: 403, body: { message: '403 Forbidden' } };
    const systemId = typeof body.system_id === 'string' ? body.system_id : LEGACY_SYSTEM_ID;
    const existing = runner.managers.find((m) => m.system_id === systemId);
    state.setManager(runner.id, {
      system_id: systemId,
      version: null,
      revision: null,
      platform: null,
      architecture: null,
      ...(existing ? { id: existing.id, created_at: existing.created_at } : {}),
    });
    return {
      status: 200,
      body: { id: runner.id, token: runner.token, token_expires_at: runner.tokenExpiresAt },
    };
  });

  double.addRoute('GET', '/runners/:id/managers', (request): DoubleResponse => {
    const runner = runners.get(Number(request.params.id));
    if (!runner) return { status: 404, body: { message: '404 Runner Not Found' } };
    return state.paginateManagers
      ? paginate(runner.managers, request.query)
      : { status: 200, body: runner.managers };
  });

  double.addRoute('DELETE', '/runners/managers', (request) => {
    const body = (request.body ?? {}) as { token?: unknown; system_id?: unknown };
    const token = body.token ?? request.query.get('token');
    const systemId = body.system_id ?? request.query.get('system_id');
    if (typeof token !== 'string') return { status: 400, body: { error: 'token is missing' } };
    if (typeof systemId !== 'string') return { status: 400, body: { error: 'system_id is missing' } };
    const runner = byToken(token);
    if (!runner) return { status: 403, body: { message: '403 Forbidden' } };
    if (!runner.managers.some((m) => m.system_id === systemId)) {
      return { status: 404, body: { message: '404 Runner manager not found' } };
    }
    runner.managers = runner.managers.filter((m) => m.system_id !== systemId);
    return { status: 204 };
  });

  return state;
}
