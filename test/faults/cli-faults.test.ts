/**
 * The real CLI process under faults: ministack behind the project's fault
 * proxy (fault-proxy.ts), which throttles, fails, drops and hangs chosen AWS
 * calls. Every case asserts the documented exit code, one clear line, a
 * bounded wall time, and that nothing is left behind: no pending change set,
 * no REVIEW_IN_PROGRESS stack, no extra SSM parameter version.
 *
 * Timeouts are short through the CLI's own settings (RUNNER_FLEET_AWS_TIMEOUT_SECONDS,
 * AWS_MAX_ATTEMPTS), so the suite stays quick.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  CloudFormationClient,
  DescribeStacksCommand,
  ListChangeSetsCommand,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import { GetParameterHistoryCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CliResult, runCliProcess } from '../support/cli-process.ts';
import { awsEnv, type Emulator, emulatorAvailable, ROOT, startEmulator } from '../support/emulator.ts';
import { type FaultProxy, type FaultRule, startFaultProxy } from './fault-proxy.ts';

const templates = join(ROOT, 'test', 'fixtures', 'templates');
const basic = join(templates, 'basic.yaml');
const noEchoOutputs = join(templates, 'noecho-output.yaml');

/** One attempt may take this long before the CLI gives up on it. */
const ATTEMPT_TIMEOUT_SECONDS = 1;
const MAX_ATTEMPTS = 3;
/** For the signal cases: slow answers (the proxy's delay) must not time out before the signal lands. */
const PATIENT = { RUNNER_FLEET_AWS_TIMEOUT_SECONDS: '5' };
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

describe.skipIf(!emulatorAvailable('ministack'))(
  'the CLI under faults (ministack behind the fault proxy)',
  () => {
    let emulator: Emulator;
    let proxy: FaultProxy;
    let cfn: CloudFormationClient;
    let ssm: SSMClient;
    let work: string;

    beforeAll(async () => {
      emulator = await startEmulator('ministack');
      proxy = await startFaultProxy(emulator.endpoint);
      // Checks go straight to the emulator, never through the faults.
      cfn = new CloudFormationClient({ endpoint: emulator.endpoint, region: 'us-east-1', credentials });
      ssm = new SSMClient({ endpoint: emulator.endpoint, region: 'us-east-1', credentials });
      work = await mkdtemp(join(tmpdir(), 'rf-faults-'));
    });
    afterAll(async () => {
      cfn?.destroy();
      ssm?.destroy();
      await proxy?.stop();
      await emulator?.stop();
      if (work) await rm(work, { recursive: true, force: true });
    });
    beforeEach(async () => {
      proxy.setRules([]);
      proxy.holdCompletion(undefined);
      proxy.calls.length = 0;
      await emulator.reset();
    });

    const env = (extra: NodeJS.ProcessEnv = {}) => ({
      ...awsEnv(proxy.endpoint),
      RUNNER_FLEET_AWS_TIMEOUT_SECONDS: String(ATTEMPT_TIMEOUT_SECONDS),
      AWS_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      ...extra,
    });

    async function timed(run: Promise<CliResult>): Promise<CliResult & { seconds: number }> {
      const started = Date.now();
      const result = await run;
      return { ...result, seconds: (Date.now() - started) / 1000 };
    }

    const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
      timed(runCliProcess(args, env(extra), { timeoutMs: 60_000 }));

    const deployArgs = (stack: string, ...more: string[]) => [
      'deploy',
      '--stack-name',
      stack,
      '--template-file',
      basic,
      ...more,
    ];

    /** Deploys without faults (the starting point of an update scenario). */
    async function existing(stack: string): Promise<void> {
      const result = await cli(deployArgs(stack));
      expect(result.code, result.output).toBe(0);
      proxy.calls.length = 0;
    }

    const errorLines = (result: CliResult) =>
      result.stderr.split('\n').filter((line) => line.startsWith('error:'));

    async function stackOf(name: string): Promise<Stack | undefined> {
      try {
        return (await cfn.send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0];
      } catch {
        return undefined;
      }
    }

    /** Everything a run may leave behind, as readable lines (empty when clean). */
    async function leftovers(): Promise<string[]> {
      const found: string[] = [];
      const stacks = (await cfn.send(new DescribeStacksCommand({}))).Stacks ?? [];
      for (const stack of stacks) {
        if (stack.StackStatus === 'DELETE_COMPLETE') continue;
        if (stack.StackStatus === 'REVIEW_IN_PROGRESS')
          found.push(`stack ${stack.StackName} REVIEW_IN_PROGRESS`);
        const sets = await cfn.send(
          new ListChangeSetsCommand({ StackName: stack.StackId ?? stack.StackName }),
        );
        for (const set of sets.Summaries ?? []) {
          if (
            set.ExecutionStatus === 'AVAILABLE' ||
            set.Status === 'CREATE_PENDING' ||
            set.Status === 'CREATE_IN_PROGRESS'
          ) {
            found.push(
              `change set ${set.ChangeSetName} of ${stack.StackName} ${set.Status}/${set.ExecutionStatus}`,
            );
          }
        }
      }
      return found;
    }

    async function waitForCall(action: string, timeoutMs = 20_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!proxy.calls.some((call) => call.action === action)) {
        if (Date.now() > deadline) throw new Error(`no ${action} call within ${timeoutMs} ms`);
        await delay(20);
      }
    }

    const faults = (...rules: FaultRule[]) => proxy.setRules(rules);

    describe('hung and dropped connections', () => {
      it('a DescribeStacks that never answers ends the deploy in seconds, after three tries, with one line', async () => {
        faults({ action: 'DescribeStacks', fault: 'hang' });
        const result = await cli(deployArgs('hang-first'));
        expect(result.code, result.output).toBe(1);
        expect(errorLines(result)).toEqual([
          expect.stringMatching(
            /^error: deploy failed: CloudFormation DescribeStacks got no answer in time \(ETIMEDOUT\) after 3 attempt\(s\); .*RUNNER_FLEET_AWS_TIMEOUT_SECONDS$/,
          ),
        ]);
        // Three attempts of one second each, with short pauses between; start-up takes a few seconds.
        const tries = proxy.calls.filter((call) => call.action === 'DescribeStacks');
        expect(tries).toHaveLength(3);
        const spread = ((tries.at(-1)?.at ?? 0) - (tries[0]?.at ?? 0)) / 1000;
        expect(spread).toBeLessThan(3 * ATTEMPT_TIMEOUT_SECONDS + 1.5);
        expect(result.seconds).toBeLessThan(20);
        expect(await leftovers()).toEqual([]);
      });

      it('losing sight of the stack after execution says the update goes on in CloudFormation', async () => {
        await existing('hang-follow');
        // The first read marks existing events; the ones after execution hang.
        faults({ action: 'DescribeStackEvents', fault: 'hang', skip: 1 });
        const result = await cli(deployArgs('hang-follow', '--parameter=QueueSuffix=two'));
        expect(result.code, result.output).toBe(1);
        expect(result.stderr).toMatch(
          /error: deploy failed: CloudFormation DescribeStackEvents got no answer in time/,
        );
        expect(result.stderr).toContain(
          'the update of hang-follow goes on in CloudFormation: run deploy again to follow it',
        );
        expect(result.seconds).toBeLessThan(25);
      });

      it('a CreateChangeSet whose answer is lost is found by name: one change set, deployed, nothing left over', async () => {
        faults({ action: 'CreateChangeSet', fault: 'drop-after', count: 1 });
        const result = await cli(deployArgs('lost-create'));
        expect(result.code, result.output).toBe(0);
        expect((await stackOf('lost-create'))?.StackStatus).toBe('CREATE_COMPLETE');
        expect(await leftovers()).toEqual([]);
      });

      it('an ExecuteChangeSet whose answer is lost is not executed twice and the deploy follows it', async () => {
        await existing('lost-execute');
        faults({ action: 'ExecuteChangeSet', fault: 'drop-after', count: 1 });
        const result = await cli(deployArgs('lost-execute', '--parameter=QueueSuffix=two'));
        expect(result.code, result.output).toBe(0);
        expect(result.stdout).toContain('Stack lost-execute UPDATE_COMPLETE');
        expect(await leftovers()).toEqual([]);
      });

      it('a connection dropped before the request, and 5xx answers, are retried quietly to success', async () => {
        faults(
          { action: 'CreateChangeSet', fault: 'drop-before', count: 1 },
          { action: 'DescribeStacks', fault: 'server-error', count: 2 },
        );
        const result = await cli(deployArgs('blips'));
        expect(result.code, result.output).toBe(0);
        expect(await leftovers()).toEqual([]);
      });
    });

    describe('throttling and refusals', () => {
      it('throttling while the change set is computed backs off, says so, and the deploy succeeds', async () => {
        faults({ action: 'DescribeChangeSet', fault: 'throttle', count: 2 });
        const result = await cli(deployArgs('throttled'));
        expect(result.code, result.output).toBe(0);
        expect(result.stderr).toMatch(
          /warning: AWS is throttling CloudFormation DescribeChangeSet \(Throttling\): backing off and retrying \(attempt 1 of 3\)/,
        );
      });

      it('running out of throttling retries says so, with what to do, and leaves nothing behind', async () => {
        faults({ action: 'DescribeChangeSet', fault: 'throttle' });
        const result = await cli(deployArgs('throttled-out'));
        expect(result.code, result.output).toBe(1);
        expect(errorLines(result)).toEqual([
          'error: deploy failed: AWS kept throttling CloudFormation DescribeChangeSet (Throttling) after 3 attempts; other pipelines or tools are calling this account: run again later, or raise AWS_MAX_ATTEMPTS',
        ]);
        expect(result.seconds).toBeLessThan(25);
        expect(await leftovers()).toEqual([]);
      });

      it('AccessDenied while waiting for the change set fails at once, names the action, and cleans up', async () => {
        faults({ action: 'DescribeChangeSet', fault: 'access-denied', count: 1 });
        const result = await cli(deployArgs('denied'));
        expect(result.code, result.output).toBe(1);
        expect(errorLines(result)).toEqual([
          expect.stringMatching(
            /^error: deploy failed: AWS refused CloudFormation DescribeChangeSet \(AccessDenied\);/,
          ),
        ]);
        expect(proxy.calls.filter((call) => call.action === 'DescribeChangeSet' && call.fault)).toHaveLength(
          1,
        );
        expect(result.seconds).toBeLessThan(20);
        expect(await leftovers()).toEqual([]);
        expect(await stackOf('denied')).toBeUndefined();
      });

      it('preview: AccessDenied on the change set fails at once and deletes what it made', async () => {
        faults({ action: 'DescribeChangeSet', fault: 'access-denied', count: 1 });
        const result = await cli(['preview', '--stack-name', 'denied-preview', '--template-file', basic]);
        expect(result.code, result.output).toBe(1);
        expect(result.stderr).toMatch(/AWS refused CloudFormation DescribeChangeSet \(AccessDenied\)/);
        expect(await leftovers()).toEqual([]);
      });

      it('roll: AccessDenied is one line naming the call', async () => {
        faults({ action: 'DescribeStacks', fault: 'access-denied' });
        const result = await cli(['roll', '--stack-name', 'fleet', '--dry-run']);
        expect(result.code, result.output).toBe(1);
        expect(errorLines(result)).toEqual([
          expect.stringMatching(
            /^error: roll failed: AWS refused CloudFormation DescribeStacks \(AccessDenied\);/,
          ),
        ]);
      });

      it('destroy: a lost DeleteStack answer is retried with the same request token and the stack is gone', async () => {
        await existing('lost-delete');
        faults({ action: 'DeleteStack', fault: 'drop-after', count: 1 });
        const result = await cli([
          'destroy',
          '--stack-name',
          'lost-delete',
          '--yes-destroy-stack',
          'lost-delete',
        ]);
        expect(result.code, result.output).toBe(0);
        expect((await stackOf('lost-delete'))?.StackStatus ?? 'DELETE_COMPLETE').toBe('DELETE_COMPLETE');
      });
    });

    describe('signals as CI sends them', () => {
      /** Holds every DescribeChangeSet for a while, so the CLI is waiting on a pending change set. */
      const slowChangeSet = () => faults({ action: 'DescribeChangeSet', fault: 'delay', delayMs: 1500 });

      async function interrupted(
        stack: string,
        send: (pid: number, handled: () => Promise<void>) => unknown,
        options: { processGroup?: boolean; args?: string[] } = {},
      ): Promise<CliResult & { seconds: number }> {
        let output = '';
        const run = runCliProcess(options.args ?? deployArgs(stack), env(PATIENT), {
          timeoutMs: 60_000,
          onOutput: (text) => {
            output += text;
          },
          ...(options.processGroup ? { processGroup: true } : {}),
        });
        const result = timed(run);
        await waitForCall(options.args ? 'DescribeStackEvents' : 'DescribeChangeSet');
        // Resolves once the CLI has taken the first signal in: a second one sent after
        // this cannot be merged with it by the operating system or the runtime.
        const handled = async () => {
          const deadline = Date.now() + 10_000;
          while (!/(SIGTERM|SIGINT) received/.test(output) && Date.now() < deadline) await delay(5);
        };
        await send(run.child.pid ?? 0, handled);
        return result;
      }

      it('SIGINT while the change set is computed: exit 130, the change set and its empty stack are deleted', async () => {
        slowChangeSet();
        const result = await interrupted('sigint', (pid) => process.kill(pid, 'SIGINT'));
        expect(result.code, result.output).toBe(130);
        expect(result.stderr).toContain('error: deploy of sigint interrupted');
        expect(result.stdout).toContain(
          'Deleted the pending change set and the empty stack sigint that held it',
        );
        expect(await leftovers()).toEqual([]);
      });

      it('SIGTERM twice in a row (timeout(1), GitLab cancel) still cleans up', async () => {
        await existing('sigterm-twice');
        slowChangeSet();
        const result = await interrupted('sigterm-twice', async (pid, handled) => {
          process.kill(pid, 'SIGTERM');
          await handled();
          process.kill(pid, 'SIGTERM');
        });
        expect(result.code, result.output).toBe(130);
        expect(result.stdout).toContain(
          'Deleted the pending change set of sigterm-twice; the stack was not changed',
        );
        expect(await leftovers()).toEqual([]);
        expect((await stackOf('sigterm-twice'))?.StackStatus).toBe('CREATE_COMPLETE');
      });

      it('SIGTERM to the process and then its group, as timeout(1) does, cleans up a new stack', async () => {
        slowChangeSet();
        const result = await interrupted(
          'group',
          async (pid, handled) => {
            process.kill(pid, 'SIGTERM');
            await handled();
            process.kill(-pid, 'SIGTERM');
          },
          { processGroup: true },
        );
        expect(result.code, result.output).toBe(130);
        expect(await leftovers()).toEqual([]);
        expect(await stackOf('group')).toBeUndefined();
      });

      it('SIGINT before the first wait exits 130 with one line', async () => {
        faults({ action: 'DescribeStacks', fault: 'delay', delayMs: 1500 });
        const run = runCliProcess(deployArgs('early'), env(PATIENT), { timeoutMs: 60_000 });
        await waitForCall('DescribeStacks');
        run.child.kill('SIGINT');
        const result = await run;
        expect(result.code, result.output).toBe(130);
        expect(errorLines(result)).toEqual([
          'error: deploy interrupted by SIGINT before it changed anything in AWS',
        ]);
        expect(await leftovers()).toEqual([]);
      });

      it('SIGINT during the runner token PutParameter exits 130 and writes one version only', async () => {
        faults({ action: 'PutParameter', fault: 'delay', delayMs: 1500 });
        const run = runCliProcess(
          [
            ...deployArgs('token-stack'),
            '--runner-token-from-env',
            'FLEET_TOKEN',
            '--runner-token-parameter',
            '/fleet/token',
          ],
          env({ ...PATIENT, FLEET_TOKEN: 'glrt-fault-suite-token-0123456789' }),
          { timeoutMs: 60_000 },
        );
        await waitForCall('PutParameter');
        run.child.kill('SIGINT');
        const result = await run;
        expect(result.code, result.output).toBe(130);
        expect(result.output).not.toContain('glrt-fault-suite-token');
        const history = await ssm.send(new GetParameterHistoryCommand({ Name: '/fleet/token' }));
        expect(history.Parameters ?? []).toHaveLength(1);
        expect(await stackOf('token-stack')).toBeUndefined();
      });

      it('destroy: Ctrl-C before DeleteStack deletes nothing and says so', async () => {
        await existing('keep-me');
        faults({ action: 'DescribeStackEvents', fault: 'delay', delayMs: 1500 });
        const result = await interrupted('keep-me', (pid) => process.kill(pid, 'SIGINT'), {
          args: ['destroy', '--stack-name', 'keep-me', '--yes-destroy-stack', 'keep-me'],
        });
        expect(result.code, result.output).toBe(130);
        expect(errorLines(result), result.output).toEqual([
          'error: destroy of keep-me interrupted before DeleteStack: nothing was deleted',
        ]);
        expect(proxy.calls.some((call) => call.action === 'DeleteStack')).toBe(false);
        expect((await stackOf('keep-me'))?.StackStatus).toBe('CREATE_COMPLETE');
      });
    });

    describe('races and secrets', () => {
      it('two deploys at once: one wins, the other is told another deploy is running', async () => {
        faults({ action: 'CreateChangeSet', fault: 'delay', delayMs: 300 });
        const [a, b] = await Promise.all([cli(deployArgs('race')), cli(deployArgs('race'))]);
        const codes = [a.code, b.code].sort();
        expect(codes, `${a.output}\n----\n${b.output}`).toEqual([0, 1]);
        const loser = a.code === 1 ? a : b;
        expect(loser.stderr).toMatch(/another deploy \(or a person\) is changing it at the same time/);
        expect(await leftovers()).toEqual([]);
      });

      it('an output echoing a NoEcho value kept from the previous deploy is masked and kept out of the dotenv', async () => {
        const first = await cli([
          'deploy',
          '--stack-name',
          'noecho',
          '--template-file',
          noEchoOutputs,
          '--parameter',
          'Password=correct-horse-battery',
        ]);
        expect(first.code, first.output).toBe(0);
        const dotenv = join(work, 'noecho.env');
        const second = await cli([
          'deploy',
          '--stack-name',
          'noecho',
          '--template-file',
          noEchoOutputs,
          '--parameter',
          'Environment=prod',
          '--outputs-dotenv',
          dotenv,
        ]);
        expect(second.code, second.output).toBe(0);
        expect(second.output).not.toContain('correct-horse-battery');
        expect(second.stdout).toContain('PasswordEcho = ****');
        expect(second.stdout).toContain('ConnectionString = ****');
        const written = await readFile(dotenv, 'utf8');
        expect(written).not.toContain('correct-horse-battery');
        expect(written).toMatch(/^QueueUrl=/m);
      });
    });
  },
);
