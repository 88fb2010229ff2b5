/**
 * Starts a local AWS emulator (moto or ministack, from .tools/bin, installed
 * by tools/setup.sh) on a free port for integration tests, and stops it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export type EmulatorName = 'moto' | 'ministack';

export const ROOT = join(import.meta.dirname, '..', '..');
export const TOOLS_BIN = join(ROOT, '.tools', 'bin');

export interface Emulator {
  name: EmulatorName;
  endpoint: string;
  /** The emulator's process, for a benchmark that reads its CPU time. */
  pid: number | undefined;
  /** Environment for a process that should talk to this emulator. */
  env: NodeJS.ProcessEnv;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function emulatorAvailable(name: EmulatorName): boolean {
  return existsSync(join(TOOLS_BIN, name === 'moto' ? 'moto_server' : 'ministack'));
}

export async function startEmulator(name: EmulatorName): Promise<Emulator> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let child: ChildProcess;
  if (name === 'moto') {
    child = spawn(join(TOOLS_BIN, 'moto_server'), ['-H', '127.0.0.1', '-p', String(port)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } else {
    child = spawn(join(TOOLS_BIN, 'ministack'), [], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, GATEWAY_PORT: String(port), MINISTACK_HOST: '127.0.0.1' },
    });
  }
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const resetPath = name === 'moto' ? '/moto-api/reset' : '/_ministack/reset';
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited early: ${stderr}`);
    try {
      const response = await fetch(`${endpoint}${resetPath}`, { method: 'POST' });
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not start on ${endpoint}: ${stderr}`);
    }
    await delay(200);
  }
  return {
    name,
    endpoint,
    pid: child.pid,
    env: awsEnv(endpoint),
    async reset() {
      const response = await fetch(`${endpoint}${resetPath}`, { method: 'POST' });
      if (!response.ok) throw new Error(`${name} reset failed: ${response.status}`);
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await Promise.race([new Promise((resolve) => child.once('exit', resolve)), delay(5000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

export function awsEnv(endpoint: string): NodeJS.ProcessEnv {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}
