/**
 * Pipelines and their jobs through the GitLab REST API: start a pipeline
 * (with an API token or a pipeline trigger token), read its status, and see
 * which runner and runner manager ran each job. Nothing here prints; the
 * trigger token travels only in the request body.
 */
import type { GitLabClient } from './client.ts';

export interface Pipeline {
  id: number;
  iid?: number;
  project_id: number;
  status: string;
  ref: string;
  sha?: string;
  web_url?: string;
}

/** The runner and runner manager fields of a job (GET /projects/:id/pipelines/:id/jobs). */
export interface PipelineJob {
  id: number;
  name: string;
  stage?: string;
  status: string;
  web_url?: string;
  runner: { id: number; description?: string | null } | null;
  /** GitLab 17.2 and later; null for jobs no runner picked up. */
  runner_manager?: { id: number; system_id: string } | null;
}

/** Statuses after which a pipeline no longer changes on its own. */
const FINISHED = new Set(['success', 'failed', 'canceled', 'skipped', 'manual', 'scheduled']);

export function isPipelineFinished(status: string): boolean {
  return FINISHED.has(status);
}

/** A numeric project id as is, a path (group/project) URL-encoded, as GitLab expects in :id. */
export function projectRef(project: string): string {
  return encodeURIComponent(project);
}

export interface NewPipeline {
  ref: string;
  variables: Readonly<Record<string, string>>;
}

/** POST /projects/:id/pipeline with the API token (Developer on the project, allowed to run on the ref). */
export async function createPipeline(
  client: GitLabClient,
  project: string,
  pipeline: NewPipeline,
): Promise<Pipeline> {
  return client.post<Pipeline>(`/projects/${projectRef(project)}/pipeline`, {
    ref: pipeline.ref,
    variables: Object.entries(pipeline.variables).map(([key, value]) => ({
      key,
      value,
      variable_type: 'env_var',
    })),
  });
}

/** POST /projects/:id/trigger/pipeline with a pipeline trigger token (runs as the trigger's owner). */
export async function triggerPipeline(
  client: GitLabClient,
  project: string,
  triggerToken: string,
  pipeline: NewPipeline,
): Promise<Pipeline> {
  return client.post<Pipeline>(`/projects/${projectRef(project)}/trigger/pipeline`, {
    token: triggerToken,
    ref: pipeline.ref,
    variables: { ...pipeline.variables },
  });
}

export async function getPipeline(
  client: GitLabClient,
  project: string,
  pipelineId: number,
): Promise<Pipeline> {
  return client.get<Pipeline>(`/projects/${projectRef(project)}/pipelines/${pipelineId}`);
}

/** The latest attempt of every job of a pipeline (retried attempts left out). */
export async function listPipelineJobs(
  client: GitLabClient,
  project: string,
  pipelineId: number,
): Promise<PipelineJob[]> {
  return client.getAll<PipelineJob>(`/projects/${projectRef(project)}/pipelines/${pipelineId}/jobs`);
}
