/**
 * The runner-as-object routes of the GitLab API double. Shapes and statuses
 * follow GitLab's own code and docs:
 *   POST /user/runners          lib/api/user_runners.rb (gitlabhq): scope
 *                               create_runner or api (APIGuard: 403 with
 *                               `error: insufficient_scope`), Grape validation
 *                               400 `runner_type does not have a valid value`,
 *                               `group_id is missing`; 403 when the user may not
 *                               create runners there; 201 {id, token, token_expires_at}
 *                               (Entities::Ci::RunnerRegistrationDetails)
 *   GET  /runners/:id           docs.gitlab.com/api/runners/#get-runners-details;
 *                               token_expires_at only when `exposeTokenExpiry`
 *                               (newer GitLab, gitlab-org/gitlab#627823)
 *   PUT  /runners/:id           the updatable fields; 200 with the details
 *   POST /runners/:id/reset_authentication_token   API token; 201 {token, token_expires_at}
 *   POST /runners/reset_authentication_token       current runner token in the body;
 *                               403 when unknown or expired; 201 {token, token_expires_at}
 *   GET  /groups/:id, /projects/:id   by id or URL-encoded full path; 404 when unknown
 * A reset replaces the token at once: the old one gets 403 everywhere, as in
 * GitLab (Ci::Runners::ResetAuthenticationTokenService).
 */
import { randomBytes } from 'node:crypto';
import type { RunnersDouble } from './runners.ts';
import type { DoubleResponse, GitLabDouble } from './server.ts';

export interface DoubleNamespace {
  id: number;
  fullPath: string;
  /** API tokens whose user may create and manage runners here (Owner / Maintainer). */
  managers: Set<string>;
}

export interface DoubleRunnerDetails {
  id: number;
  runner_type: string;
  description: string;
  tag_list: string[];
  run_untagged: boolean;
  locked: boolean;
  paused: boolean;
  maximum_timeout: number | null;
  access_level: string;
  maintenance_note: string | null;
  groups: { id: number; full_path: string }[];
  projects: { id: number; path_with_namespace: string }[];
}

/** A runner as GitLab shows it right after POST /user/runners with only runner_type given. */
export function newRunnerDetails(
  id: number,
  runnerType: string,
  more: Partial<DoubleRunnerDetails> = {},
): DoubleRunnerDetails {
  return {
    id,
    runner_type: runnerType,
    description: '',
    tag_list: [],
    run_untagged: true,
    locked: false,
    paused: false,
    maximum_timeout: null,
    access_level: 'not_protected',
    maintenance_note: null,
    groups: [],
    projects: [],
    ...more,
  };
}

export interface RunnerAdminDouble {
  groups: Map<number, DoubleNamespace>;
  projects: Map<number, DoubleNamespace>;
  details: Map<number, DoubleRunnerDetails>;
  /** Scopes per API token; a token not listed has `api`. */
  scopes: Map<string, string[]>;
  /** API tokens of administrators (instance runners). */
  admins: Set<string>;
  /** Lifetime of new tokens in days; null = no expiry (the instance setting is off). */
  tokenLifetimeDays: number | null;
  exposeTokenExpiry: boolean;
  addGroup(id: number, fullPath: string, managers: string[]): void;
  addProject(id: number, fullPath: string, managers: string[]): void;
}

const UPDATABLE = [
  'description',
  'tag_list',
  'run_untagged',
  'locked',
  'paused',
  'maximum_timeout',
  'access_level',
  'maintenance_note',
] as const;

export function addRunnerAdminRoutes(double: GitLabDouble, runners: RunnersDouble): RunnerAdminDouble {
  let nextRunnerId = 1000;
  const state: RunnerAdminDouble = {
    groups: new Map(),
    projects: new Map(),
    details: new Map(),
    scopes: new Map(),
    admins: new Set(),
    tokenLifetimeDays: null,
    exposeTokenExpiry: false,
    addGroup(id, fullPath, managers) {
      state.groups.set(id, { id, fullPath, managers: new Set(managers) });
    },
    addProject(id, fullPath, managers) {
      state.projects.set(id, { id, fullPath, managers: new Set(managers) });
    },
  };

  const newToken = () => `glrt-${randomBytes(15).toString('base64url')}`;
  const expiry = () =>
    state.tokenLifetimeDays === null
      ? null
      : new Date(Date.now() + state.tokenLifetimeDays * 86_400_000).toISOString();
  const findNamespace = (map: Map<number, DoubleNamespace>, ref: string) =>
    /^\d+$/.test(ref) ? map.get(Number(ref)) : [...map.values()].find((n) => n.fullPath === ref);
  const mayManage = (token: string | undefined, details: DoubleRunnerDetails) =>
    token !== undefined &&
    (state.admins.has(token) ||
      details.groups.some((g) => state.groups.get(g.id)?.managers.has(token)) ||
      details.projects.some((p) => state.projects.get(p.id)?.managers.has(token)));
  const forbidden = (message: string): DoubleResponse => ({
    status: 403,
    body: { message: `403 Forbidden - ${message}` },
  });

  for (const [kind, map] of [
    ['groups', state.groups],
    ['projects', state.projects],
  ] as const) {
    double.addRoute('GET', `/${kind}/:ref`, (request) => {
      const found = findNamespace(map, request.params.ref ?? '');
      if (!found || !request.token || !found.managers.has(request.token)) {
        return { status: 404, body: { message: `404 ${kind === 'groups' ? 'Group' : 'Project'} Not Found` } };
      }
      return {
        status: 200,
        body:
          kind === 'groups'
            ? { id: found.id, full_path: found.fullPath }
            : { id: found.id, path_with_namespace: found.fullPath },
      };
    });
  }

  double.addRoute('POST', '/user/runners', (request) => {
    const token = request.token ?? '';
    const scopes = state.scopes.get(token) ?? ['api'];
    if (!scopes.includes('create_runner') && !scopes.includes('api')) {
      return {
        status: 403,
        body: {
          error: 'insufficient_scope',
          error_description: 'The request requires higher privileges than provided by the access token.',
          scope: 'api create_runner',
        },
      };
    }
    const body = (request.body ?? {}) as Record<string, unknown>;
    const type = body.runner_type;
    if (type !== 'instance_type' && type !== 'group_type' && type !== 'project_type') {
      return { status: 400, body: { error: 'runner_type does not have a valid value' } };
    }
    const details = newRunnerDetails(nextRunnerId++, type);
    if (type === 'group_type') {
      if (typeof body.group_id !== 'number') return { status: 400, body: { error: 'group_id is missing' } };
      const group = state.groups.get(body.group_id);
      if (!group) return { status: 400, body: { message: '400 Bad request - Missing/invalid scope' } };
      if (!group.managers.has(token)) return forbidden('Insufficient permissions');
      details.groups = [{ id: group.id, full_path: group.fullPath }];
    } else if (type === 'project_type') {
      if (typeof body.project_id !== 'number')
        return { status: 400, body: { error: 'project_id is missing' } };
      const project = state.projects.get(body.project_id);
      if (!project) return { status: 400, body: { message: '400 Bad request - Missing/invalid scope' } };
      if (!project.managers.has(token)) return forbidden('Insufficient permissions');
      details.projects = [{ id: project.id, path_with_namespace: project.fullPath }];
    } else if (!state.admins.has(token)) {
      return forbidden('Insufficient permissions');
    }
    applySettings(details, body);
    state.details.set(details.id, details);
    const runner = runners.addRunner({ id: details.id, token: newToken(), tokenExpiresAt: expiry() });
    return {
      status: 201,
      body: { id: runner.id, token: runner.token, token_expires_at: runner.tokenExpiresAt },
    };
  });

  double.addRoute('GET', '/runners/:id', (request) => {
    const details = state.details.get(Number(request.params.id));
    if (!details) return { status: 404, body: { message: '404 Runner Not Found' } };
    if (!mayManage(request.token, details)) return forbidden('No access granted');
    const runner = runners.runners.get(details.id);
    return {
      status: 200,
      body: {
        ...details,
        ...(state.exposeTokenExpiry ? { token_expires_at: runner?.tokenExpiresAt ?? null } : {}),
      },
    };
  });

  double.addRoute('PUT', '/runners/:id', (request) => {
    const details = state.details.get(Number(request.params.id));
    if (!details) return { status: 404, body: { message: '404 Runner Not Found' } };
    if (!mayManage(request.token, details)) return forbidden('No access granted');
    applySettings(details, (request.body ?? {}) as Record<string, unknown>);
    return { status: 200, body: details };
  });

  double.addRoute('POST', '/runners/:id/reset_authentication_token', (request) => {
    const id = Number(request.params.id);
    const details = state.details.get(id);
    const runner = runners.runners.get(id);
    if (!details || !runner) return { status: 404, body: { message: '404 Runner Not Found' } };
    if (!mayManage(request.token, details)) return forbidden('No access granted');
    runner.token = newToken();
    runner.tokenExpiresAt = expiry();
    return { status: 201, body: { token: runner.token, token_expires_at: runner.tokenExpiresAt } };
  });

  double.addRoute('POST', '/runners/reset_authentication_token', (request) => {
    const body = (request.body ?? {}) as { token?: unknown };
    const runner = [...runners.runners.values()].find((r) => r.token === body.token);
    const expired = runner?.tokenExpiresAt && Date.parse(runner.tokenExpiresAt) <= Date.now();
    if (!runner || expired) return { status: 403, body: { message: '403 Forbidden' } };
    runner.token = newToken();
    runner.tokenExpiresAt = expiry();
    return { status: 201, body: { token: runner.token, token_expires_at: runner.tokenExpiresAt } };
  });

  return state;
}

function applySettings(details: DoubleRunnerDetails, body: Record<string, unknown>): void {
  const target = details as unknown as Record<string, unknown>;
  for (const key of UPDATABLE) {
    if (body[key] === undefined) continue;
    target[key] =
      key === 'tag_list' && typeof body[key] === 'string' ? String(body[key]).split(',') : body[key];
  }
}
