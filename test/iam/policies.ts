/**
 * The policies that ship, rendered from cfn/deployer-role.yaml and
 * cfn/runner-fleet.yaml with concrete example values (one account, one
 * region, a fleet stack under the default prefix), so an IAM engine can
 * evaluate them against real-looking requests.
 */
// biome-ignore-all lint/suspicious/noExplicitAny: rendered policy JSON is walked as data.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { loadTemplate } from '../cfn/cfn-yaml.ts';
import { ROOT } from '../support/emulator.ts';
import { ACCOUNT, arn, REGION } from './iam-calls.ts';
import { TemplateRenderer } from './render.ts';

export type PolicyDocument = { Version: string; Statement: Record<string, any>[] };

export interface Principal {
  name: string;
  arn: string;
  policies: { name: string; policy: PolicyDocument }[];
  boundary?: PolicyDocument;
}

export const EXAMPLE = {
  deployerStack: 'runner-fleet-deployer',
  prefix: 'runners-',
  tokenPrefix: '/runner-fleet/',
  fleetStack: 'runners-prod',
  tokenParameter: '/runner-fleet/prod/token',
  boundaryArn: arn.policy('runner-fleet-deployer-InstanceRoleBoundary-EXAMPLE'),
  instanceRoleName: 'runners-prod-InstanceRole-EXAMPLE',
  instanceProfileName: 'runners-prod-InstanceProfile-EXAMPLE',
  cacheBucket: 'runners-prod-cachebucket-example',
  logGroup: '/runner-fleet/runners-prod',
  launchTemplateId: 'lt-0123456789abcdef0',
  securityGroupId: 'sg-0123456789abcdef0',
  bundleBucket: 'runners-artifacts',
};

/** Site values every preset leaves to the user (as tools/checks/20-cfn-lint.sh uses them). */
export const SITE = {
  VpcId: 'vpc-0123456789abcdef0',
  SubnetIds: 'subnet-0123456789abcdef0,subnet-0123456789abcdef1',
  RunnerTokenParameterName: EXAMPLE.tokenParameter,
  RunnerConfigBundleUrl: `s3://${EXAMPLE.bundleBucket}/v1/runner-configs-linux.tar.gz`,
  RunnerConfigBundleSha256: '0'.repeat(64),
  InstanceRolePermissionsBoundaryArn: EXAMPLE.boundaryArn,
};

export function deployerRenderer(parameters: Record<string, string> = {}): TemplateRenderer {
  return new TemplateRenderer(loadTemplate(join(ROOT, 'cfn/deployer-role.yaml')), {
    parameters: { ProjectPath: 'platform/runner-fleet', ...parameters },
    accountId: ACCOUNT,
    region: REGION,
    stackName: EXAMPLE.deployerStack,
    refs: {
      OidcProvider: `arn:aws:iam::${ACCOUNT}:oidc-provider/gitlab.com`,
      InstanceRoleBoundary: EXAMPLE.boundaryArn,
      DeployerRole: 'runner-fleet-deployer-DeployerRole-EXAMPLE',
      PreviewRole: 'runner-fleet-deployer-PreviewRole-EXAMPLE',
    },
    attributes: {
      'DeployerRole.Arn': arn.role('runner-fleet-deployer-DeployerRole-EXAMPLE'),
      'PreviewRole.Arn': arn.role('runner-fleet-deployer-PreviewRole-EXAMPLE'),
    },
  });
}

export function presetValues(preset: string): Record<string, string> {
  const values = load(readFileSync(join(ROOT, 'cfn/presets', preset), 'utf8')) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, String(value)]));
}

export function fleetRenderer(parameters: Record<string, string>): TemplateRenderer {
  return new TemplateRenderer(loadTemplate(join(ROOT, 'cfn/runner-fleet.yaml')), {
    parameters: { ...SITE, ...parameters },
    accountId: ACCOUNT,
    region: REGION,
    stackName: EXAMPLE.fleetStack,
    refs: {
      InstanceRole: EXAMPLE.instanceRoleName,
      InstanceProfile: EXAMPLE.instanceProfileName,
      CacheBucket: EXAMPLE.cacheBucket,
      LogGroup: EXAMPLE.logGroup,
      LaunchTemplate: EXAMPLE.launchTemplateId,
      SecurityGroup: EXAMPLE.securityGroupId,
      AutoScalingGroup: `${EXAMPLE.fleetStack}-runners`,
    },
    attributes: {
      'InstanceRole.Arn': arn.role(EXAMPLE.instanceRoleName),
      'InstanceProfile.Arn': arn.instanceProfile(EXAMPLE.instanceProfileName),
      'CacheBucket.Arn': arn.bucket(EXAMPLE.cacheBucket),
      'LogGroup.Arn': `${arn.logGroup(EXAMPLE.logGroup)}:*`,
      'LaunchTemplate.LatestVersionNumber': '1',
    },
  });
}

function inlinePolicy(renderer: TemplateRenderer, logical: string): PolicyDocument {
  const role = renderer.template.Resources[logical]?.Properties as any;
  return renderer.render(role.Policies[0].PolicyDocument) as PolicyDocument;
}

export function deployerPrincipals(parameters: Record<string, string> = {}): {
  deploy: Principal;
  preview: Principal;
  boundary: PolicyDocument;
  renderer: TemplateRenderer;
} {
  const renderer = deployerRenderer(parameters);
  const resources = renderer.template.Resources as any;
  const boundary = renderer.render(
    resources.InstanceRoleBoundary.Properties.PolicyDocument,
  ) as PolicyDocument;
  return {
    deploy: {
      name: 'deploy role',
      arn: arn.role('runner-fleet-deployer-DeployerRole-EXAMPLE'),
      policies: [{ name: 'runner-fleet-deployer', policy: inlinePolicy(renderer, 'DeployerRole') }],
    },
    preview: {
      name: 'preview role',
      arn: arn.role('runner-fleet-deployer-PreviewRole-EXAMPLE'),
      policies: [{ name: 'runner-fleet-preview', policy: inlinePolicy(renderer, 'PreviewRole') }],
    },
    boundary,
    renderer,
  };
}

/** The instance role of a fleet: its stack policy, under the deployer's boundary. */
export function instancePrincipal(parameters: Record<string, string>): {
  principal: Principal;
  cacheBucketPolicy: PolicyDocument | undefined;
  renderer: TemplateRenderer;
} {
  const renderer = fleetRenderer(parameters);
  const resources = renderer.template.Resources as any;
  const policy = renderer.render(resources.InstancePolicy.Properties.PolicyDocument) as PolicyDocument;
  // docker-autoscaler: the manager's fleeting policy on the same role.
  const fleeting = renderer.exists(resources.ManagerFleetingPolicy)
    ? [
        {
          name: `runner-fleet-${EXAMPLE.fleetStack}-fleeting`,
          policy: renderer.render(
            resources.ManagerFleetingPolicy.Properties.PolicyDocument,
          ) as PolicyDocument,
        },
      ]
    : [];
  const role = renderer.render(resources.InstanceRole.Properties) as Record<string, unknown>;
  if (role.PermissionsBoundary !== EXAMPLE.boundaryArn) {
    throw new Error(`instance role boundary is ${String(role.PermissionsBoundary)}, not the deployer's`);
  }
  const bucketPolicy = renderer.exists(resources.CacheBucketPolicy)
    ? (renderer.render(resources.CacheBucketPolicy.Properties.PolicyDocument) as PolicyDocument)
    : undefined;
  return {
    principal: {
      name: 'instance role',
      arn: arn.role(EXAMPLE.instanceRoleName),
      policies: [{ name: `runner-fleet-${EXAMPLE.fleetStack}`, policy }, ...fleeting],
      boundary: deployerPrincipals().boundary,
    },
    cacheBucketPolicy: bucketPolicy,
    renderer,
  };
}
