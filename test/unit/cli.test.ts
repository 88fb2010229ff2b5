/** The CLI's dispatch, help and exit codes, run in process. */
import { describe, expect, it } from 'vitest';
import { runCli } from '../../scripts/cli.ts';
import { captureLog } from '../support/log-capture.ts';

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, captureLog(out, err));
  return { code, out: out.join(''), err: err.join('') };
}

describe('runner-fleet CLI', () => {
  it('documents commands and exit codes in --help', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('deploy');
    expect(help.out).toMatch(/Exit codes:\n {2}0 .*\n {2}1 .*\n/);
    expect(help.out).toContain('130');
  });

  it('shows a command usage with its flags', async () => {
    const help = await cli(['deploy', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('--outputs-dotenv FILE');
    expect(help.out).toContain('Exit codes:');
  });

  it.each([
    [[], 2, /runner-fleet: GitLab Runner fleets/],
    [['frobnicate'], 2, /unknown command frobnicate/],
    [['deploy', '--nope'], 2, /unknown flag --nope\n(.*\n)*.*run runner-fleet deploy --help/],
    [['deploy', 'positional'], 2, /unexpected argument positional(.*\n)*.*run runner-fleet deploy --help/],
    [['deploy'], 2, /missing --stack-name NAME/],
  ])('exits with a documented code for %j', async (args, code, message) => {
    const result = await cli(args);
    expect(result.code).toBe(code);
    expect(result.out + result.err).toMatch(message);
  });

  it('lists every input problem of deploy in one run', async () => {
    const result = await cli([
      'deploy',
      '--stack-name',
      '9bad',
      '--template-file',
      '/nonexistent/t.yaml',
      '--parameter',
      'x',
      '--timeout-minutes',
      '0',
      '--outputs-dotenv',
      '/nonexistent/dir/out.env',
    ]);
    expect(result.code).toBe(2);
    const lines = result.err.trim().split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringContaining('invalid --timeout-minutes 0'),
        expect.stringContaining('cannot write --outputs-dotenv /nonexistent/dir/out.env'),
        expect.stringContaining('invalid --stack-name 9bad'),
        expect.stringContaining('cannot read template file /nonexistent/t.yaml: no such file'),
        expect.stringContaining('invalid --parameter (no "=")'),
      ]),
    );
  });
});
