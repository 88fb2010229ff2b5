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
import { readInput } from '../../scripts/cli-input/schema.ts';
import { previewFlags } from '../../scripts/commands/preview-command.ts';
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

  it.each(cases)('min $min, max $max, checkpoints $checkpoints', ({ min, max, checkpoints, conflict }) => {
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
      if (checkpoints) expect(args).toContain(checkpoints.join(','));
      else expect(args).not.toContain('--checkpoint-percentages');
    }
  });

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

  it('passes runner_id only when set', () => {
    const roll = (inputs: object) =>
      runJobScript(job('roll', { ...base, ...inputs }, 'runner-fleet-roll')).cliCalls[0];
    expect(roll({ runner_id: 42 })).toEqual(expect.arrayContaining(['--runner-id', '42']));
    expect(roll({})).not.toContain('--runner-id');
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
