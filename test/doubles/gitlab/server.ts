/**
 * A GitLab REST API double for tests: a real HTTP server on 127.0.0.1 that
 * follows GitLab's documented shapes (status codes, PRIVATE-TOKEN auth,
 * offset pagination headers). Each area adds its routes from its own file
 * (notes.ts, runners.ts, pipelines.ts) through `addRoute`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listenOnLoopback } from '../../support/loopback.ts';

export interface DoubleRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  token: string | undefined;
  headers: IncomingMessage['headers'];
  /** When the double received it (ms since epoch). */
  at: number;
}

export interface DoubleResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type RouteHandler = (request: DoubleRequest) => DoubleResponse | Promise<DoubleResponse>;

export interface GitLabDouble {
  /** e.g. http://127.0.0.1:PORT/api/v4 */
  apiUrl: string;
  url: string;
  /** Tokens the double accepts; any other token gets 401. */
  validTokens: Set<string>;
  /** Tokens that authenticate but may not do anything (403). */
  forbiddenTokens: Set<string>;
  /** Every request received, in order (tokens are recorded as given, for assertions). */
  requests: DoubleRequest[];
  addRoute(method: string, pattern: string, handler: RouteHandler): void;
  /**
   * Answers the next `times` requests matching method and path (a RegExp on the
   * path after /api/v4) with this response instead of the route: 429 with
   * Retry-After, 5xx, and the like.
   */
  injectFault(method: string, path: RegExp, response: DoubleResponse, times?: number): void;
  close(): Promise<void>;
}

/** Slices a full list into GitLab's offset pages, with the headers GitLab sends. */
export function paginate<T>(items: readonly T[], query: URLSearchParams): DoubleResponse {
  const perPage = Math.min(Number(query.get('per_page') ?? 20) || 20, 100);
  const page = Math.max(Number(query.get('page') ?? 1) || 1, 1);
  const totalPages = Math.max(Math.ceil(items.length / perPage), 1);
  const slice = items.slice((page - 1) * perPage, page * perPage);
  return {
    status: 200,
    body: slice,
    headers: {
      'x-page': String(page),
      'x-per-page': String(perPage),
      'x-total': String(items.length),
      'x-total-pages': String(totalPages),
      'x-next-page': page < totalPages ? String(page + 1) : '',
      'x-prev-page': page > 1 ? String(page - 1) : '',
    },
  };
}

interface Route {
  method: string;
  regex: RegExp;
  names: string[];
  handler: RouteHandler;
}

export async function startGitLabDouble(options: { tokens?: string[] } = {}): Promise<GitLabDouble> {
  const routes: Route[] = [];
  const requests: DoubleRequest[] = [];
  const validTokens = new Set(options.tokens ?? ['glpat-test-token']);
  const forbiddenTokens = new Set<string>();
  const faults: { method: string; path: RegExp; response: DoubleResponse; left: number }[] = [];

  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      // A job's log arrives as plain text (PATCH /jobs/:id/trace); everything else is JSON.
      if (req.method !== 'PATCH') return send(res, { status: 400, body: { error: 'invalid JSON body' } });
      body = raw;
    }
    const token = headerValue(req, 'private-token') ?? headerValue(req, 'job-token') ?? bearer(req);
    const path = url.pathname.replace(/^\/api\/v4/, '');
    const request: DoubleRequest = {
      method: req.method ?? 'GET',
      path,
      params: {},
      query: url.searchParams,
      body,
      token,
      headers: req.headers,
      at: Date.now(),
    };
    requests.push(request);

    const fault = faults.find((f) => f.left > 0 && f.method === request.method && f.path.test(path));
    if (fault) {
      fault.left -= 1;
      return send(res, fault.response);
    }
    const route = routes.find((r) => r.method === request.method && r.regex.test(path));
    if (!route) return send(res, { status: 404, body: { message: '404 Not Found' } });
    // Runner-token endpoints authenticate with the runner token in the body, not a header.
    // Job endpoints authenticate with the job's own token (body or JOB-TOKEN), checked by their route.
    const runnerAuth =
      path.startsWith('/runners/verify') ||
      path === '/runners/managers' ||
      path === '/runners/reset_authentication_token' ||
      path === '/jobs/request' ||
      /^\/jobs\/\d+(\/trace)?$/.test(path);
    if (!runnerAuth) {
      if (!token || (!validTokens.has(token) && !forbiddenTokens.has(token))) {
        return send(res, { status: 401, body: { message: '401 Unauthorized' } });
      }
      if (forbiddenTokens.has(token)) return send(res, { status: 403, body: { message: '403 Forbidden' } });
    }
    const match = route.regex.exec(path);
    route.names.forEach((name, index) => {
      request.params[name] = decodeURIComponent(match?.[index + 1] ?? '');
    });
    try {
      send(res, await route.handler(request));
    } catch (error) {
      send(res, { status: 500, body: { message: (error as Error).message } });
    }
  });

  const url = await listenOnLoopback(server);
  return {
    url,
    apiUrl: `${url}/api/v4`,
    validTokens,
    forbiddenTokens,
    requests,
    addRoute(method, pattern, handler) {
      const names: string[] = [];
      const regex = new RegExp(
        `^${pattern.replace(/:([a-z_]+)/g, (_, name: string) => {
          names.push(name);
          return '([^/]+)';
        })}$`,
      );
      routes.push({ method, regex, names, handler });
    },
    injectFault(method, path, response, times = 1) {
      faults.push({ method, path, response, left: times });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function send(res: ServerResponse, response: DoubleResponse): void {
  res.statusCode = response.status;
  for (const [key, value] of Object.entries(response.headers ?? {})) res.setHeader(key, value);
  if (response.body === undefined || response.status === 204) {
    res.end();
    return;
  }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(response.body));
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function bearer(req: IncomingMessage): string | undefined {
  const value = headerValue(req, 'authorization');
  return value?.startsWith('Bearer ') ? value.slice(7) : undefined;
}
