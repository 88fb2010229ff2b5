/**
 * Hostile and careless input to the real CLI process: each is refused before
 * any AWS call (the fault proxy in front of a dead endpoint counts them) with
 * exit 2 and one line per problem, quickly, without echoing a token.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CliResult, runCliProcess } from '../support/cli-process.ts';
import { awsEnv, freePort, ROOT } from '../support/emulator.ts';
import { type FaultProxy, startFaultProxy } from './fault-proxy.ts';

const basic = join(ROOT, 'test', 'fixtures', 'templates', 'basic.yaml');
const aliasBomb = join(ROOT, 'test', 'fixtures', 'templates', 'alias-bomb.yaml');

describe('input the CLI refuses before it calls AWS', () => {
  let proxy: FaultProxy;
  let work: string;

  beforeAll(async () => {
    // Nothing listens behind the proxy: any call that got through would fail loudly.
    proxy = await startFaultProxy(`http://127.0.0.1:${await freePort()}`);
    work = await mkdtemp(join(tmpdir(), 'rf-input-'));
  });
  afterAll(async () => {
    await proxy?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });
  beforeEach(() => {
    proxy.calls.length = 0;
  });

  async function cli(
    args: string[],
    extra: NodeJS.ProcessEnv = {},
  ): Promise<CliResult & { seconds: number }> {
    const started = Date.now();
    const result = await runCliProcess(args, { ...awsEnv(proxy.endpoint), ...extra }, { timeoutMs: 60_000 });
    return { ...result, seconds: (Date.now() - started) / 1000 };
  }

  const errorLines = (result: CliResult) =>
    result.stderr.split('\n').filter((line) => line.startsWith('error:'));

  it.each([
    ['destroy', ['destroy', '--stack-name', 'bad_name!', '--yes-destroy-stack', 'bad_name!']],
    ['roll', ['roll', '--stack-name', 'bad_name!']],
    ['status', ['status', '--stack-name', 'bad_name!']],
    ['smoke-test', ['smoke-test', '--stack-name', 'bad_name!', '--runner-id', '1']],
  ])('%s checks the stack name (exit 2)', async (_verb, args) => {
    const result = await cli(args, { RUNNER_FLEET_GITLAB_TOKEN: 'glpat-input-test-token' });
    expect(result.code, result.output).toBe(2);
    expect(errorLines(result)).toContain(
      'error: invalid --stack-name bad_name!: use a letter then letters, digits and hyphens (at most 128 characters)',
    );
    expect(proxy.calls).toEqual([]);
  });

  it('an output path that is a directory is refused before any work (deploy --outputs-dotenv, roll --junit)', async () => {
    const deploy = await cli([
      'deploy',
      '--stack-name',
      'fleet',
      '--template-file',
      basic,
      '--outputs-dotenv',
      work,
    ]);
    expect(deploy.code, deploy.output).toBe(2);
    expect(errorLines(deploy)).toEqual([
      `error: cannot write --outputs-dotenv ${work}: it is a directory; name a file`,
    ]);
    const roll = await cli(['roll', '--stack-name', 'fleet', '--junit', work]);
    expect(roll.code, roll.output).toBe(2);
    expect(errorLines(roll)).toEqual([`error: cannot write --junit ${work}: it is a directory; name a file`]);
    expect(proxy.calls).toEqual([]);
  });

  it('--gitlab-url notaurl is one line and exit 2', async () => {
    const result = await cli([
      'destroy',
      '--stack-name',
      'fleet',
      '--yes-destroy-stack',
      'fleet',
      '--gitlab-url',
      'notaurl',
    ]);
    expect(result.code, result.output).toBe(2);
    expect(errorLines(result)).toEqual([
      'error: invalid --gitlab-url notaurl: expected the GitLab address, such as https://gitlab.example.com',
    ]);
  });

  it('a malformed AWS_ENDPOINT_URL is one line and exit 2', async () => {
    const result = await cli(['deploy', '--stack-name', 'fleet', '--template-file', basic], {
      AWS_ENDPOINT_URL: 'localhost:4566',
    });
    expect(result.code, result.output).toBe(2);
    expect(errorLines(result)).toEqual([
      'error: invalid AWS_ENDPOINT_URL localhost:4566: expected an http(s) URL such as https://cloudformation.eu-west-1.amazonaws.com',
    ]);
  });

  it('--timeout-minutes -1, unknown flags, stray arguments and flags without values are listed with every other problem', async () => {
    const result = await cli([
      'deploy',
      '--stack-name',
      '9bad',
      '--nope',
      '--stak-name',
      'fleet',
      'extra',
      '--template-file',
      '--timeout-minutes',
      '-1',
      '--wait-minutes',
      'soon',
      '--outputs-dotenv',
    ]);
    expect(result.code, result.output).toBe(2);
    expect(errorLines(result)).toEqual([
      'error: unknown flag --nope',
      'error: unknown flag --stak-name',
      'error: unexpected argument extra: deploy takes flags only',
      'error: invalid --stack-name 9bad: use a letter then letters, digits and hyphens (at most 128 characters)',
      'error: missing value after --template-file: write --template-file FILE',
      'error: missing value after --outputs-dotenv: write --outputs-dotenv FILE',
      'error: invalid --timeout-minutes -1: expected a whole number above 0',
      'error: invalid --wait-minutes soon: expected a whole number above 0',
      'error:   run runner-fleet deploy --help for its flags',
    ]);
    expect(proxy.calls).toEqual([]);
  });

  it('a YAML alias bomb is refused in one line within seconds', async () => {
    for (const verb of ['deploy', 'preview']) {
      const result = await cli([verb, '--stack-name', 'fleet', '--template-file', aliasBomb]);
      expect(result.code, result.output).toBe(2);
      expect(errorLines(result)).toEqual([
        expect.stringMatching(
          /^error: template .*alias-bomb.yaml refused: YAML aliases expand it to more than/,
        ),
      ]);
      expect(result.seconds).toBeLessThan(15);
    }
    expect(proxy.calls).toEqual([]);
  });

  it('a token-shaped value outside AllowedValues is not echoed', async () => {
    const token = 'glrt-abcdefghij0123456789';
    const result = await cli([
      'deploy',
      '--stack-name',
      'fleet',
      '--template-file',
      basic,
      `--parameter=Environment=${token}`,
    ]);
    expect(result.code, result.output).toBe(2);
    expect(result.output).not.toContain(token);
    expect(errorLines(result)).toEqual([
      'error: parameter Environment=**** is not allowed: use one of test, prod',
    ]);
  });

  it('prints no AWS SDK Node-version warning on Node 20, even without the suppressing variable', async () => {
    const env = { ...awsEnv(proxy.endpoint) };
    delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
    delete env.AWS_ACCESS_KEY_ID;
    const result = await runCliProcess(['status', '--stack-name', 'fleet'], env, { timeoutMs: 60_000 });
    expect(result.code, result.output).toBe(2);
    expect(result.stderr).not.toMatch(/NodeVersionSupportWarning|will require node/);
    expect(errorLines(result)).toEqual([expect.stringMatching(/^error: no AWS credentials/)]);
  });
});
