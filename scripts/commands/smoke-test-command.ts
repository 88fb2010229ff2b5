/**
 * Inputs and wiring of `runner-fleet smoke-test`; the checks are in
 * smoke-test.ts. Every input problem is reported at once (exit 2) before any
 * wait starts.
 */
import {
  autoScalingClient,
  awsSetupProblems,
  cloudFormationClient,
  ec2Client,
  ssmClient,
} from '../aws/clients.ts';
import { junit, minutes, region, runnerIdFromJob, stackName } from '../cli-input/common-flags.ts';
import { InputError } from '../errors.ts';
import { createGitLabClient } from '../gitlab/client.ts';
import { CANARY_VARIABLE } from '../smoke-test/evaluate.ts';
import { defineCommand, regionOption } from './command-spec.ts';
import { smokeTest } from './smoke-test.ts';

const VERSION = /^v?\d+\.\d+\.\d+$/;

/** The flags of smoke-test, exported for the tests of what the smoke-test component sets. */
export const smokeTestFlags = {
  'stack-name': stackName,
  'runner-id': {
    ...runnerIdFromJob,
    help: "the fleet's GitLab runner id (else resolved from RUNNER_FLEET_RUNNER_TOKEN through POST /runners/verify, else the id create-runner recorded on the stack's token parameter)",
  },
  'expected-version': {
    type: 'text',
    placeholder: 'V',
    env: ['RUNNER_FLEET_EXPECTED_VERSION'],
    check: (version: string) =>
      VERSION.test(version)
        ? undefined
        : `invalid --expected-version ${version}: expected a version such as 17.11.1`,
    help: 'gitlab-runner version every manager must run (default: the stack parameter RunnerVersion unless "latest")',
  },
  'wait-minutes': minutes(20, 'longest wait for capacity and runner managers', ['RUNNER_FLEET_WAIT_MINUTES']),
  'canary-ref': {
    type: 'text',
    placeholder: 'REF',
    env: ['RUNNER_FLEET_CANARY_REF'],
    help: `also run a canary pipeline on REF (its job runs when ${CANARY_VARIABLE}=1)`,
  },
  'canary-project': {
    type: 'text',
    placeholder: 'ID|PATH',
    env: ['CI_PROJECT_ID'],
    help: 'project of the canary pipeline',
  },
  'canary-wait-minutes': minutes(15, 'longest wait for the canary pipeline'),
  junit,
  'token-expiry-days': {
    type: 'integer',
    placeholder: 'N',
    min: 0,
    max: 3650,
    env: ['RUNNER_FLEET_TOKEN_EXPIRY_DAYS'],
    envNotGiven: '0',
    help: 'fail when the runner token expires within N days',
  },
  'gitlab-url': {
    type: 'text',
    placeholder: 'URL',
    env: ['CI_SERVER_URL'],
    check: (url: string) =>
      /^https?:\/\/[^\s/]+/.test(url) ? undefined : `invalid GitLab URL ${url}: expected https://host`,
    help: 'GitLab instance; the stack parameter GitLabUrl when neither this nor CI_SERVER_URL is set',
  },
  region,
} as const;

export const smokeTestCommand = defineCommand({
  name: 'smoke-test',
  synopsis: 'runner-fleet smoke-test --stack-name NAME [options]',
  flags: smokeTestFlags,
  environment: {
    RUNNER_FLEET_GITLAB_TOKEN: {
      help: 'API token that can read the runner (read_api; Maintainer or Owner)',
      required: 'RUNNER_FLEET_GITLAB_TOKEN is not set: smoke-test reads runner managers with an API token',
    },
    RUNNER_FLEET_RUNNER_TOKEN: {
      help: "the fleet's glrt- runner token, when --runner-id is not given (else the id create-runner recorded is used)",
    },
    RUNNER_FLEET_TRIGGER_TOKEN: {
      help: 'pipeline trigger token for the canary (else the API token creates it)',
    },
  },
  checks: [
    ({ flags, given }) =>
      !flags['canary-ref'] && given.has('canary-project') ? '--canary-project needs --canary-ref' : undefined,
    ({ flags }) =>
      flags['canary-ref'] && !flags['canary-project']
        ? '--canary-ref needs the project of the canary pipeline: pass --canary-project or set CI_PROJECT_ID'
        : undefined,
  ],
  async run({ flags, env, problems }, context) {
    const cloudFormation = cloudFormationClient(regionOption(flags.region));
    problems.push(...(await awsSetupProblems(cloudFormation)));
    const apiToken = env.RUNNER_FLEET_GITLAB_TOKEN;
    if (problems.length > 0 || !apiToken) throw new InputError(problems);

    const canaryRef = flags['canary-ref'];
    const canaryProject = flags['canary-project'];
    const triggerToken = env.RUNNER_FLEET_TRIGGER_TOKEN;
    await smokeTest(
      {
        stackName: flags['stack-name'],
        ...(flags['runner-id'] !== undefined ? { runnerId: flags['runner-id'] } : {}),
        ...(env.RUNNER_FLEET_RUNNER_TOKEN ? { runnerToken: env.RUNNER_FLEET_RUNNER_TOKEN } : {}),
        ...(flags['expected-version'] ? { expectedVersion: flags['expected-version'] } : {}),
        ...(flags['gitlab-url'] ? { gitlabUrl: flags['gitlab-url'] } : {}),
        waitMinutes: flags['wait-minutes'],
        ...(canaryRef && canaryProject
          ? {
              canary: {
                ref: canaryRef,
                project: canaryProject,
                waitMinutes: flags['canary-wait-minutes'],
                ...(triggerToken ? { triggerToken } : {}),
              },
            }
          : {}),
        ...(flags.junit ? { junitFile: flags.junit } : {}),
        ...(flags['token-expiry-days'] !== undefined ? { tokenExpiryDays: flags['token-expiry-days'] } : {}),
      },
      {
        cloudFormation,
        autoScaling: await autoScalingClient(regionOption(flags.region)),
        ec2: await ec2Client(regionOption(flags.region)),
        gitlab: (apiUrl) => createGitLabClient({ apiUrl, token: apiToken }),
        ssm: () => ssmClient(regionOption(flags.region)),
        log: context.log,
        signal: context.signal,
      },
    );
  },
});
