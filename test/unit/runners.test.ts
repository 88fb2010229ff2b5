/**
 * The runner-manager module against the GitLab API double (real HTTP), and
 * the system_id derivation checked against the instance script's own bash
 * function, so the two cannot drift apart unnoticed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OperationError } from '../../scripts/errors.ts';
import { createGitLabClient, GitLabApiError, type GitLabClient } from '../../scripts/gitlab/client.ts';
import {
  deleteManagerBySystemId,
  findManagerForInstance,
  listManagers,
  managersWithoutInstance,
  RUNNER_SYSTEM_ID_PATTERN,
  type RunnerManager,
  resolveRunnerId,
  systemIdForInstance,
  VERIFY_PROBE_SYSTEM_ID,
} from '../../scripts/gitlab/runners.ts';
import { addRunnerRoutes, type RunnersDouble } from '../doubles/gitlab/runners.ts';
import { type GitLabDouble, startGitLabDouble } from '../doubles/gitlab/server.ts';
import { runnerManager } from '../support/runner-manager.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const RUNNER_TOKEN = 'glrt-unit-secret-4711';
const API_TOKEN = 'glpat-test-token';

describe('systemIdForInstance', () => {
  it.each([
    ['i-0123456789abcdef0', 's_56789abcdef0'],
    ['I-0ABCDEF0123456789', 's_ef0123456789'],
    ['i-1a2b3c4d', 's_00001a2b3c4d'],
    ['i-ffffffffffffffff0', 's_fffffffffff0'],
  ])('%s -> %s', (instanceId, systemId) => {
    expect(systemIdForInstance(instanceId)).toBe(systemId);
    expect(systemId).toMatch(RUNNER_SYSTEM_ID_PATTERN);
  });

  it.each(['', 'i-xyz', 'i-0123456789abcdef', 'i-0123456789abcdef01', 'x-0123456789abcdef0', ' i-1a2b3c4d'])(
    'refuses %j',
    (value) => {
      expect(() => systemIdForInstance(value)).toThrow(/not an EC2 instance id/);
    },
  );

  it('agrees with runner_system_id in runner_configs/linux/lib/runner.sh', () => {
    const ids = [
      'i-0123456789abcdef0',
      'I-0ABCDEF0123456789',
      'i-1a2b3c4d',
      'i-35e2a820d8f7423b5',
      'i-00000000',
    ];
    const logDir = mkdtempSync(join(tmpdir(), 'rf-sid-'));
    try {
      const script = `. "$1/lib/common.sh"; . "$1/lib/runner.sh"; shift; for id in "$@"; do runner_system_id "$id"; done`;
      const output = execFileSync(
        'bash',
        ['-c', script, 'bash', join(ROOT, 'runner_configs', 'linux'), ...ids],
        {
          env: { ...process.env, RF_LOG_DIR: logDir },
          encoding: 'utf8',
        },
      );
      expect(output.trim().split('\n')).toEqual(ids.map(systemIdForInstance));
    } finally {
      rmSync(logDir, { recursive: true, force: true });
    }
  });
});

describe('runner managers through the API', () => {
  let double: GitLabDouble;
  let runners: RunnersDouble;
  let client: GitLabClient;

  beforeAll(async () => {
    double = await startGitLabDouble({ tokens: [API_TOKEN] });
    runners = addRunnerRoutes(double);
    client = createGitLabClient({ apiUrl: double.apiUrl, token: API_TOKEN });
  });
  afterAll(() => double.close());
  beforeEach(() => {
    runners.runners.clear();
    runners.paginateManagers = false;
    double.requests.length = 0;
    double.forbiddenTokens.clear();
    runners.addRunner({ id: 42, token: RUNNER_TOKEN, tokenExpiresAt: '2027-01-31T00:00:00.000Z' });
  });
  afterEach(() => {
    double.validTokens.clear();
    double.validTokens.add(API_TOKEN);
  });

  describe('resolveRunnerId', () => {
    it('returns the runner id and expiry, and leaves no probe manager behind', async () => {
      runners.setManager(42, { system_id: 's_56789abcdef0' });
      const resolved = await resolveRunnerId(client, RUNNER_TOKEN);
      expect(resolved).toEqual({ id: 42, tokenExpiresAt: '2027-01-31T00:00:00.000Z' });
      expect(runners.runners.get(42)?.managers.map((m) => m.system_id)).toEqual(['s_56789abcdef0']);
      const verify = double.requests.find((r) => r.path === '/runners/verify');
      expect(verify?.body).toEqual({ token: RUNNER_TOKEN, system_id: VERIFY_PROBE_SYSTEM_ID });
      const cleanup = double.requests.find((r) => r.method === 'DELETE');
      expect(cleanup?.body).toEqual({ token: RUNNER_TOKEN, system_id: VERIFY_PROBE_SYSTEM_ID });
    });

    it('says the runner token was refused, without the token', async () => {
      const error = await resolveRunnerId(client, 'glrt-not-a-known-token').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OperationError);
      expect((error as Error).message).toContain(
        'RUNNER_FLEET_RUNNER_TOKEN (POST /runners/verify answered 403)',
      );
      expect((error as Error).message).not.toContain('glrt-not-a-known-token');
    });
  });

  describe('listManagers', () => {
    it.each([false, true])('returns every manager (paginated: %s)', async (paginated) => {
      runners.paginateManagers = paginated;
      for (let n = 0; n < 130; n += 1) {
        runners.setManager(42, { system_id: `s_${n.toString(16).padStart(12, '0')}` });
      }
      const managers = await listManagers(client, 42);
      expect(managers).toHaveLength(130);
      expect(new Set(managers.map((m) => m.system_id)).size).toBe(130);
      expect(double.requests.filter((r) => r.path === '/runners/42/managers')).toHaveLength(
        paginated ? 2 : 1,
      );
    });

    it('passes on GitLab 401, 403 and 404 with their hints', async () => {
      const unknownRunner = await listManagers(client, 7).catch((e: unknown) => e);
      expect(unknownRunner).toBeInstanceOf(GitLabApiError);
      expect((unknownRunner as GitLabApiError).status).toBe(404);

      const badToken = createGitLabClient({ apiUrl: double.apiUrl, token: 'glpat-revoked' });
      const unauthorized = await listManagers(badToken, 42).catch((e: unknown) => e);
      expect((unauthorized as GitLabApiError).status).toBe(401);
      expect((unauthorized as Error).message).toContain(
        'set RUNNER_FLEET_GITLAB_TOKEN to a valid access token',
      );
      expect((unauthorized as Error).message).not.toContain('glpat-revoked');

      double.forbiddenTokens.add('glpat-guest');
      const guest = createGitLabClient({ apiUrl: double.apiUrl, token: 'glpat-guest' });
      expect(((await listManagers(guest, 42).catch((e: unknown) => e)) as GitLabApiError).status).toBe(403);
    });
  });

  describe('deleteManagerBySystemId', () => {
    it('deletes only that manager, then reports it gone', async () => {
      runners.setManager(42, { system_id: 's_56789abcdef0' });
      runners.setManager(42, { system_id: 's_00001a2b3c4d' });
      expect(await deleteManagerBySystemId(client, RUNNER_TOKEN, 's_56789abcdef0')).toBe('deleted');
      expect(runners.runners.get(42)?.managers.map((m) => m.system_id)).toEqual(['s_00001a2b3c4d']);
      expect(await deleteManagerBySystemId(client, RUNNER_TOKEN, 's_56789abcdef0')).toBe('not-found');
    });

    it('refuses an unknown runner token with a message that names the variable, not the value', async () => {
      runners.setManager(42, { system_id: 's_56789abcdef0' });
      const error = await deleteManagerBySystemId(client, 'glrt-wrong', 's_56789abcdef0').catch(
        (e: unknown) => e,
      );
      expect((error as Error).message).toMatch(/RUNNER_FLEET_RUNNER_TOKEN is not valid .*answered 403/);
      expect((error as Error).message).not.toContain('glrt-wrong');
      expect(runners.runners.get(42)?.managers).toHaveLength(1);
    });
  });
});

describe('matching managers to instances', () => {
  const manager = (system_id: string): RunnerManager => runnerManager({ system_id });
  const managers = [manager('s_56789abcdef0'), manager('s_00001a2b3c4d'), manager('r_Ab3dE6gH9jK2')];

  it('finds the manager of an instance by its derived system_id', () => {
    expect(findManagerForInstance(managers, 'i-0123456789abcdef0')?.system_id).toBe('s_56789abcdef0');
    expect(findManagerForInstance(managers, 'i-1a2b3c4d')?.system_id).toBe('s_00001a2b3c4d');
    expect(findManagerForInstance(managers, 'i-0fedcba9876543210')).toBeUndefined();
  });

  it('lists the managers no instance accounts for', () => {
    expect(managersWithoutInstance(managers, ['i-0123456789abcdef0']).map((m) => m.system_id)).toEqual([
      's_00001a2b3c4d',
      'r_Ab3dE6gH9jK2',
    ]);
  });
});
