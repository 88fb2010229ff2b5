/**
 * The environment a component job hands the CLI: RUNNER_FLEET_AWS_AUTH and
 * its role and token (aws/clients.ts), and the runner token read from the
 * variable RUNNER_FLEET_RUNNER_TOKEN_VARIABLE names. test/integration/aws-oidc.test.ts
 * runs the same settings through the real CLI against moto's STS.
 */
import { describe, expect, it } from 'vitest';
import { awsAuthFromEnv } from '../../scripts/aws/clients.ts';
import { adoptNamedRunnerToken, namedRunnerToken } from '../../scripts/config/runner-token-variable.ts';

const ROLE = 'arn:aws:iam::123456789012:role/runner-fleet-deployer';
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl';

describe('awsAuthFromEnv', () => {
  it.each([
    {},
    { RUNNER_FLEET_AWS_AUTH: '' },
    { RUNNER_FLEET_AWS_AUTH: 'environment', RUNNER_FLEET_AWS_ROLE_ARN: ROLE },
  ])('leaves credentials to the SDK chain for %o', (env) => {
    const problems: string[] = [];
    expect(awsAuthFromEnv(env, problems)).toEqual({ kind: 'environment' });
    expect(problems).toEqual([]);
  });

  it('assumes the role with the token, the session named after the job', () => {
    const problems: string[] = [];
    const env = {
      RUNNER_FLEET_AWS_AUTH: 'oidc',
      RUNNER_FLEET_AWS_ROLE_ARN: ROLE,
      RUNNER_FLEET_AWS_ID_TOKEN: TOKEN,
      CI_PROJECT_ID: '12',
      CI_JOB_ID: '34',
    };
    expect(awsAuthFromEnv(env, problems)).toEqual({
      kind: 'oidc',
      roleArn: ROLE,
      idToken: TOKEN,
      sessionName: 'gitlab-12-34',
    });
    expect(problems).toEqual([]);
    expect(awsAuthFromEnv({ ...env, CI_JOB_ID: '' })).toMatchObject({ sessionName: 'gitlab-12-0' });
    expect(awsAuthFromEnv({ ...env, AWS_ROLE_SESSION_NAME: 'ops' })).toMatchObject({ sessionName: 'ops' });
  });

  it('reports a missing role and a missing token together, quoting no token', () => {
    const problems: string[] = [];
    awsAuthFromEnv({ RUNNER_FLEET_AWS_AUTH: 'oidc', RUNNER_FLEET_AWS_ROLE_ARN: ' ' }, problems);
    expect(problems).toEqual([
      'input aws_role_arn (RUNNER_FLEET_AWS_ROLE_ARN) is empty; set it, or set aws_auth: environment',
      expect.stringMatching(/^no GitLab ID token in RUNNER_FLEET_AWS_ID_TOKEN \(aws_auth oidc\)/),
    ]);
  });

  it('refuses a role ARN of another shape and an unknown kind', () => {
    const problems: string[] = [];
    awsAuthFromEnv(
      {
        RUNNER_FLEET_AWS_AUTH: 'oidc',
        RUNNER_FLEET_AWS_ROLE_ARN: '$FLEET_ROLE_ARN',
        RUNNER_FLEET_AWS_ID_TOKEN: TOKEN,
      },
      problems,
    );
    awsAuthFromEnv({ RUNNER_FLEET_AWS_AUTH: 'OIDC' }, problems);
    expect(problems).toEqual([
      expect.stringMatching(/^invalid RUNNER_FLEET_AWS_ROLE_ARN \$FLEET_ROLE_ARN: expected an IAM role ARN/),
      'invalid RUNNER_FLEET_AWS_AUTH OIDC: expected oidc or environment',
    ]);
    expect(problems.join('\n')).not.toContain(TOKEN);
  });
});

describe('RUNNER_FLEET_RUNNER_TOKEN_VARIABLE', () => {
  it('takes the named variable over RUNNER_FLEET_RUNNER_TOKEN', () => {
    const env: NodeJS.ProcessEnv = {
      RUNNER_FLEET_RUNNER_TOKEN_VARIABLE: 'FLEET_TOKEN',
      FLEET_TOKEN: 'glrt-named',
      RUNNER_FLEET_RUNNER_TOKEN: 'glrt-default',
    };
    adoptNamedRunnerToken(env);
    expect(env.RUNNER_FLEET_RUNNER_TOKEN).toBe('glrt-named');
  });

  it.each([
    { RUNNER_FLEET_RUNNER_TOKEN_VARIABLE: 'FLEET_TOKEN', FLEET_TOKEN: '' },
    { RUNNER_FLEET_RUNNER_TOKEN_VARIABLE: 'FLEET_TOKEN' },
    { RUNNER_FLEET_RUNNER_TOKEN_VARIABLE: 'RUNNER_FLEET_RUNNER_TOKEN' },
    { RUNNER_FLEET_RUNNER_TOKEN_VARIABLE: '' },
  ])('leaves RUNNER_FLEET_RUNNER_TOKEN as it is for %o', (names) => {
    const env: NodeJS.ProcessEnv = { ...names, RUNNER_FLEET_RUNNER_TOKEN: 'glrt-default' };
    expect(namedRunnerToken(env)).toBeUndefined();
    adoptNamedRunnerToken(env);
    expect(env.RUNNER_FLEET_RUNNER_TOKEN).toBe('glrt-default');
  });
});
