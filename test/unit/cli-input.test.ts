/** The input schema machinery: values, problems and help text from one table. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointProblems } from '../../scripts/aws/clients.ts';
import { gitlabAddressProblem } from '../../scripts/cli-input/checks.ts';
import { readCommandLine } from '../../scripts/cli-input/command-line.ts';
import { gitlabUrl, minutes, stackName } from '../../scripts/cli-input/common-flags.ts';
import { type InputSchema, parseArgsOptions, readInput } from '../../scripts/cli-input/schema.ts';
import { renderUsage } from '../../scripts/cli-input/usage.ts';

const flags = {
  'stack-name': stackName,
  'gitlab-url': gitlabUrl,
  'wait-minutes': minutes(30, 'longest wait'),
  'expiry-days': { type: 'integer', placeholder: 'N', min: 0, max: 3650, help: 'days' },
  tag: { type: 'texts', placeholder: 'KEY=VALUE', help: 'a tag' },
  report: { type: 'text', placeholder: 'FILE', writes: true, help: 'write a report' },
  list: {
    type: 'parsed',
    placeholder: 'LIST',
    parse: (raw: string) =>
      /^\d+(,\d+)*$/.test(raw) ? { value: raw.split(',').map(Number) } : { problem: `invalid --list ${raw}` },
    help: 'numbers',
  },
  apply: { type: 'switch', help: 'do it' },
} as const;

const environment = {
  API_TOKEN: { help: 'a token', required: 'API_TOKEN is not set' },
  OTHER_TOKEN: { help: 'another' },
} as const;

const schema: InputSchema<typeof flags, typeof environment> = {
  flags,
  environment,
  checks: [
    ({ flags: values, given }) =>
      values.apply && !given.has('report') ? '--apply needs --report' : undefined,
  ],
};

describe('readInput', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'rf-cli-input-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('turns valid flags into typed values, with defaults and the environment', async () => {
    const input = await readInput(
      schema,
      {
        'stack-name': 'fleet',
        tag: ['a=1', 'b=2'],
        list: '50,100',
        'expiry-days': '0',
        apply: true,
        report: join(work, 'r.md'),
      },
      { CI_SERVER_URL: ' https://gitlab.example.com ', API_TOKEN: 'glpat-x', OTHER_TOKEN: '  ' },
    );
    expect(input.problems).toEqual([]);
    expect(input.flags).toEqual({
      'stack-name': 'fleet',
      'gitlab-url': 'https://gitlab.example.com',
      'wait-minutes': 30,
      'expiry-days': 0,
      tag: ['a=1', 'b=2'],
      report: join(work, 'r.md'),
      list: [50, 100],
      apply: true,
    });
    expect(input.env).toEqual({ API_TOKEN: 'glpat-x', OTHER_TOKEN: undefined });
    expect([...input.given].sort()).toEqual(['apply', 'expiry-days', 'list', 'report', 'stack-name', 'tag']);
  });

  it('reports every problem at once: flags in table order, then variables, then cross checks', async () => {
    const input = await readInput(
      schema,
      { 'wait-minutes': '0', 'expiry-days': '3651', list: 'x', report: work, apply: true },
      { CI_API_V4_URL: 'gitlab.example.com', CI_SERVER_URL: 'https://ignored.example.com' },
    );
    expect(input.problems).toEqual([
      'missing --stack-name NAME',
      'invalid CI_API_V4_URL gitlab.example.com: expected the GitLab address, such as https://gitlab.example.com',
      'invalid --wait-minutes 0: expected a whole number above 0',
      'invalid --expiry-days 3651: expected a whole number from 0 to 3650',
      `cannot write --report ${work}: it is a directory; name a file`,
      'invalid --list x',
      'API_TOKEN is not set',
    ]);
    // A bad number falls back to its default; the cross check saw --report as given.
    expect(input.flags['wait-minutes']).toBe(30);
  });

  it('keeps an empty value given on purpose, without falling back to the environment', async () => {
    const input = await readInput(
      schema,
      { 'stack-name': 'fleet', 'gitlab-url': '' },
      { CI_SERVER_URL: 'https://gitlab.example.com', API_TOKEN: 't' },
    );
    expect(input.problems).toEqual([]);
    expect(input.flags['gitlab-url']).toBe('');
  });

  it('runs the cross checks on what was given', async () => {
    const input = await readInput(schema, { 'stack-name': 'fleet', apply: true }, { API_TOKEN: 't' });
    expect(input.problems).toEqual(['--apply needs --report']);
  });

  it('gives parseArgs text for every valued flag, so the schema checks each value itself', () => {
    expect(parseArgsOptions(flags)).toEqual({
      'stack-name': { type: 'string' },
      'gitlab-url': { type: 'string' },
      'wait-minutes': { type: 'string' },
      'expiry-days': { type: 'string' },
      tag: { type: 'string', multiple: true },
      report: { type: 'string' },
      list: { type: 'string' },
      apply: { type: 'boolean' },
    });
  });
});

describe('readCommandLine', () => {
  const options = parseArgsOptions(flags);
  const read = (...args: string[]) => readCommandLine('x', options, args);

  it('reads flags as parseArgs does: repeats, inline values, negative numbers, - alone', () => {
    expect(
      read(
        '--stack-name',
        'fleet',
        '--tag',
        'a=1',
        '--tag=b=2',
        '--wait-minutes',
        '-1',
        '--apply',
        '--report',
        '-',
      ),
    ).toEqual({
      values: {
        'stack-name': 'fleet',
        tag: ['a=1', 'b=2'],
        'wait-minutes': '-1',
        apply: true,
        report: '-',
      },
      problems: [],
    });
  });

  it('lists every unknown flag and stray argument instead of stopping at the first', () => {
    expect(
      read('--nope', '--stak-name', 'fleet', 'extra', '-z', '--nope', '--stack-name', 'fleet', '--', 'x'),
    ).toEqual({
      values: { 'stack-name': 'fleet' },
      problems: [
        'unknown flag --nope',
        'unknown flag --stak-name',
        'unexpected argument extra: x takes flags only',
        'unknown flag -z',
        'unexpected argument x: x takes flags only',
      ],
    });
  });

  it('keeps a flag written without its value, or a switch written with one, for the schema to report', async () => {
    const commandLine = read(
      '--stack-name',
      '--report',
      '--apply=yes',
      '--tag',
      'a=1',
      '--tag',
      '--wait-minutes',
    );
    expect(commandLine).toEqual({
      values: { 'stack-name': true, report: true, apply: 'yes', tag: ['a=1', true], 'wait-minutes': true },
      problems: [],
    });
    const input = await readInput(schema, commandLine.values, { API_TOKEN: 't' });
    expect(input.problems).toEqual([
      'missing value after --stack-name: write --stack-name NAME',
      'missing value after --wait-minutes: write --wait-minutes N',
      'missing value after --tag: write --tag KEY=VALUE',
      'missing value after --report: write --report FILE',
      '--apply takes no value: write --apply alone',
    ]);
    expect(input.flags).toMatchObject({ 'stack-name': '', 'wait-minutes': 30, tag: ['a=1'], apply: false });
  });
});

describe('the URL-shape check shared by --gitlab-url and AWS_ENDPOINT_URL', () => {
  it.each(['https://gitlab.example.com', 'http://127.0.0.1:4566', 'https://h/path'])(
    'accepts %s',
    (value) => {
      expect(gitlabAddressProblem(value, '--gitlab-url')).toBeUndefined();
      expect(endpointProblems({ AWS_ENDPOINT_URL: value })).toEqual([]);
    },
  );

  it.each(['localhost:4566', 'ftp://files.example.com', 'http://', 'not a url'])('refuses %s', (value) => {
    expect(gitlabAddressProblem(value, 'CI_SERVER_URL')).toBe(
      `invalid CI_SERVER_URL ${value}: expected the GitLab address, such as https://gitlab.example.com`,
    );
    expect(
      endpointProblems({ AWS_ENDPOINT_URL_SSM: value, AWS_ENDPOINT_URLS: value, AWS_REGION: value }),
    ).toEqual([
      `invalid AWS_ENDPOINT_URL_SSM ${value}: expected an http(s) URL such as https://cloudformation.eu-west-1.amazonaws.com`,
    ]);
  });
});

describe('renderUsage', () => {
  it('adds bounds, defaults, fallbacks and repeatability to the help of each flag', () => {
    const usage = renderUsage({
      synopsis: 'runner-fleet x --stack-name NAME',
      flags,
      environment,
      notes: 'Notes.',
    });
    expect(usage).toContain('  --wait-minutes N   longest wait (default 30)');
    expect(usage).toContain('  --expiry-days N    days (0 to 3650)');
    expect(usage).toContain('  --tag KEY=VALUE    a tag (repeatable)');
    expect(usage).toContain('  --gitlab-url URL   GitLab (default: CI_API_V4_URL, else CI_SERVER_URL)');
    expect(usage).toContain('  API_TOKEN    a token (required)');
    expect(usage.split('\n\n')).toEqual([
      'runner-fleet x --stack-name NAME',
      expect.stringMatching(/^ {2}--stack-name NAME/),
      'Notes.',
      expect.stringMatching(/^Environment/),
    ]);
    for (const line of usage.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
  });
});
