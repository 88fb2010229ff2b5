/** The GitLab REST client: retries for reads only, actionable errors, the token only in its header. */
import { describe, expect, it } from 'vitest';
import { createGitLabClient, GitLabApiError } from '../../scripts/gitlab/client.ts';

function scriptedFetch(statuses: number[]) {
  const calls: { url: string; method: string; headers: Record<string, string> }[] = [];
  const fetchImpl = (async (url: URL, init: RequestInit) => {
    calls.push({
      url: String(url),
      method: init.method ?? 'GET',
      headers: init.headers as Record<string, string>,
    });
    const status = statuses.shift() ?? 200;
    return new Response(status === 204 ? null : JSON.stringify({ status }), { status });
  }) as unknown as typeof fetch;
  return { calls, fetchImpl };
}

const TOKEN = 'glpat-client-test-token';

describe('GitLab client', () => {
  it('retries a read on 502 and 429, then succeeds', async () => {
    const { calls, fetchImpl } = scriptedFetch([502, 429, 200]);
    const client = createGitLabClient({
      apiUrl: 'https://gitlab.test/api/v4/',
      token: TOKEN,
      fetch: fetchImpl,
      retryDelayMs: 1,
    });
    await expect(client.get('/runners/1')).resolves.toEqual({ status: 200 });
    expect(calls.map((c) => c.url)).toEqual(Array(3).fill('https://gitlab.test/api/v4/runners/1'));
    expect(calls[0]?.headers['PRIVATE-TOKEN']).toBe(TOKEN);
  });

  it('gives up on a read after three tries with the status and a hint', async () => {
    const { calls, fetchImpl } = scriptedFetch([503, 503, 503, 200]);
    const client = createGitLabClient({
      apiUrl: 'https://gitlab.test/api/v4',
      token: TOKEN,
      fetch: fetchImpl,
      retryDelayMs: 1,
    });
    const error = await client.get('/x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitLabApiError);
    expect((error as GitLabApiError).message).toBe(
      'GitLab API GET /x answered 503: GitLab had an internal error; retry later',
    );
    expect(calls).toHaveLength(3);
  });

  it('sends a write once, and never retries a 401', async () => {
    const write = scriptedFetch([502]);
    const writer = createGitLabClient({
      apiUrl: 'https://gitlab.test/api/v4',
      token: TOKEN,
      fetch: write.fetchImpl,
      retryDelayMs: 1,
    });
    await expect(writer.post('/projects/1/pipeline', {})).rejects.toThrow('answered 502');
    expect(write.calls).toHaveLength(1);

    const denied = scriptedFetch([401]);
    const reader = createGitLabClient({
      apiUrl: 'https://gitlab.test/api/v4',
      token: TOKEN,
      fetch: denied.fetchImpl,
      retryDelayMs: 1,
    });
    const error = (await reader.get('/user').catch((e: unknown) => e)) as Error;
    expect(error.message).toContain('set RUNNER_FLEET_GITLAB_TOKEN to a valid access token');
    expect(error.message).not.toContain(TOKEN);
    expect(denied.calls).toHaveLength(1);
  });

  it('sends no token header when it has none (runner-token endpoints)', async () => {
    const { calls, fetchImpl } = scriptedFetch([204]);
    const client = createGitLabClient({ apiUrl: 'https://gitlab.test/api/v4', token: '', fetch: fetchImpl });
    await client.delete('/runners/managers', { token: 'glrt-x', system_id: 's_0123456789ab' });
    expect(Object.keys(calls[0]?.headers ?? {})).not.toContain('PRIVATE-TOKEN');
  });

  it('says in one line when the URL answers a web page instead of the API', async () => {
    const fetchImpl = (async () =>
      new Response('<!DOCTYPE html><html><body>Sign in</body></html>', {
        status: 200,
        headers: { 'content-type': 'text/html; charset=utf-8' },
      })) as unknown as typeof fetch;
    const client = createGitLabClient({
      apiUrl: 'https://intranet.test/api/v4',
      token: TOKEN,
      fetch: fetchImpl,
    });
    const error = (await client.get('/runners/1').catch((e: unknown) => e)) as Error;
    expect(error.name).toBe('OperationError');
    expect(error.message).toBe(
      'https://intranet.test/api/v4 answered GET /runners/1 with text/html, not GitLab API JSON: check that --gitlab-url (or CI_API_V4_URL / CI_SERVER_URL) is the GitLab address',
    );
  });
});
