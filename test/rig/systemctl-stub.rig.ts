/**
 * The bats suite's systemctl stub (test/bats/helpers/stub.sh) checked against
 * the real thing with the real runner: the same SIGQUIT stop of
 * gitlab-runner.service while it runs a real job, under the drop-in the
 * scripts write, asked through a real systemd and through the stub. Both must
 * answer `is-active` (output and exit code) and `show -p
 * ActiveState,SubState,MainPID` alike, while the job runs and after it ended.
 * (test/bats/systemctl-stub.bats does the same with a shell process standing
 * in for the runner; this one uses the runner itself.)
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO, RUNNER_UNIT, sleep, waitFor } from './instance.js';
import { type Ctx, diagnostics, launchInstance, missingPrerequisites, runJob } from './scenario.js';
import { type CommandResult, runCommand } from './user-manager.js';

const missing = missingPrerequisites();
const inCi = process.env.CI === 'true';
let ctx: Ctx | undefined;

afterEach(async () => {
  await ctx?.close();
  ctx = undefined;
});

/** "is-active <exit> <output>" and the show lines, MainPID normalized. */
function observed(isActive: CommandResult, show: CommandResult): string[] {
  return [`is-active ${isActive.code} ${isActive.stdout.trim()}`, ...show.stdout.trim().split('\n')].map(
    (line) => line.replace(/MainPID=[1-9]\d*/, 'MainPID=<pid>'),
  );
}

describe.skipIf(missing.length > 0 && !inCi)(
  'the bats systemctl stub against a real systemd and the real runner',
  () => {
    it('answers alike during and after a SIGQUIT stop with a job running', async () => {
      if (missing.length) throw new Error(`prerequisites missing in CI: ${missing.join(', ')}`);
      ctx = await launchInstance();
      const c = ctx;
      expect(c.bootstrap.code, diagnostics(c)).toBe(0);
      // The agent would drain on its own terms; this test drives systemd itself.
      await c.instance.manager.systemctl('stop', 'runner-fleet-lifecycle.service');
      const job = await runJob(c, 'crosscheck', 6);
      const ask = async (): Promise<string[]> =>
        observed(
          await c.instance.manager.systemctl('is-active', RUNNER_UNIT),
          await c.instance.manager.systemctl('show', '-p', 'ActiveState,SubState,MainPID', RUNNER_UNIT),
        );
      expect((await c.instance.manager.systemctl('stop', '--no-block', RUNNER_UNIT)).code).toBe(0);
      await sleep(1000);
      const realDuring = await ask();
      await waitFor('the job to end', () => job.final, 30_000);
      await waitFor(
        'the runner to exit',
        async () => (await c.instance.manager.show(RUNNER_UNIT, ['MainPID'])).MainPID === '0',
        15_000,
      );
      const realAfter = await ask();

      const stubRoot = mkdtempSync(join(tmpdir(), 'rig-stub-'));
      try {
        const bin = join(stubRoot, 'bin');
        const stubDir = join(stubRoot, 'stub');
        mkdirSync(bin);
        mkdirSync(join(stubDir, 'units'), { recursive: true });
        // RF_RIG_SYSTEMCTL_STUB checks another copy of the stub (e.g. an older revision).
        symlinkSync(
          process.env.RF_RIG_SYSTEMCTL_STUB ?? join(REPO, 'test/bats/helpers/stub.sh'),
          join(bin, 'systemctl'),
        );
        // The bats helpers' conventions: a running unit, and the runner's metrics saying one job runs.
        writeFileSync(join(stubDir, 'units', `${RUNNER_UNIT}.active`), '');
        const jobs = (n: number): void =>
          writeFileSync(
            join(stubDir, 'metrics'),
            `gitlab_runner_concurrent 4\ngitlab_runner_jobs{runner="abc",system_id="s_56789abcdef0",state="running"} ${n}\n`,
          );
        const env = {
          PATH: `${bin}:/usr/bin:/bin`,
          STUB_DIR: stubDir,
          STUB_LOG: join(stubRoot, 'calls.log'),
          RF_RUNNER_METRICS_URL: `file://${join(stubDir, 'metrics')}`,
        };
        const stub = (...args: string[]): Promise<CommandResult> => runCommand(['systemctl', ...args], env);
        const askStub = async (): Promise<string[]> =>
          observed(
            await stub('is-active', RUNNER_UNIT),
            await stub('show', '-p', 'ActiveState,SubState,MainPID', RUNNER_UNIT),
          );
        jobs(1);
        await stub('stop', '--no-block', RUNNER_UNIT);
        const stubDuring = await askStub();
        jobs(0);
        const stubAfter = await askStub();

        console.log(
          `real systemd during: ${realDuring.join('; ')}\nreal systemd after: ${realAfter.join('; ')}`,
        );
        expect(realDuring).toContain('is-active 3 deactivating');
        expect(realDuring).toContain('ActiveState=deactivating');
        expect(realDuring).toContain('MainPID=<pid>');
        expect(realAfter).toContain('MainPID=0');
        expect({ during: stubDuring, after: stubAfter }).toEqual({ during: realDuring, after: realAfter });
      } finally {
        rmSync(stubRoot, { recursive: true, force: true });
      }
    });
  },
);
