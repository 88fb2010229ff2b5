/**
 * The job side of the GitLab API double, enough for the real gitlab-runner
 * (shell executor) to take a job, stream its log and report its end, with the
 * runner tokens of runners.ts: a token GitLab reset is refused at once.
 * Written from the runner's client at the pinned revision
 * (gitlab.com/gitlab-org/gitlab-runner network/gitlab.go: RequestJob expects
 * 201 with a job, 204 for none, 403 for a refused token; UpdateJob PUT
 * /jobs/:id with the job token in the body; PatchTrace PATCH /jobs/:id/trace
 * with JOB-TOKEN and Content-Range, 202 with Range and Job-Status;
 * common/spec for the job JSON) and FACTS.md "What the real runner does".
 */
import { runnerJobPayload } from './runner-job-payload.ts';
import type { RunnersDouble } from './runners.ts';
import type { DoubleResponse, GitLabDouble } from './server.ts';

export interface DoubleJob {
  id: number;
  name: string;
  script: string[];
  token: string;
  /** The runner token that took it, and when. */
  takenWith?: string;
  takenAt?: number;
  /** Every state the runner reported, in order, with when it arrived. */
  states: { state: string; at: number; failureReason?: string }[];
  trace: string;
}

export interface JobRequestRecord {
  at: number;
  token: string | undefined;
  status: number;
}

export interface RunnerJobsDouble {
  jobs: DoubleJob[];
  /** Every POST /jobs/request: which runner token, and GitLab's answer. */
  jobRequests: JobRequestRecord[];
  enqueue(name: string, script: string[]): DoubleJob;
}

const FINAL = new Set(['success', 'failed', 'canceled']);

export function addRunnerJobRoutes(double: GitLabDouble, runners: RunnersDouble): RunnerJobsDouble {
  const queue: DoubleJob[] = [];
  let nextJobId = 5000;
  const state: RunnerJobsDouble = {
    jobs: [],
    jobRequests: [],
    enqueue(name, script) {
      nextJobId += 1;
      const job: DoubleJob = {
        id: nextJobId,
        name,
        script,
        token: `job-token-${nextJobId}`,
        states: [],
        trace: '',
      };
      state.jobs.push(job);
      queue.push(job);
      return job;
    },
  };
  const validRunnerToken = (token: unknown) =>
    typeof token === 'string' &&
    [...runners.runners.values()].some(
      (r) => r.token === token && !(r.tokenExpiresAt && Date.parse(r.tokenExpiresAt) <= Date.now()),
    );

  double.addRoute('POST', '/jobs/request', (request): DoubleResponse => {
    const token = (request.body as { token?: string } | undefined)?.token;
    const answer = (response: DoubleResponse) => {
      state.jobRequests.push({ at: request.at, token, status: response.status });
      return response;
    };
    if (!validRunnerToken(token)) return answer({ status: 403, body: { message: '403 Forbidden' } });
    const job = queue.shift();
    if (!job) return answer({ status: 204 });
    job.takenWith = token;
    job.takenAt = request.at;
    return answer({
      status: 201,
      body: runnerJobPayload({
        id: job.id,
        name: job.name,
        token: job.token,
        script: job.script,
        serverUrl: double.url,
        project: 'token-rotation',
        timeoutSeconds: 600,
      }),
    });
  });

  double.addRoute('PUT', '/jobs/:id', (request): DoubleResponse => {
    const job = state.jobs.find((j) => j.id === Number(request.params.id));
    const body = (request.body ?? {}) as { token?: string; state?: string; failure_reason?: string };
    if (!job || body.token !== job.token) return { status: 403, body: { message: '403 Forbidden' } };
    if (body.state) {
      job.states.push({
        state: body.state,
        at: request.at,
        ...(body.failure_reason ? { failureReason: body.failure_reason } : {}),
      });
    }
    const final = job.states.find((s) => FINAL.has(s.state));
    return { status: 200, headers: { 'Job-Status': final?.state ?? 'running' } };
  });

  double.addRoute('PATCH', '/jobs/:id/trace', (request): DoubleResponse => {
    const job = state.jobs.find((j) => j.id === Number(request.params.id));
    const jobToken = request.headers['job-token'];
    if (!job || jobToken !== job.token) return { status: 403, body: { message: '403 Forbidden' } };
    const range = /^(\d+)-(\d+)$/.exec(String(request.headers['content-range'] ?? ''));
    const length = Buffer.byteLength(job.trace);
    if (!range || Number(range[1]) !== length) {
      return { status: 416, headers: { Range: `0-${length}`, 'Job-Status': 'running' } };
    }
    job.trace += typeof request.body === 'string' ? request.body : JSON.stringify(request.body ?? '');
    return {
      status: 202,
      headers: {
        Range: `0-${Buffer.byteLength(job.trace)}`,
        'Job-Status': 'running',
        'X-GitLab-Trace-Update-Interval': '1',
      },
    };
  });

  return state;
}
