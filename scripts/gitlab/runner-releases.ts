/**
 * The newest gitlab-runner release, for fleets whose RunnerVersion is
 * "latest". Read from the public GitLab releases API of the runner project
 * (no token needed); a mirror or test double can stand in via the URL.
 */
export const RUNNER_LATEST_RELEASE_URL =
  'https://gitlab.com/api/v4/projects/gitlab-org%2Fgitlab-runner/releases/permalink/latest';

/** Thirty seconds: a release lookup is one small request; a hung mirror must not hang the job. */
const RELEASE_LOOKUP_TIMEOUT_MS = 30_000;

export async function latestRunnerRelease(
  url: string = RUNNER_LATEST_RELEASE_URL,
  fetchImpl: typeof fetch = fetch,
): Promise<string | undefined> {
  try {
    const response = await fetchImpl(url, { signal: AbortSignal.timeout(RELEASE_LOOKUP_TIMEOUT_MS) });
    if (!response.ok) return undefined;
    const release = (await response.json()) as { tag_name?: unknown };
    const tag = typeof release.tag_name === 'string' ? release.tag_name : '';
    return /^v?\d+\.\d+\.\d+$/.test(tag) ? tag.replace(/^v/, '') : undefined;
  } catch {
    return undefined;
  }
}
