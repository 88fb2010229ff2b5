/**
 * The decisions behind create-runner, rotate-token and reconcile, without a
 * network: settings from file and flags, what changes, which managers go,
 * when a command must be told to act, Retry-After, the token-expiry check.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Instance } from '@aws-sdk/client-auto-scaling';
import { describe, expect, it } from 'vitest';
import { createRunnerCommand } from '../../scripts/commands/create-runner-command.ts';
import { loadRunnerSettings } from '../../scripts/commands/create-runner-settings.ts';
import { reconcileModeProblem } from '../../scripts/commands/reconcile-command.ts';
import { planReconcile, renderReconcileTable } from '../../scripts/commands/reconcile-plan.ts';
import { InputError } from '../../scripts/errors.ts';
import { createGitLabClient, retryAfterMs } from '../../scripts/gitlab/client.ts';
import { type RunnerDetails, settingChanges } from '../../scripts/gitlab/runner-admin.ts';
import type { RunnerManager } from '../../scripts/gitlab/runners.ts';
import { systemIdForInstance } from '../../scripts/gitlab/system-id.ts';
import { tokenExpiryResult } from '../../scripts/smoke-test/evaluate.ts';
import { captureLog } from '../support/log-capture.ts';
import { runnerManager } from '../support/runner-manager.ts';

const dir = mkdtempSync(join(tmpdir(), 'rf-identity-'));
function settingsFile(text: string): string {
  const file = join(dir, `runner-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, text);
  return file;
}
async function problemsOf(promise: Promise<unknown>): Promise<string[]> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InputError);
  return (error as InputError).problems;
}

describe('runner settings from the repository', () => {
  it('reads the file, and flags override it', async () => {
    const file = settingsFile(
      'runner_type: group_type\ngroup: team/ci\ntag_list: [a, b]\nrun_untagged: false\n',
    );
    const settings = await loadRunnerSettings({ settings: file, tag: ['c'], paused: 'true' });
    expect(settings).toEqual({
      runnerType: 'group_type',
      group: 'team/ci',
      tagList: ['c'],
      runUntagged: false,
      paused: true,
    });
  });

  it('lists every problem at once, naming where each came from', async () => {
    const file = settingsFile(
      'runner_type: group_type\nproject: 12\nlocked: yes\nmaximum_timeout: 3600\naccess_level: everyone\ncolour: blue\n',
    );
    const problems = await problemsOf(loadRunnerSettings({ settings: file, 'maximum-timeout': '60' }));
    expect(problems).toEqual([
      `unknown setting colour in ${file}: expected one of runner_type, group, project, description, tag_list, run_untagged, locked, paused, maximum_timeout, access_level, maintenance_note`,
      'runner_type group_type needs the group (its id or full path): set group or pass --group',
      `project in ${file} is only for runner_type project_type, not group_type`,
      `invalid locked in ${file} yes: expected true or false`,
      'invalid --maximum-timeout 60: expected whole seconds, at least 600',
      `invalid access_level in ${file} everyone: expected not_protected or ref_protected`,
    ]);
  });

  it('refuses an unknown runner type and a missing file in one line each', async () => {
    expect(await problemsOf(loadRunnerSettings({ settings: settingsFile('runner_type: shared\n') }))).toEqual(
      [
        expect.stringMatching(
          /^invalid runner_type in .* shared: expected instance_type, group_type, project_type$/,
        ),
      ],
    );
    expect(await problemsOf(loadRunnerSettings({ settings: join(dir, 'nope.yml') }))).toEqual([
      `cannot read --settings ${join(dir, 'nope.yml')}: no such file or not readable`,
      'no runner_type: set it in the settings file or pass --runner-type (instance_type, group_type, project_type)',
    ]);
  });
});

describe("create-runner's settings flags", () => {
  async function commandProblems(flags: Record<string, string>): Promise<string[]> {
    const error = await createRunnerCommand
      .run(
        { 'runner-token-parameter': '/fleet/token', ...flags },
        { log: captureLog([]), signal: new AbortController().signal, env: {} },
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(InputError);
    return (error as InputError).problems;
  }

  it('refuses a value outside the allowed ones once, from the input schema, and keeps the file merge', async () => {
    const file = settingsFile('runner_type: group_type\ngroup: team/ci\naccess_level: everyone\n');
    const problems = await commandProblems({
      settings: file,
      'runner-type': 'shared',
      'run-untagged': 'yes',
      paused: '',
      'access-level': 'ref_protected',
    });
    expect(
      problems.filter((line) => /runner.type|run-untagged|paused|access.level|--group/.test(line)),
    ).toEqual([
      'invalid --runner-type shared: expected instance_type, group_type, project_type',
      'invalid --run-untagged yes: expected true or false',
      'invalid --paused : expected true or false',
      // The flag's value is one of the allowed ones and overrides the file's, which is then not checked.
      `group in ${file} is only for runner_type group_type, not shared`,
    ]);
  });

  it('leaves no settings made of a refused flag value, even called on its own', async () => {
    expect(await problemsOf(loadRunnerSettings({ 'runner-type': 'shared' }))).toEqual([]);
    expect(
      await loadRunnerSettings({ 'runner-type': 'instance_type', locked: 'false', paused: 'true' }),
    ).toEqual({
      runnerType: 'instance_type',
      locked: false,
      paused: true,
    });
  });
});

describe('what an update changes', () => {
  const current: RunnerDetails = {
    id: 5,
    runner_type: 'group_type',
    description: 'fleet',
    tag_list: ['linux', 'aws'],
    run_untagged: false,
    locked: false,
    paused: false,
    maximum_timeout: null,
    access_level: 'not_protected',
  };
  it('ignores tag order and settings the repository leaves out', () => {
    expect(
      settingChanges(current, { runnerType: 'group_type', tagList: ['aws', 'linux'], runUntagged: false }),
    ).toEqual([]);
  });
  it('lists each changed setting with before and after', () => {
    expect(
      settingChanges(current, { runnerType: 'group_type', tagList: ['aws'], maximumTimeout: 3600 }),
    ).toEqual([
      { setting: 'tag_list', before: 'linux, aws', after: 'aws' },
      { setting: 'maximum_timeout', before: '-', after: '3600' },
    ]);
  });
});

describe('reconcile: which managers go', () => {
  const manager = (system_id: string, status = 'online'): RunnerManager =>
    runnerManager({
      system_id,
      created_at: '2026-11-30T00:00:00Z',
      contacted_at: '2026-11-30T10:00:00Z',
      status,
    });
  const instance = (InstanceId: string, LifecycleState: Instance['LifecycleState']): Instance =>
    ({ InstanceId, LifecycleState, HealthStatus: 'Healthy' }) as Instance;
  const live = 'i-0aaaaaaaaaaaaaaa1';
  const broken = 'i-0bbbbbbbbbbbbbbb2';
  const leaving = 'i-0ccccccccccccccc3';
  const terminated = 'i-0ddddddddddddddd4';
  const fresh = 'i-0eeeeeeeeeeeeeee5';
  const gone = 'i-0fffffffffffffff6';
  const rows = planReconcile(
    [
      manager(systemIdForInstance(live)),
      manager(systemIdForInstance(broken), 'offline'),
      manager(systemIdForInstance(leaving), 'offline'),
      manager(systemIdForInstance(terminated)),
      manager(systemIdForInstance(gone)),
      manager('s_HandMadeHost'),
      manager('runner-fleet-verify'),
    ],
    [
      instance(live, 'InService'),
      instance(broken, 'InService'),
      instance(leaving, 'Terminating:Wait'),
      instance(terminated, 'Terminated'),
      instance(fresh, 'InService'),
    ],
  );
  it('deletes only fleet-shaped managers whose instance is gone or terminated', () => {
    expect(rows.map((r) => [r.systemId, r.action])).toEqual([
      [systemIdForInstance(live), 'keep'],
      [systemIdForInstance(broken), 'broken'],
      [systemIdForInstance(leaving), 'keep'],
      [systemIdForInstance(terminated), 'delete'],
      [systemIdForInstance(gone), 'delete'],
      ['s_HandMadeHost', 'foreign'],
      ['runner-fleet-verify', 'foreign'],
      [systemIdForInstance(fresh), 'unregistered'],
    ]);
  });
  it('prints what was done, or would be', () => {
    const dry = renderReconcileTable(rows, {
      applied: false,
      deleted: new Set(),
      markedUnhealthy: new Set(),
    });
    expect(dry[0]).toMatch(/^SYSTEM ID +INSTANCE +INSTANCE STATE +MANAGER +LAST CONTACT +ACTION$/);
    expect(dry.find((l) => l.startsWith(systemIdForInstance(gone)))).toMatch(
      / gone +online +\S+ +would delete$/,
    );
    const applied = renderReconcileTable(rows, {
      applied: true,
      deleted: new Set([systemIdForInstance(gone)]),
      markedUnhealthy: new Set([broken]),
    });
    expect(applied.find((l) => l.startsWith(systemIdForInstance(gone)))).toMatch(/ deleted$/);
    expect(applied.find((l) => l.startsWith(systemIdForInstance(terminated)))).toMatch(
      / not deleted \(no runner token\)$/,
    );
    expect(applied.find((l) => l.startsWith(systemIdForInstance(broken)))).toMatch(
      / broken: marked unhealthy$/,
    );
  });
  it('a terminal defaults to a dry run; anything else must say which', () => {
    const neither = { apply: false, 'dry-run': false };
    expect(reconcileModeProblem(neither, true)).toBeUndefined();
    expect(reconcileModeProblem({ ...neither, apply: true }, false)).toBeUndefined();
    expect(reconcileModeProblem({ ...neither, 'dry-run': true }, false)).toBeUndefined();
    expect(reconcileModeProblem(neither, false)).toMatch(/^reconcile without a terminal needs --apply/);
    expect(reconcileModeProblem({ apply: true, 'dry-run': true }, true)).toBe(
      'give one of --apply and --dry-run, not both',
    );
  });
});

describe('rate limits and expiry', () => {
  it('reads Retry-After as seconds or a date, capped at a minute', () => {
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs('600')).toBe(60_000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 5_000)).toBe(5000);
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
  });

  it('retries a write refused with 429 (never one that failed with 5xx), waiting Retry-After', async () => {
    const statuses = [429, 201, 502];
    const seen: number[] = [];
    const fetchImpl = (async () => {
      seen.push(Date.now());
      const status = statuses.shift() ?? 200;
      return new Response(JSON.stringify({ ok: status }), {
        status,
        headers: status === 429 ? { 'retry-after': '0.2' } : {},
      });
    }) as unknown as typeof fetch;
    const client = createGitLabClient({ apiUrl: 'https://gitlab.test/api/v4', token: 't', fetch: fetchImpl });
    await expect(client.post('/user/runners', {})).resolves.toEqual({ ok: 201 });
    expect((seen[1] ?? 0) - (seen[0] ?? 0)).toBeGreaterThanOrEqual(190);
    await expect(client.post('/user/runners', {})).rejects.toThrow('answered 502');
    expect(seen).toHaveLength(3);
  });

  it('fails the smoke test inside the margin, passes outside it or without expiry, skips when unknown', () => {
    const now = new Date('2026-11-30T12:00:00Z');
    expect(tokenExpiryResult('2026-12-30T12:00:00Z', 14, now).status).toBe('passed');
    expect(tokenExpiryResult(null, 14, now).status).toBe('passed');
    expect(tokenExpiryResult(undefined, 14, now).status).toBe('skipped');
    const soon = tokenExpiryResult('2026-12-05T12:00:00Z', 14, now);
    expect(soon).toMatchObject({ status: 'failed', name: 'runner token valid for more than 14 days' });
    expect(soon.message).toContain('expires 2026-12-05T12:00:00Z, in 5 days: run runner-fleet rotate-token');
    expect(tokenExpiryResult('2026-11-29T12:00:00Z', 14, now).message).toContain('the runner token expired');
  });
});
