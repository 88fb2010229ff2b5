/**
 * Benchmark, not a test: how long the CLI takes to start and how long a
 * deploy waits beyond its own work, printed as differences and ratios in one
 * run so the figures are compared on the same (possibly busy) machine.
 *
 * Start-up (whole process, median of rounds run interleaved, `--help`):
 *   node          `node -e ''`, the floor
 *   shipped       `node dist/main.js --help`, the image's CLI (npm run build first)
 *   checkout      `node bin/runner-fleet.js --help`, what `npx runner-fleet` runs
 *   sources       `node --import tsx scripts/main.ts --help`, the TypeScript through tsx
 *   npx           `npx runner-fleet --help` (npm's own start-up on top of checkout)
 * Deploy (moto, which finishes stack operations synchronously): a create and
 * an update of the test fixture, wall time against the CPU time (user +
 * system) of the CLI and of the emulator while it ran; what is left is time
 * nobody worked: the CLI sleeping between polls, or a busy machine.
 * Also counts the lines of the AWS SDK's Node version warning in the deploy's
 * output (none expected on any supported Node).
 *
 *   npm run bench:startup
 *   BENCH_ROUNDS=21 BENCH_DEPLOYS=5 npx tsx tools/bench-startup.ts
 *   BENCH_BASELINE=/path/to/other/checkout npm run bench:startup
 *
 * BENCH_BASELINE adds the shipped and checkout cases and the deploys of
 * another checkout (built there beforehand with its own `npm run build`), run
 * interleaved with these, so a change is measured before and after at once.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isolatedEnv } from '../test/support/cli-process.ts';
import { emulatorAvailable, ROOT, startEmulator } from '../test/support/emulator.ts';

const rounds = Number(process.env.BENCH_ROUNDS ?? 15);
const deploys = Number(process.env.BENCH_DEPLOYS ?? 3);
const template = join(ROOT, 'test/fixtures/templates/basic.yaml');
const baseline = process.env.BENCH_BASELINE;

interface Timed {
  wall: number;
  cpu: number;
  output: string;
  /** CPU seconds of the emulator while the command ran. */
  emulatorCpu?: number;
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
async function processCpu(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The fields after the parenthesised command name; utime and stime are the 14th and 15th, in clock ticks.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** The unit of /proc/PID/stat times (getconf CLK_TCK). */
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/**
 * Runs one command under bash's `time`, which reports the child's user and
 * system CPU; the wall time is taken by bash too, so both come from one clock.
 */
function timed(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Timed> {
  const script = `TIMEFORMAT='%R %U %S'; { time "$@" >"$RF_BENCH_OUT" 2>&1; } 2>"$RF_BENCH_TIMES"`;
  return new Promise((resolve, reject) => {
    const out = join(tmpdir(), `rf-bench-${process.pid}-out`);
    const times = join(tmpdir(), `rf-bench-${process.pid}-times`);
    const child = spawn('bash', ['-c', script, 'bench', ...argv], {
      cwd: ROOT,
      env: isolatedEnv({ ...env, RF_BENCH_OUT: out, RF_BENCH_TIMES: times }),
      stdio: 'ignore',
    });
    child.on('error', reject);
    child.on('close', async () => {
      const output = await readFile(out, 'utf8');
      const [wall = 0, user = 0, system = 0] = (await readFile(times, 'utf8'))
        .trim()
        .split(/\s+/)
        .map(Number);
      await Promise.all([rm(out, { force: true }), rm(times, { force: true })]);
      resolve({ wall, cpu: user + system, output });
    });
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

const seconds = (value: number) => `${value.toFixed(3)} s`;

async function startup(): Promise<void> {
  const node = process.execPath;
  const cases: Record<string, string[]> = {
    node: [node, '-e', ''],
    shipped: [node, join(ROOT, 'dist/main.js'), '--help'],
    checkout: [node, join(ROOT, 'bin/runner-fleet.js'), '--help'],
    sources: [node, '--import', 'tsx', join(ROOT, 'scripts/main.ts'), '--help'],
    npx: ['npx', '--no-install', 'runner-fleet', '--help'],
  };
  if (baseline) {
    cases['base shipped'] = [node, join(baseline, 'dist/main.js'), '--help'];
    cases['base checkout'] = [node, join(baseline, 'bin/runner-fleet.js'), '--help'];
  }

  const walls: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
  // One warm-up of each (disk cache, tsx's transform cache), then interleaved rounds.
  for (const argv of Object.values(cases)) await timed(argv);
  for (let round = 0; round < rounds; round += 1) {
    for (const [name, argv] of Object.entries(cases)) {
      const run = await timed(argv);
      if (name !== 'node' && !run.output.includes('Usage: runner-fleet')) {
        throw new Error(`${name} did not print the help:\n${run.output.slice(0, 800)}`);
      }
      walls[name]?.push(run.wall);
    }
  }
  const floor = median(walls.node ?? []);
  console.log(`start-up, median of ${rounds} rounds (Node ${process.version})`);
  console.log('case           median     minus node   ratio to node');
  for (const name of Object.keys(cases)) {
    const value = median(walls[name] ?? []);
    console.log(
      `${name.padEnd(14)} ${seconds(value).padEnd(10)} ${seconds(value - floor).padEnd(12)} ${(value / floor).toFixed(2)}x`,
    );
  }
}

async function deploy(): Promise<void> {
  if (!emulatorAvailable('moto')) {
    console.log('\ndeploy: moto is not installed (bash tools/setup.sh); skipped');
    return;
  }
  const emulator = await startEmulator('moto');
  const work = await mkdtemp(join(tmpdir(), 'rf-bench-startup-'));
  try {
    const changed = join(work, 'changed.yaml');
    // One more output, so the update has something to do (the fixture has an Outputs section).
    const body = await readFile(template, 'utf8');
    await writeFile(changed, body.replace('\nOutputs:\n', '\nOutputs:\n  BenchMarker:\n    Value: x\n'));
    const clis: Record<string, string[]> = { this: [process.execPath, join(ROOT, 'dist/main.js'), 'deploy'] };
    if (baseline) clis.base = [process.execPath, join(baseline, 'dist/main.js'), 'deploy'];
    const results: Record<string, Timed[]> = {};
    // The emulator's own variable is left out: the warning count below is the CLI's own doing.
    const { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: _, ...env } = emulator.env;
    const emulatorCpu = async () => (emulator.pid ? processCpu(emulator.pid) : Number.NaN);
    for (let round = 0; round < deploys; round += 1) {
      for (const [tool, cli] of Object.entries(clis)) {
        const stack = `bench-startup-${tool}-${round}`;
        for (const [operation, file] of [
          ['create', template],
          ['update', changed],
        ] as const) {
          const before = await emulatorCpu();
          const run = await timed([...cli, '--stack-name', stack, '--template-file', file], env);
          run.emulatorCpu = (await emulatorCpu()) - before;
          if (!/_COMPLETE in /.test(run.output)) {
            throw new Error(`deploy ${operation} failed:\n${run.output.slice(-1200)}`);
          }
          const name = `${tool} ${operation}`;
          results[name] = [...(results[name] ?? []), run];
        }
      }
    }
    const warnings = Object.values(results)
      .flat()
      .filter((run) => /NodeVersionSupportWarning|no longer support Node/i.test(run.output)).length;
    console.log(`\ndeploy on moto, median of ${deploys} (shipped CLI)`);
    console.log('deploy         wall       cli cpu    moto cpu   wall - cli cpu   wall - both cpu');
    for (const [name, runs] of Object.entries(results)) {
      const column = (value: (run: Timed) => number, width: number) =>
        seconds(median(runs.map(value))).padEnd(width);
      console.log(
        [
          name.padEnd(14),
          column((run) => run.wall, 10),
          column((run) => run.cpu, 10),
          column((run) => run.emulatorCpu ?? Number.NaN, 10),
          column((run) => run.wall - run.cpu, 16),
          column((run) => run.wall - run.cpu - (run.emulatorCpu ?? Number.NaN), 0),
        ].join(' '),
      );
    }
    console.log(
      `AWS SDK Node version warnings in ${Object.values(results).flat().length} deploys: ${warnings}`,
    );
  } finally {
    await emulator.stop();
    await rm(work, { recursive: true, force: true });
  }
}

const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
if (build.status !== 0) {
  console.error('npm run build failed');
  process.exit(1);
}
await startup();
await deploy();
