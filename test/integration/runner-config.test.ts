/**
 * Every Linux preset's config.toml, made the way an instance makes it, loads
 * in the real gitlab-runner: the executor script's own template (with the
 * extra runner settings and, in docker-autoscaler mode, the
 * [runners.autoscaler] block), the global part from lib/runner.sh, then the
 * real `gitlab-runner register --template-config` against the GitLab double,
 * and finally `gitlab-runner lint` (TOML syntax, the runner's JSON schema and
 * unknown keys) on the template and on the result, `verify` and `list`.
 * register silently drops keys it does not know, which is why the template
 * is linted too and why `runner-fleet deploy` checks the keys first; one test
 * runs a misspelt key through both checks.
 *
 * The runner is the one the drain rig builds from source
 * (tools/setup.d/*gitlab-runner*, cached under ~/.cache/runner-fleet/
 * gitlab-runner/<revision>/). That build leaves out the fleeting executors,
 * so docker-autoscaler configs are registered with `--executor docker` and
 * the executor line is then set back to docker-autoscaler: lint, verify and
 * list decode the whole file, [runners.autoscaler] included, whatever the
 * executor. Windows presets are PowerShell-made and cannot run here.
 * Without the binary this suite is skipped locally and fails in CI.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRunnerSettings } from '../../scripts/config/runner-settings.ts';
import { loadTemplate } from '../cfn/cfn-yaml.ts';
import { addRunnerRoutes } from '../doubles/gitlab/runners.ts';
import { type GitLabDouble, startGitLabDouble } from '../doubles/gitlab/server.ts';
import { ROOT } from '../support/emulator.ts';

const run = promisify(execFile);
const LINUX_DIR = join(ROOT, 'runner_configs/linux');
const TEMPLATE = loadTemplate(join(ROOT, 'cfn/runner-fleet.yaml'));

function findRunnerBinary(): string | undefined {
  const candidates = [
    process.env.RUNNER_FLEET_GITLAB_RUNNER ?? '',
    join(ROOT, '.tools/gitlab-runner/bin/gitlab-runner'),
  ];
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'runner-fleet/gitlab-runner');
  if (existsSync(cache)) {
    for (const entry of readdirSync(cache).sort().reverse())
      candidates.push(join(cache, entry, 'gitlab-runner'));
  }
  return candidates.find((path) => path !== '' && existsSync(path));
}

type Preset = Record<string, string | number>;

const PRESETS: [string, Preset][] = readdirSync(join(ROOT, 'cfn/presets'))
  .filter((file) => file.startsWith('linux-') && file.endsWith('.yaml'))
  .sort()
  .map((file) => [file, load(readFileSync(join(ROOT, 'cfn/presets', file), 'utf8')) as Preset]);

// Docker-in-Docker, the reason consumers asked for extra settings.
const WITH_EXTRAS: [string, Preset] = [
  'linux-docker-autoscaler-spot.yaml + Docker-in-Docker extras',
  {
    ...(PRESETS.find(([file]) => file === 'linux-docker-autoscaler-spot.yaml')?.[1] ?? {}),
    RunnerDockerExtraSettings: JSON.stringify({
      privileged: true,
      volumes: ['/certs/client', '/cache'],
      services: [{ name: 'docker:27-dind', alias: 'docker' }],
      pull_policy: ['always', 'if-not-present'],
      allowed_images: ['docker:*', 'alpine:*'],
    }),
    RunnerExtraSettings: JSON.stringify({ environment: ['DOCKER_TLS_CERTDIR=/certs'], output_limit: 16384 }),
  },
];

/** A parameter's value: the preset's, else the template default. */
function parameter(preset: Preset, name: string): string {
  const value = preset[name] ?? TEMPLATE.Parameters[name]?.Default;
  return value === undefined ? '' : String(value);
}

/** fleet.env as the template's UserData writes it for these parameters (see cfn/runner-fleet.yaml). */
function fleetEnv(preset: Preset, dir: string): Record<string, string> {
  const dockerAutoscaler = parameter(preset, 'FleetMode') === 'docker-autoscaler';
  const os = parameter(preset, 'OperatingSystemFamily');
  const systems = (TEMPLATE.Mappings as Record<string, Record<string, Record<string, string>>>)
    .OperatingSystems;
  const user = systems?.[os]?.User ?? '';
  const env: Record<string, string> = {
    RF_REGION: 'eu-west-1',
    RF_EXECUTOR: dockerAutoscaler ? 'docker-autoscaler' : parameter(preset, 'RunnerExecutor'),
    RF_CONCURRENT: parameter(preset, 'RunnerConcurrentJobs'),
    RF_DOCKER_IMAGE: parameter(preset, 'RunnerDefaultDockerImage'),
    RF_CACHE_BUCKET: 'runners-test-cache-abc',
    RF_RUNNER_EXTRA_SETTINGS: parameter(preset, 'RunnerExtraSettings'),
    RF_DOCKER_EXTRA_SETTINGS: parameter(preset, 'RunnerDockerExtraSettings'),
    RF_STATE_DIR: join(dir, 'state'),
    RF_LOG_DIR: join(dir, 'log'),
    RF_RUNNER_CONFIG_DIR: join(dir, 'etc'),
    RF_SYSTEMD_DIR: join(dir, 'systemd'),
  };
  if (dockerAutoscaler) {
    Object.assign(env, {
      RF_WORKER_GROUP: 'runners-test-workers',
      RF_WORKER_USER: user,
      RF_WORKER_CAPACITY_PER_INSTANCE: parameter(preset, 'WorkerCapacityPerInstance'),
      RF_WORKER_MAX_USE_COUNT: parameter(preset, 'WorkerMaxUseCount'),
      RF_WORKER_MAX_INSTANCES: parameter(preset, 'WorkerMaxInstances'),
      RF_WORKER_IDLE_COUNT: parameter(preset, 'WorkerIdleCount'),
      RF_WORKER_IDLE_TIME_SECONDS: parameter(preset, 'WorkerIdleTimeSeconds'),
      RF_WORKER_IDLE_PERIODS: parameter(preset, 'WorkerIdlePeriods'),
      RF_WORKER_TIME_ZONE: parameter(preset, 'ScheduleTimeZone'),
    });
  }
  return env;
}

/**
 * The executor script's functions without its last line (bootstrap_main),
 * then the two steps that write config files: the global part and the
 * [[runners]] template.
 */
const RENDER = `
set -Eeuo pipefail
script="$LINUX_DIR/$RF_EXECUTOR.sh"
[[ "$(tail -n 1 "$script")" == bootstrap_main* ]] || { echo "$script no longer ends with bootstrap_main" >&2; exit 1; }
copy="$(mktemp)"
sed -e '$d' -e "s|^here=.*|here='$LINUX_DIR'|" "$script" >"$copy"
. "$copy"
rm -f "$copy"
mkdir -p "$RF_STATE_DIR" "$RF_LOG_DIR"
if declare -F fleeting_settings >/dev/null; then fleeting_settings; fi
runner_write_global_config "$RF_CONCURRENT"
executor_template >"$RF_STATE_DIR/runner-template.toml"
`;

const binary = findRunnerBinary();

/** The runner's log lines without their terminal colours. */
function plain(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the colour sequences being removed.
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}

describe.skipIf(binary === undefined && !process.env.CI)(
  "every Linux preset's config.toml in the real gitlab-runner",
  () => {
    let gitlab: GitLabDouble;
    // Made up per run: never a real token.
    const token = `glrt-${randomBytes(12).toString('hex')}`;

    beforeAll(async () => {
      expect(
        binary,
        'the real gitlab-runner (tools/setup.d/*gitlab-runner*) must be built in CI',
      ).toBeDefined();
      gitlab = await startGitLabDouble();
      addRunnerRoutes(gitlab).addRunner({ id: 4242, token });
    });
    afterAll(async () => gitlab?.close());

    /** The instance's steps for this preset in `dir`, then the real `register`; the config.toml path. */
    async function registeredConfig(preset: Preset, dir: string) {
      const fleet = fleetEnv(preset, dir);
      const f = (key: string) => fleet[key] ?? '';
      await run('bash', ['-c', RENDER], { env: { ...process.env, ...fleet, LINUX_DIR } });
      const config = join(f('RF_RUNNER_CONFIG_DIR'), 'config.toml');
      const template = join(f('RF_STATE_DIR'), 'runner-template.toml');
      const dockerAutoscaler = f('RF_EXECUTOR') === 'docker-autoscaler';
      await runner(
        [
          'register',
          '--non-interactive',
          '--config',
          config,
          '--template-config',
          template,
          '--url',
          gitlab.url,
          '--name',
          'runners-test-i-0123456789abcdef0',
          '--executor',
          dockerAutoscaler ? 'docker' : f('RF_EXECUTOR'),
          ...(f('RF_EXECUTOR') === 'shell' ? [] : ['--docker-image', f('RF_DOCKER_IMAGE')]),
        ],
        { CI_SERVER_TOKEN: token },
      );
      if (dockerAutoscaler) {
        writeFileSync(
          config,
          readFileSync(config, 'utf8').replace(
            /^(\s*)executor = "docker"$/m,
            '$1executor = "docker-autoscaler"',
          ),
        );
      }
      return { config, template, f, dockerAutoscaler };
    }

    /**
     * `register` decodes the template into the runner's structs and writes
     * back only the fields it knows, so a misspelt key would silently vanish
     * from config.toml. Linting the template itself (with the url and token
     * register adds) is what shows such a key. Resolves to the lint output.
     */
    async function lintTemplate(template: string, dir: string): Promise<string> {
      const lines = readFileSync(template, 'utf8').split('\n');
      const withCredentials = join(dir, 'template-with-credentials.toml');
      writeFileSync(
        withCredentials,
        [lines[0], `  url = "${gitlab.url}"`, `  token = "${token}"`, ...lines.slice(1)].join('\n'),
      );
      return runner(['lint', '--config', withCredentials]).then(
        (result) => plain(`${result.stdout}${result.stderr}`),
        (error: { stdout?: string; stderr?: string }) => plain(`${error.stdout ?? ''}${error.stderr ?? ''}`),
      );
    }

    const runner = (args: string[], extra: Record<string, string> = {}) =>
      run(binary as string, args, { env: { ...process.env, ...extra }, timeout: 60_000 });

    it('refuses, in its own lint, the misspelt key the deployer refuses', async () => {
      const typo = { privilegd: true };
      expect(checkRunnerSettings(new Map([['RunnerDockerExtraSettings', JSON.stringify(typo)]]))).toEqual([
        expect.stringMatching(/unknown key privilegd in \[runners.docker\].*did you mean privileged/),
      ]);
      const dir = mkdtempSync(join(tmpdir(), 'rf-config-'));
      try {
        const preset = { ...(PRESETS[0]?.[1] ?? {}), RunnerDockerExtraSettings: JSON.stringify(typo) };
        const { config, template } = await registeredConfig(preset, dir);
        expect(await lintTemplate(template, dir)).toMatch(/unknown key: runners\.docker\.privilegd/);
        // What register wrote has lost the key without a word.
        expect(readFileSync(config, 'utf8')).not.toContain('privilegd');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it.each([...PRESETS, WITH_EXTRAS])('%s', async (_name, preset) => {
      const dir = mkdtempSync(join(tmpdir(), 'rf-config-'));
      try {
        const { config, template, f, dockerAutoscaler } = await registeredConfig(preset, dir);
        expect(await lintTemplate(template, dir)).toContain('Configuration file is valid.');
        const written = readFileSync(config, 'utf8');
        const lint = await runner(['lint', '--config', config]);
        expect(plain(`${lint.stdout}${lint.stderr}`)).toContain('Configuration file is valid.');
        await runner(['verify', '--config', config]);
        const list = await runner(['list', '--config', config]);
        expect(plain(`${list.stdout}${list.stderr}`)).toMatch(new RegExp(`Executor=${f('RF_EXECUTOR')}\\b`));
        // What the runner will use, read back from the file it accepted.
        expect(written).toMatch(
          new RegExp(
            `^concurrent = ${dockerAutoscaler ? Number(f('RF_WORKER_CAPACITY_PER_INSTANCE')) * Number(f('RF_WORKER_MAX_INSTANCES')) : f('RF_CONCURRENT')}$`,
            'm',
          ),
        );
        if (dockerAutoscaler) {
          expect(written).toContain(`max_use_count = ${f('RF_WORKER_MAX_USE_COUNT')}`);
          expect(written).toContain(`name = "${f('RF_WORKER_GROUP')}"`);
        }
        if (f('RF_DOCKER_EXTRA_SETTINGS')) {
          expect(written).toMatch(/privileged = true/);
          expect(written).toContain('docker:27-dind');
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
