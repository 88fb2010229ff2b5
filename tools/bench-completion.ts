/**
 * Benchmark, not a test: how long after a stack operation ends does
 * `runner-fleet deploy` notice it, next to `aws cloudformation deploy`, on the
 * same emulator behind the fault proxy. The proxy holds each update "in
 * progress" for a random 3-8 s after ExecuteChangeSet (rewriting the status
 * DescribeStacks reports), so the moment the stack completes is known
 * exactly; the lag is the time from that moment to the tool's success line.
 * Also prints DescribeStacks calls per second while runner-fleet waits, and
 * the wall time of a deploy whose stack reads hang, with the default timeouts.
 *
 *   npm run bench:completion                     # 5 rounds each, ministack
 *   BENCH_ROUNDS=10 BENCH_HANG=0 npx tsx tools/bench-completion.ts
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFaultProxy } from '../test/faults/fault-proxy.ts';
import { CLI, isolatedEnv } from '../test/support/cli-process.ts';
import { awsEnv, ROOT, startEmulator, TOOLS_BIN } from '../test/support/emulator.ts';

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const measureHang = process.env.BENCH_HANG !== '0';
const HOLD_MIN_MS = 3_000;
const HOLD_SPREAD_MS = 5_000;

interface Run {
  code: number | null;
  /** When the success line appeared (ms since the epoch), if it did. */
  noticedAt: number | undefined;
  seconds: number;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, success: RegExp): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(command, args, { env: isolatedEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let noticedAt: number | undefined;
    let output = '';
    const watch = (chunk: Buffer) => {
      output += chunk.toString();
      if (noticedAt === undefined && success.test(output)) noticedAt = Date.now();
    };
    child.stdout.on('data', watch);
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 && process.env.BENCH_VERBOSE === '1') process.stderr.write(output);
      resolve({ code, noticedAt, seconds: (Date.now() - started) / 1000 });
    });
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

async function main(): Promise<void> {
  const emulator = await startEmulator('ministack');
  const proxy = await startFaultProxy(emulator.endpoint);
  const work = await mkdtemp(join(tmpdir(), 'rf-bench-completion-'));
  const base = await readFile(join(ROOT, 'test/fixtures/templates/basic.yaml'), 'utf8');
  const env = { ...awsEnv(proxy.endpoint), AWS_DEFAULT_REGION: 'us-east-1' };
  const template = async (marker: string) => {
    const path = join(work, `${marker}.yaml`);
    // A changed property of an existing resource: an update with real work, not only outputs.
    await writeFile(
      path,
      base.replace(
        '      Type: String\n      Value:',
        `      Type: String\n      Description: ${marker}\n      Value:`,
      ),
    );
    return path;
  };
  const ours = async (stack: string, marker: string) =>
    run(
      process.execPath,
      [CLI, 'deploy', '--stack-name', stack, '--template-file', await template(marker)],
      env,
      new RegExp(`Stack ${stack} (CREATE|UPDATE)_COMPLETE`),
    );
  const awsCli = async (stack: string, marker: string) =>
    run(
      join(TOOLS_BIN, 'aws'),
      [
        'cloudformation',
        'deploy',
        '--endpoint-url',
        proxy.endpoint,
        '--stack-name',
        stack,
        '--template-file',
        await template(marker),
        '--no-fail-on-empty-changeset',
      ],
      env,
      /Successfully created\/updated stack/,
    );

  try {
    for (const [tool, stack] of [
      [ours, 'bench-ours'],
      [awsCli, 'bench-aws'],
    ] as const) {
      const created = await tool(stack, 'start');
      if (created.code !== 0) throw new Error(`first create of ${stack} failed (${created.code})`);
    }
    proxy.holdCompletion({ holdMs: () => HOLD_MIN_MS + Math.random() * HOLD_SPREAD_MS });
    const lags: Record<'ours' | 'aws', number[]> = { ours: [], aws: [] };
    const pollRates: number[] = [];
    for (let round = 1; round <= rounds; round += 1) {
      for (const [name, tool, stack] of [
        ['ours', ours, 'bench-ours'],
        ['aws', awsCli, 'bench-aws'],
      ] as const) {
        const firstCall = proxy.calls.length;
        const result = await tool(stack, `${name}-${round}`);
        const releasedAt = proxy.releases.at(-1);
        if (result.code !== 0 || result.noticedAt === undefined || releasedAt === undefined) {
          throw new Error(`${name} round ${round} failed (exit ${result.code})`);
        }
        const lag = (result.noticedAt - releasedAt) / 1000;
        lags[name].push(lag);
        if (name === 'ours') {
          const calls = proxy.calls.slice(firstCall);
          const executed = calls.find((call) => call.action === 'ExecuteChangeSet')?.at ?? releasedAt;
          const describes = calls.filter(
            (call) => call.action === 'DescribeStacks' && call.at >= executed,
          ).length;
          pollRates.push(describes / ((result.noticedAt - executed) / 1000));
        }
        console.log(`round ${round} ${name.padEnd(4)} noticed ${lag.toFixed(2)} s after completion`);
      }
    }
    const line = (name: string, values: number[]) =>
      `${name.padEnd(28)} worst ${Math.max(...values).toFixed(2)} s   median ${median(values).toFixed(2)} s`;
    console.log('');
    console.log(`Completion noticed after the stack's end (${rounds} updates each, held 3-8 s):`);
    console.log(line('runner-fleet deploy', lags.ours));
    console.log(line('aws cloudformation deploy', lags.aws));
    console.log(
      `ratio (aws / runner-fleet)      worst ${(Math.max(...lags.aws) / Math.max(...lags.ours)).toFixed(1)}x   median ${(median(lags.aws) / median(lags.ours)).toFixed(1)}x`,
    );
    console.log(
      `runner-fleet DescribeStacks per second while waiting: worst ${Math.max(...pollRates).toFixed(2)}, median ${median(pollRates).toFixed(2)}`,
    );

    if (measureHang) {
      proxy.holdCompletion(undefined);
      // Every stack-event read after the first hangs: default attempt timeout, default retries.
      proxy.setRules([{ action: 'DescribeStackEvents', fault: 'hang', skip: 1 }]);
      const hung = await ours('bench-ours', 'hang');
      proxy.setRules([]);
      console.log('');
      console.log(
        `deploy with every stack read after the change set hanging (default timeouts): exit ${hung.code} after ${hung.seconds.toFixed(1)} s`,
      );
    }
  } finally {
    await proxy.stop();
    await emulator.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
