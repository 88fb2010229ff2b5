/**
 * How a command reaches GitLab: the API URL from --gitlab-url (its CI
 * variable fallback applied by the input schema), the API token and the runner token from the environment only
 * (a flag would show them in process lists and job logs).
 */
import { createGitLabClient, type GitLabClient } from '../gitlab/client.ts';

export interface GitLabAccess {
  apiUrl: string;
  client: GitLabClient;
}

/**
 * The API root of --gitlab-url as the command's input schema resolved it (the
 * flag, else CI_API_V4_URL, else CI_SERVER_URL: common-flags.ts gitlabUrl), or
 * undefined when none of them is set.
 */
export function gitlabApiUrl(resolved: string | undefined): string | undefined {
  return resolved ? apiRoot(resolved) : undefined;
}

/** https://host or https://host/api/v4 → https://host/api/v4 */
export function apiRoot(url: string): string {
  const trimmed = url.replace(/\/+$/, '');
  return trimmed.endsWith('/api/v4') ? trimmed : `${trimmed}/api/v4`;
}

/** A client when both a URL (--gitlab-url as resolved) and RUNNER_FLEET_GITLAB_TOKEN are there; undefined otherwise (GitLab checks are then skipped). */
export function optionalGitLabAccess(
  gitlabUrl: string | undefined,
  env: NodeJS.ProcessEnv,
): GitLabAccess | undefined {
  const apiUrl = gitlabApiUrl(gitlabUrl);
  const token = gitlabTokenFromEnv(env);
  if (!apiUrl || !token) return undefined;
  return { apiUrl, client: createGitLabClient({ apiUrl, token }) };
}

/** The API token, from the environment only: a flag would show it in process lists and job logs. */
export function gitlabTokenFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const token = env.RUNNER_FLEET_GITLAB_TOKEN?.trim();
  return token ? token : undefined;
}
