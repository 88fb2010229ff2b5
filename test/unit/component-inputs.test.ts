/**
 * What the CLI reads where a component job used to build arguments in shell:
 * list flags from `json: [...]` variables, the shipped template and presets,
 * the stop job's played-by-hand refusal, and the whole numbers, switches
 * and checkpoint list the smoke-test, reconcile and roll jobs hand over.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { minutes, runnerIdFromJob } from '../../scripts/cli-input/common-flags.ts';
import { listFromVariable, readInput } from '../../scripts/cli-input/schema.ts';
import { notPlayedByHand } from '../../scripts/commands/destroy-command.ts';
import { rollFlags } from '../../scripts/commands/roll-command.ts';
import { loadStackInputs, stackInputFlags } from '../../scripts/config/deploy-config.ts';
import { presetFile, presetNames, shippedHome, shippedTemplate } from '../../scripts/config/shipped-files.ts';
import { InputError } from '../../scripts/errors.ts';
import { ROOT } from '../support/emulator.ts';

describe('listFromVariable', () => {
  it('keeps each item of a json: list whole, spaces and = included, as the jobs passed them', () => {
    expect(listFromVariable('V', 'json: ["A=1", "B=with space=and equals", "", "C="]')).toEqual({
      values: ['A=1', 'B=with space=and equals', 'C='],
    });
    expect(listFromVariable('V', '["x"]')).toEqual({ values: ['x'] });
    expect(listFromVariable('V', 'json: []')).toEqual({ values: [] });
    expect(listFromVariable('V', 'json:')).toEqual({ values: [] });
  });

  it('counts numbers and booleans as their text (GitLab writes them unquoted)', () => {
    expect(listFromVariable('V', 'json: [1, true, "x"]')).toEqual({ values: ['1', 'true', 'x'] });
  });

  it('takes anything else as one value', () => {
    expect(listFromVariable('V', 'params/prod.yaml')).toEqual({ values: ['params/prod.yaml'] });
  });

  it('names the variable of a list it cannot read', () => {
    for (const bad of ['json: [unquoted]', 'json: {"a": 1}', 'json: [["nested"]]', '[1,']) {
      expect(listFromVariable('RUNNER_FLEET_PARAMETERS', bad), bad).toEqual({
        problem: 'invalid RUNNER_FLEET_PARAMETERS: expected a JSON list of texts, e.g. json: ["Key=value"]',
      });
    }
  });
});

describe('stack input flags from the environment', () => {
  const read = (raw: Record<string, string | string[]>, env: NodeJS.ProcessEnv) =>
    readInput({ flags: stackInputFlags }, { 'stack-name': 'fleet', ...raw }, env);

  it('read the list variables when no flag is given', async () => {
    const input = await read(
      {},
      {
        RUNNER_FLEET_PARAMETERS: 'json: ["A=1", "B=two words"]',
        RUNNER_FLEET_STACK_TAGS: 'json: ["team=platform ops"]',
        RUNNER_FLEET_PARAMETERS_FILE: 'site.yaml',
        RUNNER_FLEET_PRESET: 'none',
        RUNNER_FLEET_TEMPLATE_FILE: 'mine.yaml',
      },
    );
    expect(input.problems).toEqual([]);
    expect(input.flags.parameter).toEqual(['A=1', 'B=two words']);
    expect(input.flags.tag).toEqual(['team=platform ops']);
    expect(input.flags.parameters).toEqual(['site.yaml']);
    expect(input.flags.preset).toBe('none');
    expect(input.flags['template-file']).toBe('mine.yaml');
  });

  it('let the flags win, and report a list variable it cannot read', async () => {
    const input = await read(
      { parameter: ['A=flag'] },
      { RUNNER_FLEET_PARAMETERS: 'json: ["A=env"]', RUNNER_FLEET_STACK_TAGS: 'json: [oops' },
    );
    expect(input.flags.parameter).toEqual(['A=flag']);
    expect(input.flags.tag).toEqual([]);
    expect(input.problems).toEqual([
      'invalid RUNNER_FLEET_STACK_TAGS: expected a JSON list of texts, e.g. json: ["Key=value"]',
    ]);
  });

  it('leave every list empty without the variables (the CLI outside GitLab)', async () => {
    const input = await read({}, {});
    expect(input.flags.parameter).toEqual([]);
    expect(input.flags.parameters).toEqual([]);
    expect(input.flags.tag).toEqual([]);
    expect(input.flags.preset).toBeUndefined();
  });
});

describe('shipped template and presets', () => {
  let home: string;
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'rf-home-'));
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('finds the presets beside the code without RUNNER_FLEET_HOME (a checkout)', () => {
    expect(shippedHome({})).toBe(ROOT);
    expect(presetNames(ROOT)).toContain('linux-docker-autoscaling-spot');
    expect(presetFile('linux-docker-autoscaling-spot', {})).toEqual({
      file: join(ROOT, 'cfn', 'presets', 'linux-docker-autoscaling-spot.yaml'),
    });
  });

  it('defaults the template only where RUNNER_FLEET_HOME says where it is (the image)', () => {
    expect(shippedTemplate({})).toBeUndefined();
    expect(shippedTemplate({ RUNNER_FLEET_HOME: '/opt/runner-fleet' })).toBe(
      '/opt/runner-fleet/cfn/runner-fleet.yaml',
    );
  });

  it('refuses an unknown preset with the names there are', () => {
    const names = presetNames(ROOT);
    expect(presetFile('linux-nope', {})).toEqual({
      problem: `unknown --preset linux-nope: use one of none, ${names.join(', ')}`,
    });
    expect(presetFile('x', { RUNNER_FLEET_HOME: home })).toEqual({
      problem:
        '--preset x: no shipped presets found (set RUNNER_FLEET_HOME to the folder that holds cfn/presets)',
    });
  });

  it('applies the preset before the parameter files, the files before --parameter', async () => {
    await writeFile(join(home, 'site.yaml'), 'InstanceTypes: m7i.large\nMaxSize: "4"\n');
    const inputs = await loadStackInputs(
      {
        'stack-name': 'fleet',
        'template-file': join(ROOT, 'cfn', 'runner-fleet.yaml'),
        preset: 'linux-docker-autoscaling-spot',
        parameters: [join(home, 'site.yaml')],
        parameter: ['MaxSize=9'],
        tag: [],
        region: undefined,
      },
      {},
      new Set(['template-file', 'preset', 'parameters', 'parameter']),
    );
    expect(inputs.parameterValues.get('FleetMode')).toBe('autoscaling');
    expect(inputs.parameterValues.get('InstanceTypes')).toBe('m7i.large');
    expect(inputs.parameterValues.get('MaxSize')).toBe('9');
  });

  /** The flags of a deploy that names no template, and no RUNNER_FLEET_HOME to default to. */
  const withoutTemplate = {
    'stack-name': 'fleet',
    'template-file': undefined,
    preset: 'none',
    parameters: [],
    parameter: [],
    tag: [],
    region: undefined,
  };

  it('says a template is missing when neither --template-file nor RUNNER_FLEET_HOME gives one', async () => {
    const missing = loadStackInputs(withoutTemplate, {}, new Set(['stack-name']));
    await expect(missing).rejects.toThrow(InputError);
    await expect(missing).rejects.toMatchObject({ problems: ['missing --template-file FILE'] });
  });

  it('leaves a --template-file written without its value to the schema, which has said so already', async () => {
    await expect(loadStackInputs(withoutTemplate, {}, new Set(['template-file']))).rejects.toMatchObject({
      problems: [],
    });
  });
});

describe('destroy --only-when-played-by-hand', () => {
  const flags = { 'stack-name': 'fleet-a', 'only-when-played-by-hand': true };
  const none = { CI_JOB_MANUAL: undefined, RUNNER_FLEET_ALLOW_AUTOMATIC: undefined };

  it('refuses a job nobody played, with the stop job message', () => {
    expect(notPlayedByHand(flags, none)).toBe(
      'refusing to destroy fleet-a: this stop job was not started by hand (a when: in its rules overrides when: manual); give every rule when: manual, or for a throwaway stack use the destroy component with allow_automatic: true',
    );
    expect(notPlayedByHand(flags, { ...none, CI_JOB_MANUAL: 'false' })).toMatch(/^refusing/);
    expect(notPlayedByHand(flags, { ...none, RUNNER_FLEET_ALLOW_AUTOMATIC: 'false' })).toMatch(/^refusing/);
  });

  it('lets a played job, an allowed automatic one, and a run without the flag go on', () => {
    expect(notPlayedByHand(flags, { ...none, CI_JOB_MANUAL: 'true' })).toBeUndefined();
    expect(notPlayedByHand(flags, { ...none, RUNNER_FLEET_ALLOW_AUTOMATIC: 'true' })).toBeUndefined();
    expect(notPlayedByHand({ ...flags, 'only-when-played-by-hand': false }, none)).toBeUndefined();
  });
});

describe('whole-number, switch and list-text flags from the environment (smoke test, reconcile, roll)', () => {
  const flags = {
    'runner-id': runnerIdFromJob,
    'wait-minutes': minutes(20, 'w', ['RUNNER_FLEET_WAIT_MINUTES']),
    'dry-run': { type: 'switch', env: ['RUNNER_FLEET_DRY_RUN'], envFalse: ['RUNNER_FLEET_APPLY'], help: 'd' },
    checkpoints: {
      type: 'parsed',
      placeholder: 'LIST',
      env: ['RUNNER_FLEET_CHECKPOINT_PERCENTAGES'],
      parse: (raw: string) => ({ value: raw.split(',').filter(Boolean).map(Number) }),
      help: 'c',
    },
  } as const;
  const read = (raw: Record<string, string | boolean>, env: NodeJS.ProcessEnv) =>
    readInput({ flags }, raw, env);

  it('reads a whole number from its variable, and takes the input 0 as not given', async () => {
    const set = await read({}, { RUNNER_FLEET_RUNNER_ID: '42', RUNNER_FLEET_WAIT_MINUTES: '35' });
    expect(set.problems).toEqual([]);
    expect(set.flags).toMatchObject({ 'runner-id': 42, 'wait-minutes': 35 });
    const zero = await read({}, { RUNNER_FLEET_RUNNER_ID: '0' });
    expect(zero.problems).toEqual([]);
    expect(zero.flags).toMatchObject({ 'runner-id': undefined, 'wait-minutes': 20 });
    // Given on the command line, 0 stays a value (and is out of bounds here).
    expect((await read({ 'runner-id': '0' }, {})).problems).toEqual([
      'invalid --runner-id 0: expected a whole number above 0',
    ]);
  });

  it('names the variable of a bad whole number, and lets the flag win', async () => {
    expect((await read({}, { RUNNER_FLEET_WAIT_MINUTES: 'soon' })).problems).toEqual([
      'invalid RUNNER_FLEET_WAIT_MINUTES soon: expected a whole number above 0',
    ]);
    const flagWins = await read({ 'wait-minutes': '5' }, { RUNNER_FLEET_WAIT_MINUTES: 'soon' });
    expect(flagWins.problems).toEqual([]);
    expect(flagWins.flags['wait-minutes']).toBe(5);
  });

  it('turns a switch on from a variable that is true, or from one that is false (the other side of a boolean)', async () => {
    expect((await read({}, { RUNNER_FLEET_DRY_RUN: 'true' })).flags['dry-run']).toBe(true);
    expect((await read({}, { RUNNER_FLEET_APPLY: 'false' })).flags['dry-run']).toBe(true);
    expect(
      (await read({}, { RUNNER_FLEET_DRY_RUN: 'false', RUNNER_FLEET_APPLY: 'true' })).flags['dry-run'],
    ).toBe(false);
    expect((await read({}, {})).flags['dry-run']).toBe(false);
  });

  it('hands a parsed flag a json: list comma-joined, an empty one as none', async () => {
    expect(
      (await read({}, { RUNNER_FLEET_CHECKPOINT_PERCENTAGES: 'json: [50, 100]' })).flags.checkpoints,
    ).toEqual([50, 100]);
    expect((await read({}, { RUNNER_FLEET_CHECKPOINT_PERCENTAGES: 'json: []' })).flags.checkpoints).toEqual(
      [],
    );
    expect((await read({}, { RUNNER_FLEET_CHECKPOINT_PERCENTAGES: 'json: [oops' })).problems).toEqual([
      'invalid RUNNER_FLEET_CHECKPOINT_PERCENTAGES: expected a JSON list of texts, e.g. json: ["Key=value"]',
    ]);
    expect((await read({}, {})).flags.checkpoints).toBeUndefined();
  });

  it("names the variable a refused parsed value came from, and the flag when it was given (roll's checkpoints)", async () => {
    const checkpoints = { 'checkpoint-percentages': rollFlags['checkpoint-percentages'] };
    const roll = (raw: Record<string, string>, env: NodeJS.ProcessEnv) =>
      readInput({ flags: checkpoints }, raw, env);
    const advice = 'give rising whole numbers from 1 to 100 ending with 100, e.g. 50,100';
    expect((await roll({}, { RUNNER_FLEET_CHECKPOINT_PERCENTAGES: 'json: [50, 90]' })).problems).toEqual([
      `invalid RUNNER_FLEET_CHECKPOINT_PERCENTAGES 50,90: ${advice}`,
    ]);
    expect((await roll({ 'checkpoint-percentages': '50,90' }, {})).problems).toEqual([
      `invalid --checkpoint-percentages 50,90: ${advice}`,
    ]);
    const fine = await roll({}, { RUNNER_FLEET_CHECKPOINT_PERCENTAGES: 'json: [50, 100]' });
    expect(fine.problems).toEqual([]);
    expect(fine.flags['checkpoint-percentages']).toEqual([50, 100]);
  });
});
