/**
 * Benchmark, not a test: wall time of `runner-fleet deploy` against
 * `aws cloudformation deploy` (AWS CLI from PyPI) on the same local emulator,
 * runs alternating, for a first create and for an update with a changed
 * template. Prints the median of each and their ratio.
 *
 *   npm run bench                      # builds dist/, ministack, 3 rounds, test fixture template
 *   BENCH_ROUNDS=5 BENCH_EMULATOR=moto npm run bench
 *   BENCH_TEMPLATE=path/to/template.yaml npm run bench
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { isolatedEnv } from '../test/support/cli-process.ts';
import { type EmulatorName, ROOT, startEmulator, TOOLS_BIN } from '../test/support/emulator.ts';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const emulatorName = (process.env.BENCH_EMULATOR ?? 'ministack') as EmulatorName;
const templatePath = process.env.BENCH_TEMPLATE ?? join(ROOT, 'test/fixtures/templates/basic.yaml');

function timeCommand(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { env: isolatedEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(-500)}`));
      else resolve(seconds);
    });
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

async function main(): Promise<void> {
  // Time the bundled CLI, as the image runs it, not the TypeScript sources through tsx.
  await new Promise<void>((resolve, reject) => {
    const build = spawn('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
    build.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`build failed: ${code}`))));
  });
  const emulator = await startEmulator(emulatorName);
  const work = await mkdtemp(join(tmpdir(), 'rf-bench-'));
  const body = await readFile(templatePath, 'utf8');
  const changed = join(work, 'changed.yaml');
  // A changed template: one more output, so the update has something to do.
  await writeFile(
    changed,
    body.includes('\nOutputs:')
      ? body.replace('\nOutputs:', '\nOutputs:\n  BenchMarker:\n    Value: changed')
      : `${body}\nOutputs:\n  BenchMarker:\n    Value: changed\n`,
  );
  const env = { ...emulator.env, AWS_DEFAULT_REGION: 'us-east-1' };
  const ours = (stack: string, template: string) =>
    timeCommand(
      process.execPath,
      [join(ROOT, 'dist/main.js'), 'deploy', '--stack-name', stack, '--template-file', template],
      env,
    );
  const awsCli = (stack: string, template: string) =>
    timeCommand(
      join(TOOLS_BIN, 'aws'),
      [
        'cloudformation',
        'deploy',
        '--endpoint-url',
        emulator.endpoint,
        '--stack-name',
        stack,
        '--template-file',
        template,
        '--capabilities',
        'CAPABILITY_IAM',
        'CAPABILITY_NAMED_IAM',
        '--no-fail-on-empty-changeset',
      ],
      env,
    );

  const results = {
    create: { ours: [] as number[], aws: [] as number[] },
    update: { ours: [] as number[], aws: [] as number[] },
  };
  try {
    for (let round = 0; round < rounds; round += 1) {
      // Alternate which tool goes first, so neither always meets a warmer emulator.
      const order = round % 2 === 0 ? (['ours', 'aws'] as const) : (['aws', 'ours'] as const);
      for (const tool of order) {
        const stack = `bench-${tool}-${round}`;
        const run = tool === 'ours' ? ours : awsCli;
        const create = await run(stack, templatePath);
        // Untimed pause: the AWS CLI names change sets by the second, and the
        // emulator keeps executed change sets, so a same-second update collides.
        await delay(1100);
        const update = await run(stack, changed);
        results.create[tool].push(create);
        results.update[tool].push(update);
        console.log(
          `round ${round + 1} ${tool.padEnd(4)} create ${create.toFixed(2)} s, update ${update.toFixed(2)} s`,
        );
      }
    }
  } finally {
    await emulator.stop();
    await rm(work, { recursive: true, force: true });
  }

  console.log(`\n${emulatorName}, ${rounds} rounds, template ${templatePath.replace(`${ROOT}/`, '')}`);
  console.log('operation  runner-fleet  aws-cli   ratio (aws-cli / runner-fleet)');
  for (const operation of ['create', 'update'] as const) {
    const ourMedian = median(results[operation].ours);
    const awsMedian = median(results[operation].aws);
    console.log(
      `${operation.padEnd(10)} ${`${ourMedian.toFixed(2)} s`.padEnd(13)} ${`${awsMedian.toFixed(2)} s`.padEnd(9)} ${(awsMedian / ourMedian).toFixed(1)}x`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
