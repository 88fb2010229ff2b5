/**
 * What a component job hands the CLI, and what the CLI does with it: with
 * RUNNER_FLEET_AWS_AUTH=oidc, RUNNER_FLEET_AWS_ROLE_ARN and the GitLab ID
 * token in RUNNER_FLEET_AWS_ID_TOKEN (no AWS keys, no token file), the real
 * CLI process assumes the role with web identity against moto's STS and
 * signs every later call with the role's credentials. A recording proxy in
 * front of moto sees each request (test/iam/recording-proxy.ts). Also: a
 * half-given oidc setting stops at exit 2 before any AWS request, a refused
 * or unanswered assume says which role and why, the token is never printed, and
 * RUNNER_FLEET_RUNNER_TOKEN_VARIABLE names the variable the runner token is
 * read from.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addRunnerRoutes } from '../doubles/gitlab/runners.ts';
import { type GitLabDouble, startGitLabDouble } from '../doubles/gitlab/server.ts';
import { type RecordingProxy, startRecordingProxy } from '../iam/recording-proxy.ts';
import { runCliProcess } from '../support/cli-process.ts';
import { type Emulator, freePort, ROOT, startEmulator } from '../support/emulator.ts';

const miniFleet = join(ROOT, 'test/fixtures/templates/mini-fleet.yaml');
const STACK = 'oidc-fleet';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/runner-fleet-deployer';
// The shape of a GitLab ID token (header.claims.signature); moto's STS does not verify it.
const ID_TOKEN =
  'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwcm9qZWN0X3BhdGg6cGxhdGZvcm0vZmxlZXQ6cmVmX3R5cGU6YnJhbmNoOnJlZjptYWluIn0.b2lkYy10ZXN0LXNpZ25hdHVyZQ';
const RUNNER_TOKEN = 'glrt-oidc-test-named-variable-0123';
const API_TOKEN = 'glpat-oidc-test-token';

describe('aws_auth oidc: the CLI assumes the role with the ID token from the environment', () => {
  let emulator: Emulator;
  let proxy: RecordingProxy;
  let gitlab: GitLabDouble;

  /** The variables a component job with aws_auth oidc has: no AWS keys. */
  const oidcEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    AWS_ENDPOINT_URL: proxy.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    RUNNER_FLEET_AWS_AUTH: 'oidc',
    RUNNER_FLEET_AWS_ROLE_ARN: ROLE_ARN,
    RUNNER_FLEET_AWS_ID_TOKEN: ID_TOKEN,
    CI_PROJECT_ID: '1217',
    CI_JOB_ID: '4242',
    ...extra,
  });
  /** `runner-fleet status` of the fleet, as a job with these variables runs it. */
  const status = (extra: NodeJS.ProcessEnv = {}, flags: string[] = []) =>
    runCliProcess(['status', '--stack-name', STACK, ...flags], oidcEnv(extra), { timeoutMs: 60_000 });

  beforeAll(async () => {
    emulator = await startEmulator('moto');
    proxy = await startRecordingProxy(emulator.endpoint);
    gitlab = await startGitLabDouble({ tokens: [API_TOKEN] });
    addRunnerRoutes(gitlab).addRunner({ id: 42, token: RUNNER_TOKEN });
    // The fleet, deployed with plain keys straight to moto.
    const deployed = await runCliProcess(
      ['deploy', '--stack-name', STACK, '--template-file', miniFleet],
      emulator.env,
    );
    expect(deployed.code, deployed.output).toBe(0);
  });
  afterAll(async () => {
    await gitlab?.close();
    await proxy?.close();
    await emulator?.stop();
  });

  it('assumes the role once and signs every call of every client with its credentials', async () => {
    proxy.take();
    const run = await status();
    expect(run.code, run.output).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^Stack {5}${STACK} {2}CREATE_COMPLETE`, 'm'));
    const requests = proxy.take();
    const assumes = requests.filter((r) => r.operation === 'AssumeRoleWithWebIdentity');
    expect(assumes).toHaveLength(1);
    expect(requests[0]?.operation).toBe('AssumeRoleWithWebIdentity');
    expect(assumes[0]?.params).toMatchObject({
      RoleArn: ROLE_ARN,
      RoleSessionName: 'gitlab-1217-4242',
      WebIdentityToken: ID_TOKEN,
    });
    // AssumeRoleWithWebIdentity is unsigned; everything after it is signed with the role's temporary key.
    expect(assumes[0]?.accessKeyId).toBe('');
    const signed = requests.slice(1);
    expect(new Set(signed.map((r) => r.service))).toEqual(new Set(['cloudformation', 'autoscaling', 'ec2']));
    const keys = new Set(signed.map((r) => r.accessKeyId));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toMatch(/^ASIA/);
    expect(run.output).not.toContain(ID_TOKEN);
  });

  it('takes AWS_ROLE_SESSION_NAME over the job-derived session name', async () => {
    proxy.take();
    const run = await status({ AWS_ROLE_SESSION_NAME: 'fleet-ops' });
    expect(run.code, run.output).toBe(0);
    const assume = proxy.take().find((r) => r.operation === 'AssumeRoleWithWebIdentity');
    expect(assume?.params.RoleSessionName).toBe('fleet-ops');
  });

  it('stops at exit 2 before any AWS request when the role or the ID token is missing, naming both', async () => {
    proxy.take();
    const run = await status({ RUNNER_FLEET_AWS_ROLE_ARN: '', RUNNER_FLEET_AWS_ID_TOKEN: '' });
    expect(run.code, run.output).toBe(2);
    expect(run.stderr).toContain(
      'error: input aws_role_arn (RUNNER_FLEET_AWS_ROLE_ARN) is empty; set it, or set aws_auth: environment',
    );
    expect(run.stderr).toContain('error: no GitLab ID token in RUNNER_FLEET_AWS_ID_TOKEN (aws_auth oidc)');
    expect(proxy.take()).toEqual([]);
  });

  it('refuses a role ARN of the wrong shape and an unknown RUNNER_FLEET_AWS_AUTH at exit 2', async () => {
    proxy.take();
    const badArn = await status({ RUNNER_FLEET_AWS_ROLE_ARN: 'runner-fleet-deployer' });
    expect(badArn.code, badArn.output).toBe(2);
    expect(badArn.stderr).toContain('invalid RUNNER_FLEET_AWS_ROLE_ARN runner-fleet-deployer');
    const badKind = await status({ RUNNER_FLEET_AWS_AUTH: 'keys' });
    expect(badKind.code, badKind.output).toBe(2);
    expect(badKind.stderr).toContain('invalid RUNNER_FLEET_AWS_AUTH keys: expected oidc or environment');
    expect(proxy.take()).toEqual([]);
    expect(badArn.output + badKind.output).not.toContain(ID_TOKEN);
  });

  it('says which role it could not assume when STS gives no credentials, without the token', async () => {
    // Nothing listens on this port: STS never answers.
    const sts = `http://127.0.0.1:${await freePort()}`;
    const run = await status({
      AWS_ENDPOINT_URL_STS: sts,
      AWS_MAX_ATTEMPTS: '1',
      RUNNER_FLEET_AWS_TIMEOUT_SECONDS: '2',
    });
    expect(run.code, run.output).toBe(2);
    expect(run.stderr).toContain(
      `error: could not assume ${ROLE_ARN} with the GitLab ID token: STS did not answer (ECONNREFUSED)`,
    );
    expect(run.output).not.toContain(ID_TOKEN);
  });

  it('names the role and the STS error when STS refuses the token, without the token', async () => {
    // STS's answer to a token whose aud the role does not trust: the error document of the
    // STS API reference (AssumeRoleWithWebIdentity, InvalidIdentityToken, HTTP 400).
    // moto accepts any token, so this one answer comes from a stand-in; the SDK names it InvalidIdentityTokenException.
    // Unlike STS, the stand-in quotes the token: the CLI's masking of known secrets must keep it out.
    const refusing = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(400, { 'content-type': 'text/xml' });
        response.end(
          '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>' +
            `<Code>InvalidIdentityToken</Code><Message>Incorrect token audience in ${ID_TOKEN}</Message></Error>` +
            '<RequestId>0a1b2c3d-0000-4000-8000-000000000000</RequestId></ErrorResponse>',
        );
      });
    });
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = refusing.address() as AddressInfo;
      const run = await status({ AWS_ENDPOINT_URL_STS: `http://127.0.0.1:${port}` });
      expect(run.code, run.output).toBe(2);
      expect(run.stderr).toContain(
        `error: could not assume ${ROLE_ARN} with the GitLab ID token: InvalidIdentityTokenException: Incorrect token audience in `,
      );
      expect(run.stderr).toContain("; the role's trust policy must allow this project and ref (sub)");
      expect(run.output).not.toContain(ID_TOKEN);
    } finally {
      refusing.closeAllConnections();
      await new Promise<void>((resolve) => refusing.close(() => resolve()));
    }
  });

  it('leaves credentials to the environment with aws_auth environment (the ID token unused)', async () => {
    proxy.take();
    const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY } = emulator.env;
    const run = await status({
      RUNNER_FLEET_AWS_AUTH: 'environment',
      AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY,
    });
    expect(run.code, run.output).toBe(0);
    const requests = proxy.take();
    expect(requests.some((r) => r.service === 'sts' || r.operation.startsWith('AssumeRole'))).toBe(false);
    expect(new Set(requests.map((r) => r.accessKeyId))).toEqual(new Set([AWS_ACCESS_KEY_ID]));
  });

  it('reads the runner token from the variable RUNNER_FLEET_RUNNER_TOKEN_VARIABLE names, never printing it', async () => {
    const run = await status(
      {
        RUNNER_FLEET_RUNNER_TOKEN_VARIABLE: 'FLEET_RUNNER_TOKEN',
        FLEET_RUNNER_TOKEN: RUNNER_TOKEN,
        RUNNER_FLEET_GITLAB_TOKEN: API_TOKEN,
      },
      ['--gitlab-url', gitlab.url],
    );
    expect(run.code, run.output).toBe(0);
    // The runner was found from the token: POST /runners/verify carried it.
    expect(gitlab.requests.some((r) => r.path.endsWith('/runners/verify'))).toBe(true);
    expect(run.stdout).not.toContain('runner managers not shown');
    expect(run.output).not.toContain(RUNNER_TOKEN);
    expect(run.output).not.toContain(ID_TOKEN);
  });
});
