/**
 * The own-fleet guard of roll and destroy: the pure verdict from the job's
 * runner variables, the refusal and its override, the fleet's runner id from
 * the runner token (against the GitLab API double), and the real CLI refusing
 * before it touches AWS.
 */
import type { Stack } from '@aws-sdk/client-cloudformation';
import { ListTagsForResourceCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFleetRunner } from '../../scripts/commands/fleet-runner.ts';
import {
  describesFleetInstance,
  jobRunnerFromEnv,
  ownFleetVerdict,
  refuseOwnFleet,
} from '../../scripts/config/own-fleet.ts';
import { InputError } from '../../scripts/errors.ts';
import { createGitLabClient } from '../../scripts/gitlab/client.ts';
import type { Logger } from '../../scripts/log.ts';
import { addRunnerRoutes } from '../doubles/gitlab/runners.ts';
import { type GitLabDouble, startGitLabDouble } from '../doubles/gitlab/server.ts';
import { runCliProcess } from '../support/cli-process.ts';

function recordingLog(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    info: () => {},
    warn: (line: string) => {
      warnings.push(line);
    },
    error: () => {},
    section: (_name, _header, body) => body(),
    warnings,
  };
}

describe('jobRunnerFromEnv', () => {
  it('reads CI_RUNNER_ID and CI_RUNNER_DESCRIPTION; nothing outside GitLab', () => {
    expect(jobRunnerFromEnv({})).toBeUndefined();
    expect(jobRunnerFromEnv({ CI_RUNNER_ID: '42', CI_RUNNER_DESCRIPTION: 'shared' })).toEqual({
      id: 42,
      description: 'shared',
    });
    expect(jobRunnerFromEnv({ CI_RUNNER_ID: 'x' })).toBeUndefined();
  });
});

describe('ownFleetVerdict', () => {
  it.each([
    ['same runner id', { id: 7 }, 7, 'own'],
    ['another runner id', { id: 8 }, 7, 'other'],
    ['runner id unknown', { id: 8 }, undefined, 'unknown'],
    [
      'registration-token instance of the stack',
      { description: 'fleet-a-i-0123456789abcdef0' },
      undefined,
      'own',
    ],
    ['short instance id', { id: 3, description: 'fleet-a-i-01234567' }, 7, 'own'],
    ['instance of another stack', { id: 3, description: 'fleet-ab-i-0123456789abcdef0' }, 7, 'other'],
    ['a description that only starts like the stack', { id: 3, description: 'fleet-a-builder' }, 7, 'other'],
    ['no runner id and a foreign description', { description: 'gitlab-hosted' }, undefined, 'other'],
  ] as const)('%s', (_name, runner, fleetRunnerId, kind) => {
    expect(ownFleetVerdict(runner, 'fleet-a', fleetRunnerId).kind).toBe(kind);
  });

  it('matches the name the bootstrap registers instances under', () => {
    expect(describesFleetInstance('prod-i-0abcdef0123456789', 'prod')).toBe(true);
    expect(describesFleetInstance('prod-i-0ABCDEF0123456789', 'prod')).toBe(false);
    expect(describesFleetInstance(undefined, 'prod')).toBe(false);
  });
});

describe('refuseOwnFleet', () => {
  const base = { verb: 'roll' as const, stackName: 'fleet-a', allowOwnFleet: false };

  it('refuses in one line naming the evidence and the override', async () => {
    const log = recordingLog();
    const error = await refuseOwnFleet({
      ...base,
      env: { CI_RUNNER_ID: '7' },
      log,
      fleetRunnerId: async () => 7,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    const problems = (error as InputError).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^refusing to roll fleet-a from a job on that fleet: .*runner #7.*--allow-own-fleet$/,
    );
    expect(problems[0]).not.toContain('\n');
  });

  it('warns and goes on with --allow-own-fleet', async () => {
    const log = recordingLog();
    await refuseOwnFleet({
      ...base,
      allowOwnFleet: true,
      env: { CI_RUNNER_ID: '7' },
      log,
      fleetRunnerId: async () => 7,
    });
    expect(log.warnings.join('\n')).toMatch(/--allow-own-fleet given/);
  });

  it('asks GitLab nothing outside a GitLab job or when the description settles it', async () => {
    let asked = 0;
    const fleetRunnerId = async () => {
      asked++;
      return 7;
    };
    await refuseOwnFleet({ ...base, env: {}, log: recordingLog(), fleetRunnerId });
    const error = await refuseOwnFleet({
      ...base,
      verb: 'destroy',
      env: { CI_RUNNER_ID: '9', CI_RUNNER_DESCRIPTION: 'fleet-a-i-0123456789abcdef0' },
      log: recordingLog(),
      fleetRunnerId,
    }).catch((e: unknown) => e);
    expect(asked).toBe(0);
    expect((error as InputError).problems[0]).toMatch(/^refusing to destroy fleet-a .*CI_RUNNER_DESCRIPTION/);
  });

  it('warns, and goes on, when it cannot tell', async () => {
    const unknown = recordingLog();
    await refuseOwnFleet({
      ...base,
      env: { CI_RUNNER_ID: '7' },
      log: unknown,
      fleetRunnerId: async () => undefined,
    });
    expect(unknown.warnings).toEqual([expect.stringMatching(/cannot tell .*pass --runner-id/)]);
    const failing = recordingLog();
    await refuseOwnFleet({
      ...base,
      env: { CI_RUNNER_ID: '7' },
      log: failing,
      fleetRunnerId: async () => {
        throw new Error('GitLab API POST /runners/verify answered 403');
      },
    });
    expect(failing.warnings).toEqual([expect.stringMatching(/cannot tell .*403/)]);
  });
});

describe('the fleet runner id and the CLI', () => {
  let gitlab: GitLabDouble;
  const runnerToken = 'glrt-own-fleet-test-token';

  beforeAll(async () => {
    gitlab = await startGitLabDouble({ tokens: ['glpat-unused'] });
    addRunnerRoutes(gitlab).addRunner({ id: 7, token: runnerToken });
  });
  afterAll(async () => {
    await gitlab?.close();
  });

  it('takes --runner-id, else resolves the runner token without an API token, else the id create-runner recorded', async () => {
    const ssmMock = mockClient(SSMClient);
    ssmMock
      .on(ListTagsForResourceCommand)
      .resolves({ TagList: [{ Key: 'runner-fleet:runner-id', Value: '9' }] });
    const stacksRead: string[] = [];
    const fleetStack = (parameterName: string) => async (): Promise<Stack> => {
      stacksRead.push(parameterName);
      return {
        StackName: 'fleet-a',
        StackStatus: 'CREATE_COMPLETE',
        CreationTime: new Date(0),
        Parameters: [{ ParameterKey: 'RunnerTokenParameterName', ParameterValue: parameterName }],
      };
    };
    const sources = {
      runnerIdFlag: undefined,
      runnerToken: undefined,
      gitlab: createGitLabClient({ apiUrl: gitlab.apiUrl, token: '' }),
      stack: fleetStack('/fleet/token'),
      ssm: async () => new SSMClient({ region: 'us-east-1' }),
      log: recordingLog(),
    };
    try {
      expect(await findFleetRunner({ ...sources, runnerIdFlag: 3, runnerToken })).toEqual({
        id: 3,
        from: '--runner-id',
      });
      expect((await findFleetRunner({ ...sources, runnerToken }))?.id).toBe(7);
      // Neither given source needed the stack.
      expect(stacksRead).toEqual([]);
      expect(await findFleetRunner(sources)).toEqual({
        id: 9,
        from: 'tag runner-fleet:runner-id of SSM parameter /fleet/token, recorded by create-runner',
      });
      expect(await findFleetRunner({ ...sources, stack: fleetStack('') })).toBeUndefined();
      ssmMock.on(ListTagsForResourceCommand).resolves({ TagList: [] });
      expect(await findFleetRunner(sources)).toBeUndefined();
    } finally {
      ssmMock.restore();
    }
  });

  // An endpoint nobody listens on: any AWS call would fail with exit 1, not the refusal.
  const awsEnv = {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    AWS_MAX_ATTEMPTS: '1',
  };

  it.each([
    ['roll', ['roll', '--stack-name', 'fleet-a', '--runner-id', '7']],
    ['destroy', ['destroy', '--stack-name', 'fleet-a', '--yes-destroy-stack', 'fleet-a', '--runner-id', '7']],
  ])('%s refuses with exit 2 and one line when CI_RUNNER_ID is the fleet runner', async (verb, args) => {
    const result = await runCliProcess(args, {
      ...awsEnv,
      CI_RUNNER_ID: '7',
      CI_RUNNER_DESCRIPTION: 'fleet runner',
    });
    expect(result.code, result.output).toBe(2);
    const lines = result.stderr.split('\n').filter((line) => line.includes('refusing'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`refusing to ${verb} fleet-a from a job on that fleet`);
    expect(result.output).not.toMatch(/ECONNREFUSED|127\.0\.0\.1:9/);
  });

  it('destroy finds the fleet runner from RUNNER_FLEET_RUNNER_TOKEN and refuses', async () => {
    const result = await runCliProcess(
      ['destroy', '--stack-name', 'fleet-a', '--yes-destroy-stack', 'fleet-a', '--gitlab-url', gitlab.url],
      { ...awsEnv, CI_RUNNER_ID: '7', RUNNER_FLEET_RUNNER_TOKEN: runnerToken },
    );
    expect(result.code, result.output).toBe(2);
    expect(result.stderr).toContain('refusing to destroy fleet-a');
    expect(result.output).not.toContain(runnerToken);
  });

  it('goes on with --allow-own-fleet, and on another runner', async () => {
    const allowed = await runCliProcess(
      ['roll', '--stack-name', 'fleet-a', '--runner-id', '7', '--allow-own-fleet'],
      {
        ...awsEnv,
        CI_RUNNER_ID: '7',
      },
    );
    expect(allowed.stderr).toMatch(/--allow-own-fleet given/);
    expect(allowed.code).not.toBe(2);
    const elsewhere = await runCliProcess(['roll', '--stack-name', 'fleet-a', '--runner-id', '7'], {
      ...awsEnv,
      CI_RUNNER_ID: '8',
    });
    expect(elsewhere.output).not.toContain('refusing');
    expect(elsewhere.code).not.toBe(2);
  });
});
