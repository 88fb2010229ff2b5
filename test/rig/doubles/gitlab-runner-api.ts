/**
 * A GitLab double that speaks the runner side of GitLab's API well enough for
 * the real gitlab-runner (built by tools/setup.d/60-gitlab-runner.sh) to
 * register, verify, take a shell job, stream its log, report its end and
 * unregister its runner manager.
 *
 * Written from the runner's own client at the pinned revision
 * (gitlab.com/gitlab-org/gitlab-runner, network/gitlab.go: RequestJob,
 * UpdateJob, PatchTrace, VerifyRunner, UnregisterRunnerManager;
 * network/remote_job_state_response.go and patch_response.go for the
 * response headers it reads; common/spec/spec.go for the job JSON;
 * common/network.go for the failure reasons) and FACTS.md "What the real
 * runner does". Status codes follow what that client expects: 201 for a job,
 * 204 for none, 200 for verify and job updates, 202 for a trace patch,
 * 204 for a manager deletion, 403 for a refused token.
 *
 * It records what a drain is judged on: every job's states with the time
 * GitLab received them (the final one decides whether a job was lost), every
 * manager deletion, every request with its runner token.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { runnerJobPayload } from '../../doubles/gitlab/runner-job-payload.ts';
import { listenOnLoopback } from '../../support/loopback.ts';

export interface JobSpec {
  name: string;
  /** Shell lines of the job's script step. */
  script: string[];
}

export interface JobState {
  state: string;
  failureReason?: string;
  exitCode?: number;
  at: number;
}

export interface RigJob {
  id: number;
  spec: JobSpec;
  token: string;
  /** When the runner took the job (ms since epoch), or undefined while queued. */
  takenAt?: number;
  takenBySystemId?: string;
  states: JobState[];
  /** The first success/failed/canceled update GitLab received. */
  final?: JobState;
  trace: string;
}

export interface ManagerDeletion {
  systemId: string;
  at: number;
  /** True when the double hung instead of answering (unregister hang mode). */
  hung: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  at: number;
  runnerToken?: string;
  systemId?: string;
  status: number;
}

export interface RunnerApiDouble {
  url: string;
  /** Runner authentication tokens the double accepts (glrt-...). */
  validTokens: Set<string>;
  /** Tokens answered with 403 on verify and job requests (a revoked or wrong token). */
  refusedTokens: Set<string>;
  jobs: RigJob[];
  managerDeletions: ManagerDeletion[];
  verifications: { systemId: string; at: number; ok: boolean }[];
  requests: RecordedRequest[];
  /** Queue a job for the next POST /jobs/request; returns it. */
  enqueue(spec: JobSpec): RigJob;
  /** DELETE /runners/managers never answers while true (GitLab hanging). */
  hangUnregister: boolean;
  /** Jobs not yet taken are withdrawn (as when a pipeline is canceled). */
  clearQueue(): void;
  close(): Promise<void>;
}

const FINAL_STATES = new Set(['success', 'failed', 'canceled']);

export async function startRunnerApiDouble(): Promise<RunnerApiDouble> {
  const jobs: RigJob[] = [];
  const queue: RigJob[] = [];
  const managerDeletions: ManagerDeletion[] = [];
  const verifications: RunnerApiDouble['verifications'] = [];
  const requests: RecordedRequest[] = [];
  const hanging = new Set<ServerResponse>();
  let nextId = 1000;
  let url = '';

  const double: RunnerApiDouble = {
    url: '',
    validTokens: new Set(),
    refusedTokens: new Set(),
    jobs,
    managerDeletions,
    verifications,
    requests,
    hangUnregister: false,
    enqueue(spec) {
      nextId += 1;
      const job: RigJob = { id: nextId, spec, token: `rig-job-token-${nextId}`, states: [], trace: '' };
      jobs.push(job);
      queue.push(job);
      return job;
    },
    clearQueue() {
      queue.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  const tokenStatus = (token: string | undefined): 'ok' | 'refused' | 'unknown' => {
    if (token && double.refusedTokens.has(token)) return 'refused';
    if (token && double.validTokens.has(token)) return 'ok';
    return 'unknown';
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const at = Date.now();
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname.replace(/^\/api\/v4/, '');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> = {};
    if (raw && req.method !== 'PATCH') {
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        body = {};
      }
    }
    const header = (name: string): string | undefined => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const runnerToken = (body.token as string | undefined) ?? header('runner-token');
    const systemId = body.system_id as string | undefined;
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      at,
      runnerToken,
      systemId,
      status: 0,
    };
    requests.push(record);
    const send = (status: number, payload?: unknown, headers: Record<string, string> = {}): void => {
      record.status = status;
      res.statusCode = status;
      for (const [key, value] of Object.entries(headers)) res.setHeader(key, value);
      if (payload === undefined) {
        res.end();
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(payload));
    };

    if (req.method === 'POST' && path === '/runners/verify') {
      const status = tokenStatus(runnerToken);
      verifications.push({ systemId: systemId ?? '', at, ok: status === 'ok' });
      if (status !== 'ok') return send(403, { message: '403 Forbidden' });
      return send(200, { id: 1, token: runnerToken, token_expires_at: null });
    }
    if (req.method === 'POST' && path === '/jobs/request') {
      if (tokenStatus(runnerToken) !== 'ok') return send(403, { message: '403 Forbidden' });
      const job = queue.shift();
      if (!job) return send(204);
      job.takenAt = at;
      job.takenBySystemId = systemId;
      return send(
        201,
        runnerJobPayload({
          id: job.id,
          name: job.spec.name,
          token: job.token,
          script: job.spec.script,
          serverUrl: url,
          project: 'drain-rig',
          timeoutSeconds: 3600,
        }),
      );
    }
    const update = /^\/jobs\/(\d+)$/.exec(path);
    if (req.method === 'PUT' && update) {
      const job = jobs.find((candidate) => candidate.id === Number(update[1]));
      if (!job || body.token !== job.token) return send(403, { message: '403 Forbidden' });
      const state: JobState = {
        state: String(body.state),
        failureReason: (body.failure_reason as string | undefined) || undefined,
        exitCode: body.exit_code as number | undefined,
        at,
      };
      job.states.push(state);
      if (!job.final && FINAL_STATES.has(state.state)) job.final = state;
      return send(200, undefined, { 'Job-Status': job.final?.state ?? 'running' });
    }
    const trace = /^\/jobs\/(\d+)\/trace$/.exec(path);
    if (req.method === 'PATCH' && trace) {
      const job = jobs.find((candidate) => candidate.id === Number(trace[1]));
      if (!job || header('job-token') !== job.token) return send(403, { message: '403 Forbidden' });
      const range = /^(\d+)-(\d+)$/.exec(header('content-range') ?? '');
      const start = range ? Number(range[1]) : -1;
      if (start !== Buffer.byteLength(job.trace)) {
        return send(416, undefined, { Range: `0-${Buffer.byteLength(job.trace)}`, 'Job-Status': 'running' });
      }
      job.trace += raw;
      return send(202, undefined, {
        Range: `0-${Buffer.byteLength(job.trace)}`,
        'Job-Status': job.final?.state ?? 'running',
        'X-GitLab-Trace-Update-Interval': '1',
      });
    }
    if (req.method === 'DELETE' && path === '/runners/managers') {
      const deletion: ManagerDeletion = { systemId: systemId ?? '', at, hung: double.hangUnregister };
      managerDeletions.push(deletion);
      if (double.hangUnregister) {
        record.status = -1;
        hanging.add(res);
        return;
      }
      if (tokenStatus(runnerToken) !== 'ok') return send(403, { message: '403 Forbidden' });
      return send(204);
    }
    return send(404, { message: '404 Not Found' });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.statusCode = 500;
      res.end(String(error));
    });
  });
  url = await listenOnLoopback(server);
  double.url = url;
  return double;
}
