/**
 * Pipeline routes of the GitLab API double, with GitLab's documented shapes:
 *   POST /projects/:id/pipeline               API token; {ref, variables: [{key, value}]}
 *   POST /projects/:id/trigger/pipeline       trigger token in the body; 404 for an unknown one
 *   GET  /projects/:id/pipelines/:pipeline_id
 *   GET  /projects/:id/pipelines/:pipeline_id/jobs   (paginated)
 * :id is a numeric id or a URL-encoded path. What a pipeline does is
 * scripted per test through `plan`: the statuses successive reads return and
 * the jobs it has.
 */
import type { GitLabDouble } from './server.ts';
import { paginate } from './server.ts';

export interface DoubleJob {
  id: number;
  name: string;
  stage: string;
  status: string;
  web_url: string;
  runner: { id: number; description: string } | null;
  runner_manager: { id: number; system_id: string } | null;
}

export interface DoublePipeline {
  id: number;
  iid: number;
  project_id: number;
  sha: string;
  ref: string;
  status: string;
  source: string;
  web_url: string;
  created_at: string;
}

export interface PipelinePlan {
  /** Status after creation and on each later read; the last one stays. */
  statuses: string[];
  jobs: Omit<DoubleJob, 'web_url'>[];
}

export interface CreatedPipeline {
  pipeline: DoublePipeline;
  variables: Record<string, string>;
  /** 'api' (POST /pipeline) or 'trigger'. */
  source: string;
  plan: PipelinePlan;
  reads: number;
}

export interface PipelinesDouble {
  projects: Map<string, { id: number; path: string; refs: Set<string> }>;
  triggerTokens: Set<string>;
  created: CreatedPipeline[];
  plan: (variables: Record<string, string>) => PipelinePlan;
  addProject(project: { id: number; path: string; refs?: string[] }): void;
}

export function addPipelineRoutes(double: GitLabDouble): PipelinesDouble {
  let nextPipelineId = 1000;
  const state: PipelinesDouble = {
    projects: new Map(),
    triggerTokens: new Set(),
    created: [],
    plan: () => ({ statuses: ['created', 'pending', 'running', 'success'], jobs: [] }),
    addProject({ id, path, refs = ['main'] }) {
      const project = { id, path, refs: new Set(refs) };
      state.projects.set(String(id), project);
      state.projects.set(path, project);
    },
  };

  const create = (
    projectKey: string | undefined,
    ref: unknown,
    variables: Record<string, string>,
    source: string,
  ) => {
    const project = state.projects.get(projectKey ?? '');
    if (!project) return { status: 404, body: { message: '404 Project Not Found' } };
    if (typeof ref !== 'string' || !project.refs.has(ref)) {
      return { status: 400, body: { message: { base: ['Reference not found'] } } };
    }
    const id = nextPipelineId++;
    const plan = state.plan(variables);
    const pipeline: DoublePipeline = {
      id,
      iid: id - 999,
      project_id: project.id,
      sha: 'a'.repeat(40),
      ref,
      status: plan.statuses[0] ?? 'created',
      source,
      web_url: `${double.url}/${project.path}/-/pipelines/${id}`,
      created_at: new Date().toISOString(),
    };
    state.created.push({ pipeline, variables, source, plan, reads: 0 });
    return { status: 201, body: pipeline };
  };

  const find = (projectKey: string | undefined, pipelineId: string | undefined) => {
    const project = state.projects.get(projectKey ?? '');
    return state.created.find(
      (c) => c.pipeline.id === Number(pipelineId) && c.pipeline.project_id === project?.id,
    );
  };

  double.addRoute('POST', '/projects/:id/pipeline', (request) => {
    const body = (request.body ?? {}) as { ref?: unknown; variables?: unknown };
    const variables: Record<string, string> = {};
    for (const entry of Array.isArray(body.variables) ? body.variables : []) {
      const { key, value } = entry as { key?: unknown; value?: unknown };
      if (typeof key === 'string') variables[key] = String(value ?? '');
    }
    return create(request.params.id, body.ref, variables, 'api');
  });

  double.addRoute('POST', '/projects/:id/trigger/pipeline', (request) => {
    const body = (request.body ?? {}) as { token?: unknown; ref?: unknown; variables?: unknown };
    if (typeof body.token !== 'string' || !state.triggerTokens.has(body.token)) {
      return { status: 404, body: { message: '404 Not Found' } };
    }
    const variables: Record<string, string> = {};
    if (body.variables && typeof body.variables === 'object') {
      for (const [key, value] of Object.entries(body.variables)) variables[key] = String(value);
    }
    return create(request.params.id, body.ref, variables, 'trigger');
  });

  double.addRoute('GET', '/projects/:id/pipelines/:pipeline_id', (request) => {
    const created = find(request.params.id, request.params.pipeline_id);
    if (!created) return { status: 404, body: { message: '404 Not found' } };
    created.reads += 1;
    const { statuses } = created.plan;
    created.pipeline.status =
      statuses[Math.min(created.reads, statuses.length - 1)] ?? created.pipeline.status;
    return { status: 200, body: created.pipeline };
  });

  double.addRoute('GET', '/projects/:id/pipelines/:pipeline_id/jobs', (request) => {
    const created = find(request.params.id, request.params.pipeline_id);
    if (!created) return { status: 404, body: { message: '404 Not found' } };
    const jobs = created.plan.jobs.map((job) => ({
      ...job,
      web_url: `${double.url}/-/jobs/${job.id}`,
    }));
    return paginate(jobs, request.query);
  });

  return state;
}
