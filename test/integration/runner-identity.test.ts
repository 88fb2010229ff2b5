/**
 * The runner's identity over its life, as real CLI processes against moto
 * (SSM SecureStrings with tags, CloudFormation, Auto Scaling with real
 * instances) and the GitLab API double: create-runner from zero, its update
 * instead of a second runner, rotate-token, reconcile, and the one-line exit-2
 * answers to bad input. No token ever shows in the output.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import {
  GetParameterCommand,
  ListTagsForResourceCommand,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemIdForInstance } from '../../scripts/gitlab/system-id.ts';
import {
  addRunnerAdminRoutes,
  newRunnerDetails,
  type RunnerAdminDouble,
} from '../doubles/gitlab/runner-admin.ts';
import { addRunnerRoutes, type RunnersDouble } from '../doubles/gitlab/runners.ts';
import { type GitLabDouble, startGitLabDouble } from '../doubles/gitlab/server.ts';
import { runCliProcess } from '../support/cli-process.ts';
import { type Emulator, ROOT, startEmulator } from '../support/emulator.ts';

const miniFleet = join(ROOT, 'test/fixtures/templates/mini-fleet.yaml');
/** The mini fleet with the stack parameters that name the token's SSM parameter and the fleet's GitLab, as the real template has. */
function miniFleetWithTokenParameter(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'rf-identity-')), 'fleet.yaml');
  const template = readFileSync(miniFleet, 'utf8').replace(
    /^Parameters:\n/m,
    "Parameters:\n  RunnerTokenParameterName:\n    Type: String\n    Default: ''\n  GitLabUrl:\n    Type: String\n    Default: ''\n",
  );
  writeFileSync(file, template);
  return file;
}
const OWNER_TOKEN = 'glpat-identity-owner-token';
const READ_ONLY_TOKEN = 'glpat-identity-read-api-only';
const STRANGER_TOKEN = 'glpat-identity-stranger';
const PARAMETER = '/runner-fleet/identity/token';
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

describe('runner identity against moto and the GitLab double', () => {
  let emulator: Emulator;
  let gitlab: GitLabDouble;
  let runners: RunnersDouble;
  let admin: RunnerAdminDouble;
  let ssm: SSMClient;

  beforeAll(async () => {
    emulator = await startEmulator('moto');
    gitlab = await startGitLabDouble({ tokens: [OWNER_TOKEN, READ_ONLY_TOKEN, STRANGER_TOKEN] });
    runners = addRunnerRoutes(gitlab);
    admin = addRunnerAdminRoutes(gitlab, runners);
    admin.addGroup(77, 'platform/runners', [OWNER_TOKEN, READ_ONLY_TOKEN]);
    admin.scopes.set(READ_ONLY_TOKEN, ['read_api']);
    admin.tokenLifetimeDays = 30;
    ssm = new SSMClient({ endpoint: emulator.endpoint, region: 'us-east-1', credentials });
  });
  afterAll(async () => {
    ssm?.destroy();
    await gitlab?.close();
    await emulator?.stop();
  });

  const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    runCliProcess(args, { ...emulator.env, RUNNER_FLEET_GITLAB_TOKEN: OWNER_TOKEN, ...extra });
  const create = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    cli(['create-runner', '--runner-token-parameter', PARAMETER, '--gitlab-url', gitlab.url, ...args], extra);

  /** The mini fleet as stack NAME, its token in PARAMETER_NAME and its runners registering with the double. */
  const deployFleet = async (name: string, parameterName: string) => {
    const deployed = await cli([
      'deploy',
      '--stack-name',
      name,
      '--template-file',
      miniFleetWithTokenParameter(),
      '--parameter',
      `RunnerTokenParameterName=${parameterName}`,
      '--parameter',
      `GitLabUrl=${gitlab.url}`,
    ]);
    expect(deployed.code, deployed.output).toBe(0);
  };
  /** The instance ids of stack NAME's group. */
  const instancesOf = async (name: string) => {
    const asg = new AutoScalingClient({ endpoint: emulator.endpoint, region: 'us-east-1', credentials });
    const groups = await asg.send(new DescribeAutoScalingGroupsCommand({}));
    asg.destroy();
    const group = groups.AutoScalingGroups?.find((g) => g.AutoScalingGroupName?.startsWith(`${name}-`));
    return (group?.Instances ?? []).map((i) => i.InstanceId ?? '');
  };

  const storedToken = async () =>
    (await ssm.send(new GetParameterCommand({ Name: PARAMETER, WithDecryption: true }))).Parameter;
  const storedTags = async () =>
    Object.fromEntries(
      (
        (await ssm.send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: PARAMETER })))
          .TagList ?? []
      ).map((t) => [t.Key, t.Value]),
    );

  function expectNoTokens(output: string) {
    expect(output).not.toMatch(/glrt-/);
    expect(output).not.toContain(OWNER_TOKEN);
  }

  it('answers bad input with one line each and exit 2, before creating anything', async () => {
    const scope = await create(['--runner-type', 'group_type', '--group', 'platform/runners'], {
      RUNNER_FLEET_GITLAB_TOKEN: READ_ONLY_TOKEN,
    });
    expect(scope.code, scope.output).toBe(2);
    expect(scope.stderr.trim()).toBe(
      'error: RUNNER_FLEET_GITLAB_TOKEN lacks the scope to create a runner: give it the create_runner scope (or api)',
    );

    const type = await create(['--runner-type', 'shared', '--group', 'platform/runners']);
    expect(type.code).toBe(2);
    expect(type.stderr).toContain(
      'error: invalid --runner-type shared: expected instance_type, group_type, project_type',
    );

    const group = await create(['--runner-type', 'group_type', '--group', 'platform/nope']);
    expect(group.code).toBe(2);
    expect(group.stderr.trim()).toBe(
      'error: unknown group platform/nope: GitLab has no such group, or RUNNER_FLEET_GITLAB_TOKEN cannot see it',
    );

    const role = await create(['--runner-type', 'instance_type']);
    expect(role.code).toBe(2);
    expect(role.stderr.trim()).toBe(
      "error: RUNNER_FLEET_GITLAB_TOKEN may not create this runner (403): the token's user must be an administrator",
    );
    expect(admin.details.size).toBe(0);
    await expect(storedToken()).rejects.toThrow();
  });

  it('creates the runner and writes its token straight into SSM, riding out a 429', async () => {
    gitlab.injectFault('POST', /^\/user\/runners$/, {
      status: 429,
      headers: { 'retry-after': '1' },
      body: { message: 'Retry later' },
    });
    const started = Date.now();
    const result = await create([
      '--settings',
      join(ROOT, 'test/fixtures/runner/runner.yml'),
      '--stack-name',
      'identity',
    ]);
    expect(result.code, result.output).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(admin.details.size).toBe(1);
    const [runner] = [...admin.details.values()];
    expect(runner).toMatchObject({
      runner_type: 'group_type',
      description: 'identity fleet',
      tag_list: ['aws', 'linux'],
      run_untagged: false,
      maximum_timeout: 3600,
      groups: [{ id: 77 }],
    });
    const parameter = await storedToken();
    expect(parameter?.Type).toBe('SecureString');
    expect(parameter?.Value).toBe(runners.runners.get(runner?.id ?? 0)?.token);
    const tags = await storedTags();
    expect(tags['runner-fleet:runner-id']).toBe(String(runner?.id));
    expect(tags['runner-fleet:token-expires-at']).toBe(runners.runners.get(runner?.id ?? 0)?.tokenExpiresAt);
    expect(result.stdout).toContain(
      `Created runner #${runner?.id}; its token is in SSM SecureString ${PARAMETER} version 1 (value not shown)`,
    );
    expectNoTokens(result.output);
  });

  it('updates the recorded runner instead of creating a second one', async () => {
    const [runner] = [...admin.details.values()];
    const same = await create(['--settings', join(ROOT, 'test/fixtures/runner/runner.yml')]);
    expect(same.code, same.output).toBe(0);
    expect(same.stdout).toContain(`Runner #${runner?.id} already has these settings; nothing to update`);

    const dry = await create([
      '--settings',
      join(ROOT, 'test/fixtures/runner/runner.yml'),
      '--tag',
      'aws',
      '--paused',
      'true',
      '--dry-run',
    ]);
    expect(dry.code, dry.output).toBe(0);
    expect(dry.stdout).toMatch(/^ {2}tag_list +aws, linux +aws$/m);
    expect(dry.stdout).toMatch(/^ {2}paused +false +true$/m);
    expect(runner?.paused).toBe(false);

    const update = await create([
      '--settings',
      join(ROOT, 'test/fixtures/runner/runner.yml'),
      '--paused',
      'true',
    ]);
    expect(update.code, update.output).toBe(0);
    expect(update.stdout).toContain(`Updated runner #${runner?.id}: paused`);
    expect(admin.details.size).toBe(1);
    expect(runner?.paused).toBe(true);
    expect((await storedToken())?.Version).toBe(1);

    const retype = await create([
      '--settings',
      join(ROOT, 'test/fixtures/runner/runner.yml'),
      '--runner-type',
      'instance_type',
      '--group',
      '',
    ]);
    expect(retype.code).toBe(2);
    expect(retype.stderr).toContain(`runner #${runner?.id} is group_type but the settings say instance_type`);
  });

  it('adopts the runner whose token deploy stored earlier, instead of making a second one', async () => {
    const adopted = '/runner-fleet/identity/adopted';
    admin.details.set(
      2001,
      newRunnerDetails(2001, 'group_type', {
        description: 'made by hand',
        tag_list: ['aws'],
        groups: [{ id: 77, full_path: 'platform/runners' }],
      }),
    );
    runners.addRunner({ id: 2001, token: 'glrt-made-by-hand-in-the-ui-01' });
    await ssm.send(
      new PutParameterCommand({
        Name: adopted,
        Value: 'glrt-made-by-hand-in-the-ui-01',
        Type: 'SecureString',
      }),
    );
    const before = admin.details.size;
    const result = await cli([
      'create-runner',
      '--runner-token-parameter',
      adopted,
      '--gitlab-url',
      gitlab.url,
      '--settings',
      join(ROOT, 'test/fixtures/runner/runner.yml'),
    ]);
    expect(result.code, result.output).toBe(0);
    expect(result.stdout).toContain(
      `SSM parameter ${adopted} already holds the token of runner #2001: that runner is the fleet's (recorded in tag runner-fleet:runner-id)`,
    );
    expect(result.stdout).toContain(
      'Updated runner #2001: description, tag_list, run_untagged, maximum_timeout',
    );
    expect(admin.details.size).toBe(before);
    const parameter = (await ssm.send(new GetParameterCommand({ Name: adopted, WithDecryption: true })))
      .Parameter;
    expect(parameter?.Version).toBe(1);
    const tags = await ssm.send(
      new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: adopted }),
    );
    expect(tags.TagList).toContainEqual({ Key: 'runner-fleet:runner-id', Value: '2001' });
    expectNoTokens(result.output);
  });

  it('rotates the token only when due, and then writes a new SSM version that GitLab accepts', async () => {
    const [runner] = [...admin.details.values()];
    const id = runner?.id ?? 0;
    const before = await storedToken();
    const notDue = await cli(
      [
        'rotate-token',
        '--runner-token-parameter',
        PARAMETER,
        '--gitlab-url',
        gitlab.url,
        '--if-expires-within-days',
        '7',
      ],
      { RUNNER_FLEET_GITLAB_TOKEN: '' },
    );
    expect(notDue.code, notDue.output).toBe(0);
    expect(notDue.stdout).toMatch(
      new RegExp(`The token of runner #${id} expires \\S+, in 29 days: not rotated`),
    );
    expect((await storedToken())?.Version).toBe(before?.Version);

    const due = await cli(
      [
        'rotate-token',
        '--runner-token-parameter',
        PARAMETER,
        '--gitlab-url',
        gitlab.url,
        '--if-expires-within-days',
        '30',
      ],
      { RUNNER_FLEET_GITLAB_TOKEN: '' },
    );
    expect(due.code, due.output).toBe(0);
    const after = await storedToken();
    expect(after?.Version).toBe((before?.Version ?? 0) + 1);
    expect(after?.Value).not.toBe(before?.Value);
    expect(after?.Value).toBe(runners.runners.get(id)?.token);
    expect(due.stdout).toContain(
      `Rotated the token of runner #${id} (POST /runners/reset_authentication_token with the current token)`,
    );
    expectNoTokens(due.output);

    // Once the token is dead (reset elsewhere), only the API token can reset it: by runner id.
    const record = runners.runners.get(id);
    if (record) record.token = 'glrt-reset-in-the-ui-0000';
    const refused = await cli(
      ['rotate-token', '--runner-token-parameter', PARAMETER, '--gitlab-url', gitlab.url],
      { RUNNER_FLEET_GITLAB_TOKEN: '' },
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('only an API token can reset it: set RUNNER_FLEET_GITLAB_TOKEN');
    const byId = await cli([
      'rotate-token',
      '--runner-token-parameter',
      PARAMETER,
      '--gitlab-url',
      gitlab.url,
    ]);
    expect(byId.code, byId.output).toBe(0);
    expect(byId.stdout).toContain(`POST /runners/${id}/reset_authentication_token`);
    expect((await storedToken())?.Value).toBe(runners.runners.get(id)?.token);
    expectNoTokens(byId.output);
  });

  it('reconcile deletes the manager of a terminated instance, keeps live and foreign ones', async () => {
    await deployFleet('identity', PARAMETER);
    const live = await instancesOf('identity');
    expect(live).toHaveLength(2);
    const [runner] = [...admin.details.values()];
    const id = runner?.id ?? 0;
    const dead = systemIdForInstance('i-0deadbeef00000001');
    const foreign = 's_handmadeHOST';
    runners.setManager(id, { system_id: systemIdForInstance(live[0] ?? '') });
    runners.setManager(id, {
      system_id: systemIdForInstance(live[1] ?? ''),
      status: 'offline',
      contacted_at: '2026-11-01T00:00:00Z',
    });
    runners.setManager(id, { system_id: dead, status: 'online' });
    runners.setManager(id, { system_id: foreign });
    runners.paginateManagers = true;
    const reconcileArgs = ['reconcile', '--stack-name', 'identity', '--gitlab-url', gitlab.url];

    const refused = await cli(reconcileArgs);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('reconcile without a terminal needs --apply');

    const dry = await cli([...reconcileArgs, '--dry-run']);
    expect(dry.code, dry.output).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`^${dead} +- +gone +online +\\S+ +would delete$`, 'm'));
    expect(dry.stdout).toMatch(
      new RegExp(`^${foreign} +- +gone +online +\\S+ +left alone \\(not a fleet id\\)$`, 'm'),
    );
    expect(dry.stdout).toMatch(
      new RegExp(
        `^${systemIdForInstance(live[1] ?? '')} +${live[1]} +InService +offline +\\S+ +broken$`,
        'm',
      ),
    );
    expect(runners.runners.get(id)?.managers).toHaveLength(4);

    gitlab.injectFault('GET', /\/managers$/, { status: 429, headers: { 'retry-after': '0' }, body: {} });
    const applied = await cli([...reconcileArgs, '--apply']);
    expect(applied.code, applied.output).toBe(0);
    expect(applied.stdout).toMatch(new RegExp(`^${dead} +- +gone +online +\\S+ +deleted$`, 'm'));
    expect(applied.stdout).toContain(`Reconciled runner #${id}: 1 manager(s) deleted, 1 broken instance(s)`);
    expect(applied.stderr).toContain(`${live[1]} is InService but its runner manager`);
    expect(
      runners.runners
        .get(id)
        ?.managers.map((m) => m.system_id)
        .sort(),
    ).toEqual([systemIdForInstance(live[0] ?? ''), systemIdForInstance(live[1] ?? ''), foreign].sort());
    expectNoTokens(applied.output);
  });

  it('smoke-test fails when the token expires within --token-expiry-days', async () => {
    const [runner] = [...admin.details.values()];
    admin.exposeTokenExpiry = true;
    const smokeTestWithin = (days: number) =>
      cli([
        'smoke-test',
        '--stack-name',
        'identity',
        '--gitlab-url',
        gitlab.url,
        '--runner-id',
        String(runner?.id),
        '--token-expiry-days',
        String(days),
        '--wait-minutes',
        '1',
      ]);
    const result = await smokeTestWithin(40);
    expect(result.code, result.output).toBe(1);
    expect(result.stdout).toMatch(
      /^ {2}FAIL runner token valid for more than 40 days: the runner token expires \S+, in 29 days: run runner-fleet rotate-token/m,
    );
    const relaxed = await smokeTestWithin(7);
    expect(relaxed.stdout).toMatch(/^ {2}ok {3}runner token valid for more than 7 days$/m);
  });

  it('smoke-test, status and destroy find the runner create-runner recorded, with no id or token given', async () => {
    const [runner] = [...admin.details.values()];
    const id = runner?.id ?? 0;
    const smoke = await cli([
      'smoke-test',
      '--stack-name',
      'identity',
      '--gitlab-url',
      gitlab.url,
      '--token-expiry-days',
      '7',
      '--wait-minutes',
      '1',
    ]);
    expect(smoke.stdout).toContain(
      `Runner #${id} (from tag runner-fleet:runner-id of SSM parameter ${PARAMETER}, recorded by create-runner; its token expires `,
    );
    expect(smoke.stdout).toMatch(/^ {2}ok {3}runner token valid for more than 7 days$/m);
    expectNoTokens(smoke.output);

    const shown = await cli(['status', '--stack-name', 'identity', '--gitlab-url', gitlab.url]);
    expect(shown.code, shown.output).toBe(0);
    expect(shown.stdout).not.toContain('runner managers not shown');

    // A destroy job running on that very runner is refused before anything is deleted.
    const refused = await cli(
      ['destroy', '--stack-name', 'identity', '--yes-destroy-stack', 'identity', '--gitlab-url', gitlab.url],
      { CI_RUNNER_ID: String(id) },
    );
    expect(refused.code, refused.output).toBe(2);
    expect(refused.stderr).toContain(
      `refusing to destroy identity from a job on that fleet: it runs on runner #${id} (CI_RUNNER_ID), the fleet's runner`,
    );
    const still = await cli(['status', '--stack-name', 'identity']);
    expect(still.stdout).toContain('CREATE_COMPLETE');

    // From another runner, destroy reads the stored token to remove the managers the instances left,
    // at the fleet's own GitLab (the stack's GitLabUrl), not the job's: nobody listens on the one given.
    const [instance] = await instancesOf('identity');
    const leftover = systemIdForInstance(instance ?? '');
    runners.setManager(id, { system_id: leftover });
    const destroyed = await cli(
      [
        'destroy',
        '--stack-name',
        'identity',
        '--yes-destroy-stack',
        'identity',
        '--gitlab-url',
        'http://127.0.0.1:9',
      ],
      { CI_RUNNER_ID: String(id + 1000) },
    );
    expect(destroyed.code, destroyed.output).toBe(0);
    expect(destroyed.stdout).toContain(`Removed runner manager ${leftover} left behind by ${instance}`);
    expect(runners.runners.get(id)?.managers.map((m) => m.system_id)).not.toContain(leftover);
    expectNoTokens(destroyed.output);
  });

  it('status says the runner is unknown when the token parameter the stack names does not exist', async () => {
    await deployFleet('identity-missing', '/runner-fleet/identity/never-written');
    const shown = await cli(['status', '--stack-name', 'identity-missing', '--gitlab-url', gitlab.url]);
    expect(shown.code, shown.output).toBe(0);
    expect(shown.stdout).toContain(
      "(runner managers not shown: the fleet's runner is unknown; pass --runner-id",
    );
    expect(shown.stderr).not.toContain('could not read');
  });
});
