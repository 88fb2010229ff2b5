/**
 * The extra runner settings are checked against gitlab-runner's own config
 * structs before any AWS call (scripts/config/runner-settings.ts), and the
 * key list is the one tools/render-runner-config-keys.ts derives from the
 * runner's source.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parameterFileValues } from '../../scripts/config/parameters.ts';
import { RUNNER_CONFIG_STRUCTS } from '../../scripts/config/runner-config-keys.ts';
import { checkRunnerSettings } from '../../scripts/config/runner-settings.ts';
import { defaultRunnerSourceDir, formatted, renderKeys } from '../../tools/render-runner-config-keys.ts';

const check = (docker?: unknown, runner?: unknown) =>
  checkRunnerSettings(
    new Map(
      [
        ['RunnerDockerExtraSettings', docker],
        ['RunnerExtraSettings', runner],
      ]
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) => [key as string, typeof value === 'string' ? value : JSON.stringify(value)]),
    ),
  );

describe('extra runner settings', () => {
  it('accepts Docker-in-Docker, volumes, pull policies, allowed images and services', () => {
    expect(
      check(
        {
          privileged: true,
          volumes: ['/certs/client', '/cache'],
          pull_policy: ['always', 'if-not-present'],
          allowed_images: ['ruby:*', 'docker:*'],
          services: [{ name: 'docker:27-dind', alias: 'docker', command: ['--tls=false'] }],
          sysctls: { 'net.ipv4.ip_forward': '1' },
          shm_size: 268435456,
        },
        { environment: ['DOCKER_TLS_CERTDIR=/certs'], output_limit: 16384, feature_flags: { FF_X: true } },
      ),
    ).toEqual([]);
    expect(check({ pull_policy: 'if-not-present' })).toEqual([]);
    expect(check('', '')).toEqual([]);
  });

  it('names an unknown key and the setting it probably meant', () => {
    expect(check({ privilegd: true })).toEqual([
      'parameter RunnerDockerExtraSettings: unknown key privilegd in [runners.docker]: not a gitlab-runner setting (did you mean privileged?)',
    ]);
    expect(check(undefined, { no_such_setting_at_all: 1 })).toEqual([
      'parameter RunnerExtraSettings: unknown key no_such_setting_at_all in [[runners]]: not a gitlab-runner setting',
    ]);
  });

  it('checks keys inside nested tables such as services', () => {
    expect(check({ services: [{ name: 'redis:7' }, { nmae: 'postgres:16' }] })).toEqual([
      'parameter RunnerDockerExtraSettings: unknown key nmae in [runners.docker].services[1]: not a gitlab-runner setting (did you mean name?)',
    ]);
  });

  it('refuses keys the stack sets, saying which parameter to use', () => {
    expect(check({ image: 'node:22' }, { url: 'https://x', executor: 'shell', token: 'glrt-x' })).toEqual([
      'parameter RunnerExtraSettings: url is set by runner-fleet, not here: use the GitLabUrl parameter',
      'parameter RunnerExtraSettings: token is set by runner-fleet, not here: the token comes from RunnerTokenParameterName or RunnerTokenSecretName, never a parameter value',
      'parameter RunnerExtraSettings: executor is set by runner-fleet, not here: use RunnerExecutor, or FleetMode docker-autoscaler',
      'parameter RunnerDockerExtraSettings: image is set by runner-fleet, not here: use the RunnerDefaultDockerImage parameter',
    ]);
  });

  it('refuses values of the wrong shape, every problem at once', () => {
    expect(
      check(
        { privileged: 'yes', volumes: '/cache', services: { name: 'x' }, memory_swap: 1 },
        { prepare_timeout: 'ten minutes', limit: 1.5 },
      ),
    ).toEqual([
      'parameter RunnerExtraSettings: [[runners]].prepare_timeout must be a duration such as "30m" or "1h30m"',
      'parameter RunnerExtraSettings: [[runners]].limit must be a whole number',
      'parameter RunnerDockerExtraSettings: [runners.docker].privileged must be true or false',
      'parameter RunnerDockerExtraSettings: [runners.docker].volumes must be a list of strings',
      'parameter RunnerDockerExtraSettings: [runners.docker].services must be a list of objects',
      'parameter RunnerDockerExtraSettings: [runners.docker].memory_swap must be a string',
    ]);
    expect(check({ privileged: null })).toEqual([
      'parameter RunnerDockerExtraSettings: [runners.docker].privileged is null: leave the key out instead',
    ]);
  });

  it('refuses text that is not a JSON object', () => {
    expect(check('{privileged: true}')[0]).toMatch(
      /^parameter RunnerDockerExtraSettings is not valid JSON \(/,
    );
    expect(check('["privileged"]')).toEqual([
      'parameter RunnerDockerExtraSettings must be a JSON object of [runners.docker] settings, such as {"key": value}',
    ]);
  });

  it('takes the settings as a map in a parameters file and sends them as one line of JSON', () => {
    const parsed = parameterFileValues('fleet.yaml', {
      RunnerDockerExtraSettings: { privileged: true, volumes: ['/cache'] },
      FleetMode: 'docker-autoscaler',
      Other: { a: 1 },
    });
    expect(parsed.values.get('RunnerDockerExtraSettings')).toBe('{"privileged":true,"volumes":["/cache"]}');
    expect(parsed.problems).toEqual([
      'parameters file fleet.yaml: value of Other must be a string, number, boolean or list',
    ]);
  });
});

describe('the key list', () => {
  it("holds the runner's [[runners]] and [runners.docker] keys", () => {
    expect(RUNNER_CONFIG_STRUCTS.DockerConfig).toMatchObject({
      privileged: 'boolean',
      volumes: 'list',
      pull_policy: 'string-or-list',
      services: 'tables:Service',
      host: 'string',
    });
    expect(RUNNER_CONFIG_STRUCTS.RunnerConfig).toMatchObject({
      environment: 'list',
      limit: 'integer',
      docker: 'table:DockerConfig',
    });
  });

  // The runner's module source is on this machine after `go mod download`
  // (the drain rig's build does it); without it the generated file cannot
  // be compared, and the test says so instead of passing.
  const source = defaultRunnerSourceDir();
  it.skipIf(!existsSync(join(source, 'common', 'config.go')))(
    'is what tools/render-runner-config-keys.ts generates from the runner source',
    async () => {
      const { readFileSync } = await import('node:fs');
      const file = readFileSync(
        join(import.meta.dirname, '../../scripts/config/runner-config-keys.ts'),
        'utf8',
      );
      expect(formatted(renderKeys(source))).toBe(file);
    },
  );
});
