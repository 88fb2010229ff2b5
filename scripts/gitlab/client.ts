/**
 * A small GitLab REST v4 client: JSON requests, offset pagination through
 * `x-next-page`, and errors that say what to fix. The token travels only in
 * the request header and never appears in an error message or a log line.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { OperationError } from '../errors.ts';

export interface GitLabClientOptions {
  /** API root, for example https://gitlab.example.com/api/v4 (CI_API_V4_URL). */
  apiUrl: string;
  /** A personal, project or group access token (PRIVATE-TOKEN), or a CI job token (JOB-TOKEN). */
  token: string;
  tokenKind?: 'private' | 'job';
  fetch?: typeof fetch;
  /** First pause before a read is retried (tests shorten it). */
  retryDelayMs?: number;
  /** Per-request time limit. */
  timeoutMs?: number;
}

export class GitLabApiError extends OperationError {
  readonly status: number;
  constructor(status: number, method: string, path: string, hint: string) {
    super(`GitLab API ${method} ${path} answered ${status}: ${hint}`);
    this.name = 'GitLabApiError';
    this.status = status;
  }
}

const PER_PAGE = 100;
/** Three tries, one and three seconds apart: rides out a deploy of GitLab or a load balancer blip. */
const READ_ATTEMPTS = 3;
/** A stuck GitLab must not hang a pipeline job; thirty seconds is generous for one API call. */
const DEFAULT_TIMEOUT_MS = 30_000;

export interface GitLabClient {
  get<T>(path: string, query?: Record<string, string | number | boolean | undefined>): Promise<T>;
  /** Every item of a paginated list, following x-next-page. */
  getAll<T>(path: string, query?: Record<string, string | number | boolean | undefined>): Promise<T[]>;
  post<T>(path: string, body?: unknown): Promise<T>;
  put<T>(path: string, body?: unknown): Promise<T>;
  delete(path: string, body?: unknown): Promise<void>;
}

export function createGitLabClient(options: GitLabClientOptions): GitLabClient {
  const apiUrl = options.apiUrl.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  const header = options.tokenKind === 'job' ? 'JOB-TOKEN' : 'PRIVATE-TOKEN';
  const retryDelayMs = options.retryDelayMs ?? 1_000;

  async function request(
    method: string,
    path: string,
    query: Record<string, string | number | boolean | undefined> = {},
    body?: unknown,
  ): Promise<Response> {
    const url = new URL(`${apiUrl}${path.startsWith('/') ? path : `/${path}`}`);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    // Reads are retried on a dropped connection, 429 and 5xx: one GitLab blip must not
    // fail a smoke test that polls for twenty minutes. Writes are sent once.
    const attempts = method === 'GET' ? READ_ATTEMPTS : 1;
    let response: Response | undefined;
    for (let attempt = 1; ; attempt += 1) {
      try {
        response = await doFetch(url, {
          method,
          headers: {
            // Runner-token endpoints carry their token in the body and need no header.
            ...(options.token ? { [header]: options.token } : {}),
            Accept: 'application/json',
            ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
        });
        if (!(response.status === 429 || response.status >= 500) || attempt >= attempts) break;
      } catch (error) {
        if (attempt >= attempts) {
          throw new OperationError(
            `cannot reach GitLab at ${apiUrl} (${method} ${path}): ${(error as Error).message}; check CI_API_V4_URL / --gitlab-url and the network`,
          );
        }
      }
      await delay(retryDelayMs * 3 ** (attempt - 1));
    }
    if (!response.ok) {
      throw new GitLabApiError(response.status, method, path, hint(response.status));
    }
    return response;
  }

  return {
    async get<T>(path: string, query = {}) {
      return (await readJson(await request('GET', path, query), apiUrl, 'GET', path)) as T;
    },
    async getAll<T>(path: string, query = {}) {
      const items: T[] = [];
      let page: string | null = '1';
      while (page) {
        const response = await request('GET', path, { ...query, per_page: PER_PAGE, page });
        items.push(...((await readJson(response, apiUrl, 'GET', path)) as T[]));
        const next = response.headers.get('x-next-page');
        page = next && next !== page ? next : null;
      }
      return items;
    },
    async post<T>(path: string, body?: unknown) {
      const response = await request('POST', path, {}, body ?? {});
      return (response.status === 204 ? undefined : await readJson(response, apiUrl, 'POST', path)) as T;
    },
    async put<T>(path: string, body?: unknown) {
      return (await readJson(await request('PUT', path, {}, body ?? {}), apiUrl, 'PUT', path)) as T;
    },
    async delete(path: string, body?: unknown) {
      await request('DELETE', path, {}, body);
    },
  };
}

/**
 * The body as JSON, or one clear error when it is not: a URL that points at a
 * web page (a login page, a proxy, the wrong host) answers 200 with HTML.
 */
async function readJson(response: Response, apiUrl: string, method: string, path: string): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    const type = response.headers.get('content-type')?.split(';')[0] ?? 'no content type';
    throw new OperationError(
      `${apiUrl} answered ${method} ${path} with ${type}, not GitLab API JSON: check that --gitlab-url (or CI_API_V4_URL / CI_SERVER_URL) is the GitLab address`,
    );
  }
}

function hint(status: number): string {
  switch (status) {
    case 401:
      return 'the token is missing, expired or revoked; set RUNNER_FLEET_GITLAB_TOKEN to a valid access token';
    case 403:
      return 'the token lacks the permission or scope for this call (api scope; Maintainer on the project, or runner ownership)';
    case 404:
      return 'not found, or not visible to this token; check the project, merge request or runner id';
    case 429:
      return 'rate limited by GitLab; retry later';
    default:
      return status >= 500 ? 'GitLab had an internal error; retry later' : 'the request was refused';
  }
}
