/**
 * What the container image runs, without a container engine: the bundled CLI
 * with only the production dependencies `npm ci --omit=dev` installs (the lock
 * file's non-dev packages), laid out as the Dockerfile lays them out, so a
 * runtime import of a dev-only package or of the TypeScript sources fails here.
 * Plus the Dockerfile rules the components depend on.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv } from '../support/cli-process.ts';
import { freePort, ROOT } from '../support/emulator.ts';

describe('the image', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  let home: string;

  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'rf-image-'));
    // The Dockerfile's build step (npm run build), into this tree's dist/.
    execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'tools', 'build.ts'), join(home, 'dist')], {
      cwd: ROOT,
      stdio: 'pipe',
    });
    for (const file of ['package.json', 'package-lock.json']) cpSync(join(ROOT, file), join(home, file));
    cpSync(join(ROOT, 'bin'), join(home, 'bin'), { recursive: true });
    cpSync(join(ROOT, 'cfn'), join(home, 'cfn'), { recursive: true });
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; devOptional?: boolean }>;
    };
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (!path || entry.dev || entry.devOptional) continue;
      mkdirSync(dirname(join(home, path)), { recursive: true });
      symlinkSync(join(ROOT, path), join(home, path));
    }
  }, 120_000);
  afterAll(() => {
    if (home) rmSync(home, { recursive: true, force: true });
  });

  // --preserve-symlinks keeps module resolution inside the production-only tree.
  const run = (...args: string[]) => runWith({}, ...args);
  const runWith = (env: NodeJS.ProcessEnv, ...args: string[]) =>
    spawnSync(process.execPath, ['--preserve-symlinks', join(home, 'bin', 'runner-fleet.js'), ...args], {
      cwd: home,
      env: isolatedEnv({ NODE_PATH: join(home, 'node_modules'), ...env }),
      encoding: 'utf8',
    });

  it('runs the bundled CLI with production dependencies only', () => {
    const help = run('--help');
    expect(help.status, help.stderr).toBe(0);
    for (const verb of ['deploy', 'preview', 'smoke-test', 'roll', 'destroy'])
      expect(help.stdout).toContain(verb);
  });

  it('loads the AWS SDK and reports bad input with exit code 2', () => {
    const deploy = run('deploy', '--stack-name', 'x', '--template-file', 'cfn/runner-fleet.yaml');
    expect(deploy.stderr).not.toMatch(/Cannot find (module|package)|ERR_MODULE_NOT_FOUND/);
    expect(deploy.status, deploy.stderr).toBe(2);
    expect(deploy.stderr).toMatch(/region/i);
  });

  it('loads the web-identity provider of an aws_auth oidc job', async () => {
    // Nothing listens there: the assume fails after the provider module has loaded.
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const status = runWith(
      {
        AWS_REGION: 'eu-west-1',
        AWS_ENDPOINT_URL: endpoint,
        AWS_MAX_ATTEMPTS: '1',
        RUNNER_FLEET_AWS_TIMEOUT_SECONDS: '2',
        RUNNER_FLEET_AWS_AUTH: 'oidc',
        RUNNER_FLEET_AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/runner-fleet-deployer',
        RUNNER_FLEET_AWS_ID_TOKEN: 'eyJhbGciOiJSUzI1NiJ9.e30.aW1hZ2UtdGVzdA',
      },
      'status',
      '--stack-name',
      'x',
    );
    expect(status.stderr).not.toMatch(/Cannot find (module|package)|ERR_MODULE_NOT_FOUND/);
    expect(status.status, status.stderr).toBe(2);
    expect(status.stderr).toContain('STS did not answer');
  });

  it('copies only files the build context holds (.dockerignore lets each COPY source in)', () => {
    const included = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1).replace(/\/$/, ''));
    const sources = dockerfile
      .split('\n')
      .filter((line) => /^COPY /.test(line) && !line.includes('--from='))
      .flatMap((line) => line.trim().split(/\s+/).slice(1, -1));
    expect(sources.length).toBeGreaterThan(0);
    const missing = sources.filter(
      (source) => !included.some((path) => source === path || source.startsWith(`${path}/`)),
    );
    expect(missing).toEqual([]);
  });

  it('is pinned, non-root, production-only and has no entrypoint', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:22\.\d+\.\d+-[a-z]+-slim$/m);
    expect(dockerfile).toContain('npm ci --omit=dev');
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \[\]$/m);
    expect(dockerfile).toContain('RUNNER_FLEET_HOME=/opt/runner-fleet');
    expect(dockerfile).toContain('/usr/local/bin/runner-fleet');
  });
});
