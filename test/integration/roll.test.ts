/**
 * `runner-fleet roll` as a real process against the emulators, for what they
 * implement: ministack accepts StartInstanceRefresh and reports it finished
 * at once (a stub, so the request shapes and the end of the follow loop are
 * what is tested here; the refresh state machine is tested against the fake
 * in test/unit/roll.test.ts). moto has no instance refresh at all: roll must
 * fail with a clear line, not a parser error.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliProcess } from '../support/cli-process.ts';
import { type Emulator, ROOT, startEmulator } from '../support/emulator.ts';

const miniFleet = join(ROOT, 'test/fixtures/templates/mini-fleet.yaml');
// Nothing listens on the discard port: the release lookup fails fast and roll says so.
const NO_RELEASES = ['--runner-releases-url', 'http://127.0.0.1:9/releases/latest'];

describe('roll against ministack', () => {
  let emulator: Emulator;
  beforeAll(async () => {
    emulator = await startEmulator('ministack');
  });
  afterAll(async () => emulator?.stop());
  const cli = (args: string[]) => runCliProcess(args, emulator.env);

  it('reports an up-to-date fleet with --dry-run and changes nothing', async () => {
    expect((await cli(['deploy', '--stack-name', 'roll-a', '--template-file', miniFleet])).code).toBe(0);
    const result = await cli(['roll', '--stack-name', 'roll-a', '--dry-run', ...NO_RELEASES]);
    expect(result.code, result.output).toBe(0);
    expect(result.stdout).toMatch(/^Fleet roll-a \(group roll-a-AutoScalingGroup-\S+\):$/m);
    expect(result.stdout).toContain('  launch template: every instance on the current version');
    expect(result.stdout).toContain('Fleet is up to date: nothing to roll.');
    expect(result.stdout).not.toContain('Started instance refresh');
  });

  it('starts and follows an instance refresh with --force', async () => {
    const result = await cli([
      'roll',
      '--stack-name',
      'roll-a',
      '--force',
      '--checkpoint-percentages',
      '50,100',
      // ministack's group reports no numbered launch template version (it ignores the
      // mixed instances policy), which AWS's automatic rollback needs; see the next test.
      '--no-auto-rollback',
      ...NO_RELEASES,
    ]);
    expect(result.code, result.output).toBe(0);
    expect(result.stdout).toMatch(
      /Started instance refresh \S+ on roll-a-AutoScalingGroup-\S+ \(min healthy 100%, max healthy 200%, skip matching no, auto rollback off\)/,
    );
    expect(result.stdout).toMatch(/instance refresh \S+: Successful 100% complete/);
    expect(result.stdout).toContain('Smoke test skipped: set RUNNER_FLEET_GITLAB_TOKEN');
  });

  it('refuses automatic rollback for a group without a numbered launch template version', async () => {
    const result = await cli(['roll', '--stack-name', 'roll-a', '--force', ...NO_RELEASES]);
    expect(result.code, result.output).toBe(1);
    expect(result.stderr).toMatch(/does not name a launch template version, which automatic rollback needs/);
    expect(result.stdout).not.toContain('Started instance refresh');
  });

  it('rejects bad refresh settings, all at once', async () => {
    const result = await cli([
      'roll',
      '--stack-name',
      'roll-a',
      '--max-healthy-percentage',
      '250',
      '--checkpoint-percentages',
      '100,50',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'invalid --max-healthy-percentage 250: expected a whole number from 100 to 200',
    );
    expect(result.stderr).toContain('invalid --checkpoint-percentages');
  });

  it('says the stack is missing', async () => {
    const result = await cli(['roll', '--stack-name', 'nope', '--dry-run']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: stack nope does not exist: deploy it first');
  });
});

describe('roll against moto', () => {
  let emulator: Emulator;
  beforeAll(async () => {
    emulator = await startEmulator('moto');
  });
  afterAll(async () => emulator?.stop());

  it('fails with one clear line where the emulator has no instance refresh API', async () => {
    const env = emulator.env;
    const deployed = await runCliProcess(
      ['deploy', '--stack-name', 'roll-m', '--template-file', miniFleet],
      env,
    );
    expect(deployed.code, deployed.output).toBe(0);
    const result = await runCliProcess(['roll', '--stack-name', 'roll-m', '--dry-run', ...NO_RELEASES], env);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^error: roll failed: the AWS endpoint \(http:\/\/127\.0\.0\.1:\d+\) answered AutoScaling DescribeInstanceRefreshes with HTTP 500 and something that is not an AWS API response/,
      ),
    ]);
  });
});
