/**
 * cfn/deployer-role.yaml deploys through the real `runner-fleet deploy` on
 * both emulators: both roles, the boundary and the OIDC provider are created
 * and the outputs (both role ARNs) are there. Emulator notes: moto keeps no
 * Outputs after executing a CREATE change set (FACTS.md) and accepts the OIDC
 * provider without creating it (it lists it without a logical id), so on moto
 * the roles are read from its IAM API; ministack has no AWS::IAM::OIDCProvider, so there the
 * template reuses a provider (ExistingOidcProviderArn, as an account that has
 * one does) and keeps the outputs.
 */
import {
  CloudFormationClient,
  DescribeStacksCommand,
  paginateListStackResources,
} from '@aws-sdk/client-cloudformation';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliProcess } from '../support/cli-process.ts';
import { type Emulator, type EmulatorName, ROOT, startEmulator } from '../support/emulator.ts';

describe.each<EmulatorName>(['ministack', 'moto'])('deployer-role.yaml on %s', (name) => {
  let emulator: Emulator;
  beforeAll(async () => {
    emulator = await startEmulator(name);
  });
  afterAll(async () => emulator?.stop());

  it('creates the deploy role, the preview role, the boundary and the provider', async () => {
    const result = await runCliProcess(
      [
        'deploy',
        '--stack-name',
        'runner-fleet-deployer',
        '--template-file',
        `${ROOT}/cfn/deployer-role.yaml`,
        '--parameter',
        'ProjectPath=platform/runner-fleet',
        ...(name === 'ministack' ? ['--parameter', `ExistingOidcProviderArn=${EXISTING_PROVIDER}`] : []),
      ],
      emulator.env,
    );
    expect(result.code, result.output.slice(-2500)).toBe(0);
    const cfn = new CloudFormationClient({
      endpoint: emulator.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    const resources = new Map<string, string>();
    for await (const page of paginateListStackResources(
      { client: cfn },
      { StackName: 'runner-fleet-deployer' },
    )) {
      for (const r of page.StackResourceSummaries ?? []) {
        expect(r.ResourceStatus, r.LogicalResourceId).toBe('CREATE_COMPLETE');
        // moto lists the OIDC provider without a logical id; its IAM API is checked below.
        if (r.LogicalResourceId) resources.set(r.LogicalResourceId, r.ResourceType ?? '');
      }
    }
    expect(Object.fromEntries(resources)).toEqual({
      DeployerRole: 'AWS::IAM::Role',
      PreviewRole: 'AWS::IAM::Role',
      InstanceRoleBoundary: 'AWS::IAM::ManagedPolicy',
    });
    const stack = (await cfn.send(new DescribeStacksCommand({ StackName: 'runner-fleet-deployer' })))
      .Stacks?.[0];
    cfn.destroy();
    expect(stack?.StackStatus).toBe('CREATE_COMPLETE');
    const outputs = Object.fromEntries((stack?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
    if (name === 'ministack') {
      expect(outputs.RoleArn).toMatch(/^arn:aws:iam::\d{12}:role\/\S+$/);
      expect(outputs.PreviewRoleArn).toMatch(/^arn:aws:iam::\d{12}:role\/\S+$/);
      expect(outputs.PreviewRoleArn).not.toBe(outputs.RoleArn);
      expect(outputs.InstanceRoleBoundaryArn).toMatch(/^arn:aws:iam::\d{12}:policy\/\S+$/);
      expect(outputs.OidcProviderArn).toBe(EXISTING_PROVIDER);
    } else {
      expect(outputs).toEqual({});
      const roles = await iamQuery(emulator.endpoint, 'ListRoles');
      expect(roles).toMatch(/<RoleName>runner-fleet-deployer-DeployerRole-[^<]+<\/RoleName>/);
      expect(roles).toMatch(/<RoleName>runner-fleet-deployer-PreviewRole-[^<]+<\/RoleName>/);
      expect(roles).toContain('ref_type:branch:ref:*');
      // moto accepts AWS::IAM::OIDCProvider in a template but creates no provider (its IAM lists none).
      expect(await iamQuery(emulator.endpoint, 'ListOpenIDConnectProviders')).toContain(
        '<OpenIDConnectProviderList/>',
      );
    }
  });
});

const EXISTING_PROVIDER = 'arn:aws:iam::000000000000:oidc-provider/gitlab.com';

/** A raw IAM query call (the project has no IAM client): moto routes it by the credential scope. */
async function iamQuery(endpoint: string, action: string): Promise<string> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization:
        'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: `Action=${action}&Version=2010-05-08`,
  });
  expect(response.status, action).toBe(200);
  return response.text();
}
