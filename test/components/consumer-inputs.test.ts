/**
 * What consumers write into the include lines, and what the jobs then do:
 * a stop job that stays manual whatever the deploy's rules say and refuses
 * to destroy when it was not played by hand, roll inputs that conflict found
 * at the start of the job (in step with the CLI's own checks), the order of
 * smoke test, roll and deploy, inputs typed the way people write them, and
 * the preview's override of its gates. The jobs' shell runs for real (POSIX
 * sh) with a `runner-fleet` that records its arguments.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type FlagTable, type RawFlags, readInput } from '../../scripts/cli-input/schema.ts';
import { previewFlags } from '../../scripts/commands/preview-command.ts';
import { reconcileFlags } from '../../scripts/commands/reconcile-command.ts';
import { rollFlags } from '../../scripts/commands/roll-command.ts';
import { smokeTestFlags } from '../../scripts/commands/smoke-test-command.ts';
import { runCliProcess } from '../support/cli-process.ts';
import { ROOT } from '../support/emulator.ts';
import { type ComponentFile, inputProblems, interpolate, type Job, readComponent } from './gitlab-ci.ts';
import { jobVariables, runJobScript } from './job-script.ts';

const components = new Map<string, ComponentFile>(
  readdirSync(join(ROOT, 'templates'))
    .filter((f) => f.endsWith('.yml'))
    .map((f) => {
      const component = readComponent(join(ROOT, 'templates', f));
      return [component.name, component] as const;
    }),
);
function component(name: string): ComponentFile {
  const found = components.get(name);
  if (!found) throw new Error(`no component ${name}`);
  return found;
}
function job(name: string, inputs: Record<string, unknown>, jobName: string): Job {
  const found = interpolate(component(name), inputs)[jobName];
  if (!found) throw new Error(`${name}: no job ${jobName}`);
  return found;
}

/**
 * GitLab's rule evaluation (lib/gitlab/ci/build/rules.rb): the first rule
 * whose clauses match decides, and its `when:` wins over the job's.
 */
function whenIfFirstRuleMatches(j: Job): string {
  const rules = (j.rules as { when?: string }[] | undefined) ?? [];
  return rules[0]?.when ?? (j.when as string | undefined) ?? 'on_success';
}

/** `${NAME}`, the braced form of a variable reference. */
const braced = (name: string) => `\${${name}}`;

const base = { region: 'eu-west-1', stack_name: 'fleet-a', aws_auth: 'environment' };

/**
 * The flags a job's CLI call ends up with: its own arguments, then what the
 * CLI reads from the job's variables where the call gives no flag (parsed
 * as command-line.ts does: `--flag value`, a switch alone).
 */
async function cliFlagsOf(
  flags: FlagTable,
  call: string[] | undefined,
  j: Job,
  ci: Record<string, string> = {},
): Promise<{ flags: Record<string, unknown>; problems: string[] }> {
  const raw: RawFlags = {};
  const args = call?.slice(1) ?? [];
  for (let i = 0; i < args.length; i++) {
    const name = (args[i] ?? '').replace(/^--/, '');
    if (flags[name]?.type === 'switch') raw[name] = true;
    else raw[name] = args[++i];
  }
  return readInput({ flags }, raw, { ...ci, ...jobVariables(j, ci) });
}

describe('item 1: the stop job never runs by itself', () => {
  it('stays manual when the deploy rules say when: on_success', () => {
    const rules = [{ if: '$CI_COMMIT_BRANCH == "main"', when: 'on_success' }];
    const body = interpolate(component('deploy'), { ...base, rules });
    const deploy = body['runner-fleet-deploy'] as Job;
    const stop = body['runner-fleet-destroy'] as Job;
    expect(whenIfFirstRuleMatches(deploy)).toBe('on_success');
    expect(whenIfFirstRuleMatches(stop)).toBe('manual');
  });

  it('gives every default stop-job rule when: manual', () => {
    for (const [name, input] of [
      ['deploy', 'destroy_rules'],
      ['destroy', 'rules'],
    ] as const) {
      const rules = component(name).header.spec.inputs[input]?.default as { when?: string }[];
      expect(rules.length).toBeGreaterThan(0);
      for (const rule of rules) expect(rule.when, `${name} ${input}`).toBe('manual');
    }
  });

  it.each([
    ['deploy', 'runner-fleet-destroy', { ...base, destroy_rules: [{ if: '$X', when: 'on_success' }] }],
    ['destroy', 'runner-fleet-destroy', { ...base, rules: [{ if: '$X', when: 'always' }] }],
  ] as const)(
    '%s: refuses to destroy when started without a person (CI_JOB_MANUAL unset)',
    (name, jobName, inputs) => {
      const stop = job(name, inputs, jobName);
      // The real CLI refuses before any AWS call: one line, exit 2.
      const automatic = runJobScript(stop, {}, { realCli: true });
      expect(automatic.status).toBe(2);
      expect(automatic.stderr.trim().split('\n')).toHaveLength(1);
      expect(automatic.stderr).toMatch(
        /^error: refusing to destroy fleet-a: this stop job was not started by hand \(a when: in its rules overrides when: manual\); give every rule when: manual, or for a throwaway stack use the destroy component with allow_automatic: true$/m,
      );
      expect(automatic.cliCalls).toHaveLength(1);
      // Played by hand, it goes past the refusal to its AWS setup (none here: exit 2 for that instead).
      const playedReal = runJobScript(stop, { CI_JOB_MANUAL: 'true' }, { realCli: true });
      expect(playedReal.status).toBe(2);
      expect(playedReal.stderr).not.toContain('refusing to destroy');
      expect(playedReal.stderr).toMatch(/AWS|credentials|region/);
      const played = runJobScript(stop, { CI_JOB_MANUAL: 'true' });
      expect(played.status, played.stderr).toBe(0);
      expect(played.cliCalls).toEqual([
        [
          'destroy',
          '--stack-name',
          'fleet-a',
          '--region',
          'eu-west-1',
          '--yes-destroy-stack',
          'fleet-a',
          '--only-when-played-by-hand',
        ],
      ]);
    },
  );

  it('destroys automatically only with allow_automatic (a throwaway stack)', () => {
    const cleanup = job(
      'destroy',
      { ...base, allow_automatic: true, rules: [{ when: 'always' }] },
      'runner-fleet-destroy',
    );
    const run = runJobScript(cleanup, {}, { realCli: true });
    expect(run.cliCalls[0]?.[0]).toBe('destroy');
    expect(run.stderr).not.toContain('refusing to destroy');
    expect(run.stderr).toMatch(/AWS|credentials|region/);
  });
});

interface RollCase {
  min: number;
  max: number;
  checkpoints?: number[];
  conflict: RegExp | null;
}

describe('item 3: roll inputs that conflict fail at the start of the job, in one line', () => {
  const cases: RollCase[] = [
    {
      min: 90,
      max: 200,
      conflict: /max_healthy_percentage \(200\) minus min_healthy_percentage \(90\).*190 or less/,
    },
    { min: 100, max: 100, conflict: /leaves no room/ },
    { min: 90, max: 190, conflict: null },
    { min: 100, max: 200, checkpoints: [50, 100], conflict: null },
    { min: 100, max: 200, checkpoints: [100], conflict: null },
    { min: 100, max: 200, checkpoints: [50], conflict: /checkpoint_percentages \[50\]/ },
    { min: 100, max: 200, checkpoints: [60, 40, 100], conflict: /checkpoint_percentages/ },
    { min: 0, max: 250, conflict: /max_healthy_percentage \(250\) must be 100-200.*minus/ },
  ];

  it.each(cases)(
    'min $min, max $max, checkpoints $checkpoints',
    async ({ min, max, checkpoints, conflict }) => {
      const roll = job(
        'roll',
        {
          ...base,
          min_healthy_percentage: min,
          max_healthy_percentage: max,
          ...(checkpoints ? { checkpoint_percentages: checkpoints } : {}),
        },
        'runner-fleet-roll',
      );
      const run = runJobScript(roll, {});
      if (conflict) {
        expect(run.status).toBe(2);
        const lines = run.stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/^runner-fleet: roll inputs conflict: /);
        expect(lines[0]).toMatch(conflict);
        expect(run.cliCalls).toEqual([]);
      } else {
        expect(run.status, run.stderr).toBe(0);
        const args = run.cliCalls[0] ?? [];
        expect(args.slice(0, 1)).toEqual(['roll']);
        expect(args).not.toContain('--checkpoint-percentages');
        // The CLI reads the inputs from the job's variables: the same values the check let through.
        const cli = await cliFlagsOf(rollFlags, args, roll);
        expect(cli.problems).toEqual([]);
        expect(cli.flags['min-healthy-percentage']).toBe(min);
        expect(cli.flags['max-healthy-percentage']).toBe(max);
        expect(cli.flags['checkpoint-percentages']).toEqual(checkpoints ?? []);
      }
    },
  );

  // The job's check and the CLI's own validation must agree; the CLI reports flags, the job inputs.
  it.each(cases.filter((c) => c.min <= 100 && c.max <= 200))(
    'agrees with the CLI for min $min, max $max, checkpoints $checkpoints',
    async ({ min, max, checkpoints, conflict }) => {
      const args = [
        'roll',
        '--stack-name',
        'x',
        '--min-healthy-percentage',
        `${min}`,
        '--max-healthy-percentage',
        `${max}`,
      ];
      if (checkpoints) args.push('--checkpoint-percentages', checkpoints.join(','));
      // No credentials: the CLI stops at exit 2 either way; only the extra lines differ.
      const cli = await runCliProcess(args, { AWS_REGION: 'eu-west-1' });
      expect(cli.code).toBe(2);
      const inputLines = cli.stderr.split('\n').filter((line) => /percentage/.test(line));
      expect(inputLines.length > 0, cli.stderr).toBe(conflict !== null);
    },
  );

  it('states the constraint in the input descriptions', () => {
    const inputs = component('roll').header.spec.inputs;
    expect(inputs.min_healthy_percentage?.description).toMatch(/at most 100/);
    expect(inputs.max_healthy_percentage?.description).toMatch(/min_healthy_percentage \+ 100/);
  });
});

describe('items 4, 5, 6: order and serialisation against the deploy', () => {
  const group = 'runner-fleet-eu-west-1-fleet-a';

  it('smoke test needs the deploy (not optional) and the roll (only scheduled pipelines have it)', () => {
    const smoke = job('smoke-test', base, 'runner-fleet-smoke-test');
    expect(smoke.needs).toEqual([
      { job: 'runner-fleet-deploy', optional: false, artifacts: false },
      { job: 'runner-fleet-roll', optional: true, artifacts: false },
    ]);
    const roll = job('roll', base, 'runner-fleet-roll');
    expect(roll.needs).toEqual([{ job: 'runner-fleet-deploy', optional: false, artifacts: false }]);
  });

  it('lets a pipeline without the deploy opt out of needing it', () => {
    const smoke = job('smoke-test', { ...base, deploy_job_optional: true }, 'runner-fleet-smoke-test');
    expect((smoke.needs as { optional: boolean }[])[0]?.optional).toBe(true);
  });

  it('puts deploy, stop, roll, smoke test and preview of one stack in one resource group', () => {
    const deploy = interpolate(component('deploy'), base);
    const jobs = [
      deploy['runner-fleet-deploy'],
      deploy['runner-fleet-destroy'],
      job('roll', base, 'runner-fleet-roll'),
      job('smoke-test', base, 'runner-fleet-smoke-test'),
      job('preview', base, 'runner-fleet-preview'),
    ];
    for (const j of jobs) expect(j?.resource_group).toBe(group);
  });
});

describe('item 7: inputs as people write them', () => {
  it.each([
    ['roll', { region: 'eu-west-1', runner_id: 42 }],
    ['roll', { region: 'eu-west-1', checkpoint_percentages: [100] }],
    ['roll', { region: 'eu-west-1', checkpoint_percentages: [50, 100] }],
    ['smoke-test', { region: 'eu-west-1', runner_id: 42 }],
    ['deploy', { region: '$FLEET_REGION' }],
    ['deploy', { region: braced('FLEET_REGION') }],
    ['deploy', { region: 'eu-west-1', aws_role_arn: braced('FLEET_ROLE_ARN') }],
    ['deploy', { region: 'eu-west-1', aws_role_arn: '$FLEET_ROLE_ARN' }],
    ['preview', { region: 'eu-west-1', allow_replacement: true, allow_permission_changes: true }],
  ] as const)('%s accepts %j', (name, inputs) => {
    expect(inputProblems(component(name), inputs)).toEqual([]);
  });

  it.each([
    ['roll', { region: 'eu-west-1', runner_id: 'seven' }],
    ['deploy', { region: 'eu west 1' }],
    ['deploy', { region: 'eu-west-1', aws_role_arn: 'arn:aws:iam::1:role/x' }],
  ] as const)('%s refuses %j', (name, inputs) => {
    expect(inputProblems(component(name), inputs)).not.toEqual([]);
  });

  it('expands a region variable in the job and passes it to the CLI', () => {
    const deploy = job('deploy', { ...base, region: braced('FLEET_REGION') }, 'runner-fleet-deploy');
    const run = runJobScript(deploy, {
      FLEET_REGION: 'eu-central-1',
      RUNNER_FLEET_HOME: '/opt/runner-fleet',
    });
    expect(run.status, run.stderr).toBe(0);
    const args = run.cliCalls[0] ?? [];
    expect(args[args.indexOf('--region') + 1]).toBe('eu-central-1');
  });

  it.each([
    ['roll', 'runner-fleet-roll', rollFlags],
    ['smoke-test', 'runner-fleet-smoke-test', smokeTestFlags],
    ['reconcile', 'runner-fleet-reconcile', reconcileFlags],
  ] as const)(
    '%s: runner_id reaches the CLI only when set (0 = found from the token)',
    async (name, jobName, flags) => {
      const runnerIdOf = async (inputs: object) => {
        const j = job(name, { ...base, ...inputs }, jobName);
        const run = runJobScript(j, { RUNNER_FLEET_GITLAB_TOKEN: 'x' });
        expect(run.status, run.stderr).toBe(0);
        const call = run.cliCalls.find((c) => c[0] === name);
        expect(call).not.toContain('--runner-id');
        const cli = await cliFlagsOf(flags, call, j);
        expect(cli.problems).toEqual([]);
        return cli.flags['runner-id'];
      };
      expect(await runnerIdOf({ runner_id: 42 })).toBe(42);
      expect(await runnerIdOf({})).toBeUndefined();
    },
  );

  it.each([
    ['deploy', 'runner-fleet-deploy', { timeout_minutes: 0 }, 'RUNNER_FLEET_TIMEOUT_MINUTES'],
    ['smoke-test', 'runner-fleet-smoke-test', { wait_minutes: 0 }, 'RUNNER_FLEET_WAIT_MINUTES'],
    ['roll', 'runner-fleet-roll', { wait_minutes: 0 }, 'RUNNER_FLEET_WAIT_MINUTES'],
  ] as const)(
    '%s: the real CLI reads %j from the job and names its variable when it refuses it',
    (name, jobName, inputs, variable) => {
      const run = runJobScript(job(name, { ...base, ...inputs }, jobName), {}, { realCli: true });
      expect(run.status).toBe(2);
      expect(run.stderr).toContain(`error: invalid ${variable} 0: expected a whole number above 0`);
    },
  );

  it('smoke test: an empty version or canary ref and a token expiry of 0 are not given; the others are', async () => {
    const flagsOf = async (inputs: object) => {
      const j = job('smoke-test', { ...base, ...inputs }, 'runner-fleet-smoke-test');
      const run = runJobScript(j);
      expect(run.cliCalls).toEqual([
        [
          'smoke-test',
          '--stack-name',
          'fleet-a',
          '--region',
          'eu-west-1',
          '--gitlab-url',
          '',
          '--junit',
          'runner-fleet-smoke-test.xml',
        ],
      ]);
      const cli = await cliFlagsOf(smokeTestFlags, run.cliCalls[0], j, { CI_PROJECT_ID: '7' });
      expect(cli.problems).toEqual([]);
      return cli.flags;
    };
    const plain = await flagsOf({});
    expect(plain['expected-version']).toBeUndefined();
    expect(plain['canary-ref']).toBeUndefined();
    expect(plain['token-expiry-days']).toBeUndefined();
    expect(plain['wait-minutes']).toBe(20);
    const set = await flagsOf({
      expected_version: '17.11.1',
      canary_ref: 'canary',
      token_expiry_days: 7,
      wait_minutes: 35,
    });
    expect(set['expected-version']).toBe('17.11.1');
    expect(set['canary-ref']).toBe('canary');
    expect(set['token-expiry-days']).toBe(7);
    expect(set['wait-minutes']).toBe(35);
  });

  it('reconcile: apply true is --apply, false --dry-run; replace_broken is --replace-broken', async () => {
    const modeOf = async (inputs: object) => {
      const j = job('reconcile', { ...base, ...inputs }, 'runner-fleet-reconcile');
      const cli = await cliFlagsOf(reconcileFlags, runJobScript(j).cliCalls[0], j);
      expect(cli.problems).toEqual([]);
      return [cli.flags.apply, cli.flags['dry-run'], cli.flags['replace-broken']];
    };
    expect(await modeOf({})).toEqual([true, false, false]);
    expect(await modeOf({ apply: false })).toEqual([false, true, false]);
    expect(await modeOf({ replace_broken: true })).toEqual([true, false, true]);
  });

  it('roll: rotate-token, reconcile and roll in order, each following dry_run; auto_rollback false is --no-auto-rollback', async () => {
    const rollJob = (inputs: object) => job('roll', { ...base, ...inputs }, 'runner-fleet-roll');
    const withToken = { RUNNER_FLEET_GITLAB_TOKEN: 'x' };
    const full = rollJob({ rotate_token_days: 14 });
    const run = runJobScript(full, withToken);
    expect(run.status, run.stderr).toBe(0);
    expect(run.cliCalls.map((call) => call[0])).toEqual(['rotate-token', 'reconcile', 'roll']);
    expect(run.cliCalls[0]).toEqual(expect.arrayContaining(['--if-expires-within-days', '14']));
    const reconcileFlagsIn = async (j: Job, ci: Record<string, string>) =>
      (
        await cliFlagsOf(
          reconcileFlags,
          runJobScript(j, ci).cliCalls.find((c) => c[0] === 'reconcile'),
          j,
          ci,
        )
      ).flags;
    expect(await reconcileFlagsIn(full, withToken)).toMatchObject({ apply: true, 'dry-run': false });
    const rollFlagsIn = async (j: Job) =>
      (await cliFlagsOf(rollFlags, runJobScript(j, withToken).cliCalls.at(-1), j, withToken)).flags;
    expect(await rollFlagsIn(full)).toMatchObject({
      'dry-run': false,
      'no-auto-rollback': false,
      'wait-minutes': 120,
    });

    const dry = rollJob({ rotate_token_days: 14, dry_run: true, auto_rollback: false, wait_minutes: 90 });
    expect(runJobScript(dry, withToken).cliCalls.map((call) => call[0])).toEqual(['reconcile', 'roll']);
    expect(await reconcileFlagsIn(dry, withToken)).toMatchObject({ apply: false, 'dry-run': true });
    expect(await rollFlagsIn(dry)).toMatchObject({
      'dry-run': true,
      'no-auto-rollback': true,
      'wait-minutes': 90,
    });

    const withoutToken = runJobScript(rollJob({}));
    expect(withoutToken.status, withoutToken.stderr).toBe(0);
    expect(withoutToken.stdout).toContain(
      'runner-fleet: RUNNER_FLEET_GITLAB_TOKEN is not set; reconcile skipped',
    );
    expect(withoutToken.cliCalls.map((call) => call[0])).toEqual(['roll']);
    expect(runJobScript(rollJob({ reconcile: false }), withToken).cliCalls.map((call) => call[0])).toEqual([
      'roll',
    ]);
  });

  it('preview lets --allow-* come from its inputs or from a pipeline variable, and fails only where asked', async () => {
    const previewFlagsOf = async (inputs: object, ci: Record<string, string> = {}) => {
      const preview = job(
        'preview',
        { ...base, fail_on_replacement: true, fail_on_permissions: true, ...inputs },
        'runner-fleet-preview',
      );
      // The job's one CLI call carries no gate flag: the CLI reads the job's variables (and the pipeline's).
      const run = runJobScript(preview, ci);
      expect(run.cliCalls[0]?.filter((arg) => /^--(allow|fail|mr)-/.test(arg))).toEqual([]);
      const env = { ...ci, ...jobVariables(preview, ci) };
      return (await readInput({ flags: previewFlags }, {}, env)).flags;
    };
    const plain = await previewFlagsOf({});
    expect(plain['fail-on-replacement']).toBe(true);
    expect(plain['fail-on-permissions']).toBe(true);
    expect(plain['allow-replacement']).toBe(false);
    expect(plain['allow-permission-changes']).toBe(false);
    expect((await previewFlagsOf({ fail_on_replacement: false }))['fail-on-replacement']).toBe(false);
    expect((await previewFlagsOf({ allow_replacement: true }))['allow-replacement']).toBe(true);
    expect((await previewFlagsOf({ allow_permission_changes: true }))['allow-permission-changes']).toBe(true);
    expect((await previewFlagsOf({}, { RUNNER_FLEET_ALLOW_REPLACEMENT: 'true' }))['allow-replacement']).toBe(
      true,
    );
    expect(
      (await previewFlagsOf({}, { RUNNER_FLEET_ALLOW_PERMISSION_CHANGES: 'true' }))[
        'allow-permission-changes'
      ],
    ).toBe(true);
    expect((await previewFlagsOf({}, { RUNNER_FLEET_ALLOW_REPLACEMENT: 'false' }))['allow-replacement']).toBe(
      false,
    );
  });
});

describe('the runner as code: the deploy job creates the runner first when given its settings', () => {
  const deployJob = (inputs: object) => job('deploy', { ...base, ...inputs }, 'runner-fleet-deploy');

  it('runs create-runner, then deploy, only with runner_settings_file', () => {
    const withSettings = runJobScript(
      deployJob({ runner_settings_file: 'fleet/runner.yml', runner_token_parameter: '/fleet-a/token' }),
    );
    expect(withSettings.status, withSettings.stderr).toBe(0);
    expect(withSettings.cliCalls.map((call) => call.slice(0, 5))).toEqual([
      ['create-runner', '--stack-name', 'fleet-a', '--region', 'eu-west-1'],
      ['deploy', '--stack-name', 'fleet-a', '--region', 'eu-west-1'],
    ]);
    const without = runJobScript(deployJob({}));
    expect(without.cliCalls.map((call) => call[0])).toEqual(['deploy']);
  });

  it('refuses settings without runner_token_parameter (exit 2) and never reaches the deploy', () => {
    const run = runJobScript(deployJob({ runner_settings_file: 'fleet/runner.yml' }), {}, { realCli: true });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(
      'error: input runner_settings_file (RUNNER_FLEET_RUNNER_SETTINGS_FILE) needs runner_token_parameter (RUNNER_FLEET_RUNNER_TOKEN_PARAMETER, the SSM parameter for the token)',
    );
    expect(run.cliCalls.map((call) => call[0])).toEqual(['create-runner']);
  });

  it('hands create-runner the settings file and the parameter through the job variables', () => {
    const run = runJobScript(
      deployJob({ runner_settings_file: 'fleet/runner.yml', runner_token_parameter: '/fleet-a/token' }),
      {},
      { realCli: true },
    );
    expect(run.status).toBe(2);
    // The file named by the input is read (and missing here); no complaint about a missing settings or parameter.
    expect(run.stderr).toMatch(/fleet\/runner\.yml/);
    expect(run.stderr).not.toContain('needs runner_token_parameter');
    expect(run.stderr).not.toContain('pass --runner-token-parameter');
    expect(run.cliCalls.map((call) => call[0])).toEqual(['create-runner']);
  });
});
