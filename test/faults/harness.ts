/**
 * The setup the fault suites share: ministack behind the fault proxy, a
 * client straight to the emulator for checks, and helpers to run the real CLI
 * and to find what a run left behind. Call inside a describe block.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  CloudFormationClient,
  DescribeStacksCommand,
  ListChangeSetsCommand,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import { SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { type CliResult, runCliProcess } from '../support/cli-process.ts';
import { awsEnv, type Emulator, ROOT, startEmulator } from '../support/emulator.ts';
import { type FaultProxy, type FaultRule, startFaultProxy } from './fault-proxy.ts';

/** One attempt may take this long before the CLI gives up on it. */
export const ATTEMPT_TIMEOUT_SECONDS = 1;
const MAX_ATTEMPTS = 3;
/** For the signal cases: slow answers (the proxy's delay) must not time out before the signal lands. */
export const PATIENT = { RUNNER_FLEET_AWS_TIMEOUT_SECONDS: '5' };
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

export const basic = join(ROOT, 'test', 'fixtures', 'templates', 'basic.yaml');
export const noEchoOutputs = join(ROOT, 'test', 'fixtures', 'templates', 'noecho-output.yaml');

export function faultHarness() {
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
      const sets = await cfn.send(new ListChangeSetsCommand({ StackName: stack.StackId ?? stack.StackName }));
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

  return {
    get proxy() {
      return proxy;
    },
    get ssm() {
      return ssm;
    },
    get work() {
      return work;
    },
    env,
    timed,
    cli,
    deployArgs,
    existing,
    errorLines,
    stackOf,
    leftovers,
    waitForCall,
    faults,
  };
}
