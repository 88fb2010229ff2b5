/** smoke-test's flag checks: every input problem at once, exit 2, before any AWS or GitLab call. */
import { describe, expect, it } from 'vitest';
import { runCli } from '../../scripts/cli.ts';
import { smokeTestCommand } from '../../scripts/commands/smoke-test-command.ts';
import { InputError } from '../../scripts/errors.ts';
import { captureLog } from '../support/log-capture.ts';

async function problemsOf(flags: Record<string, string>, env: NodeJS.ProcessEnv): Promise<string[]> {
  const lines: string[] = [];
  const log = captureLog(lines);
  const error = await smokeTestCommand.run(flags, { log, signal: new AbortController().signal, env }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InputError);
  expect(lines).toEqual([]);
  return (error as InputError).problems;
}

describe('smoke-test input checks', () => {
  it('lists every problem together', async () => {
    const problems = await problemsOf(
      {
        'runner-id': '0',
        'expected-version': 'latest',
        'wait-minutes': 'soon',
        'canary-ref': 'main',
        'gitlab-url': 'gitlab.example.com',
        junit: '/nonexistent-dir/report.xml',
      },
      { RUNNER_FLEET_RUNNER_TOKEN: 'glrt-secret-never-shown' },
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'missing --stack-name NAME',
        'invalid --runner-id 0: expected a whole number above 0',
        'RUNNER_FLEET_GITLAB_TOKEN is not set: smoke-test reads runner managers with an API token',
        'invalid --expected-version latest: expected a version such as 17.11.1',
        'invalid --wait-minutes soon: expected a whole number above 0',
        'invalid GitLab URL gitlab.example.com: expected https://host',
        '--canary-ref needs the project of the canary pipeline: pass --canary-project or set CI_PROJECT_ID',
      ]),
    );
    expect(problems).toContain(
      'cannot write --junit /nonexistent-dir/report.xml: its directory does not exist or is not writable',
    );
    expect(problems.join('\n')).not.toContain('glrt-secret-never-shown');
  });

  it('does not require a runner id or token up front: the stack may name the runner create-runner recorded', async () => {
    const problems = await problemsOf({ 'stack-name': 'fleet' }, {});
    expect(problems).toContain(
      'RUNNER_FLEET_GITLAB_TOKEN is not set: smoke-test reads runner managers with an API token',
    );
    expect(problems.filter((problem) => /runner id|runner token|no runner/i.test(problem))).toEqual([]);
  });

  it('refuses a canary project without a canary ref', async () => {
    const problems = await problemsOf(
      { 'stack-name': 'fleet', 'runner-id': '3', 'canary-project': 'group/canary' },
      { RUNNER_FLEET_GITLAB_TOKEN: 'glpat-x' },
    );
    expect(problems).toContain('--canary-project needs --canary-ref');
  });

  it('is registered with the CLI and documents its exit codes in --help', async () => {
    const lines: string[] = [];
    const log = captureLog(lines);
    expect(await runCli(['smoke-test', '--help'], log)).toBe(0);
    expect(lines.join('')).toContain('runner-fleet smoke-test --stack-name NAME');
    expect(lines.join('')).toContain('Exit codes:');
    expect(await runCli(['smoke-test', '--runner-token', 'glrt-x'], log)).toBe(2);
  });
});
