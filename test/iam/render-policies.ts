/**
 * Writes every IAM policy the templates ship, rendered with the example
 * values of policies.ts, as one JSON file each into the directory given:
 * the deploy and preview roles (policy and trust), the instance role
 * boundary, and for each preset in cfn/presets/ the instance policy (plus a
 * Secrets Manager token and an https bundle variant) and the cache bucket
 * policy. tools/checks/22-parliament.sh lints them.
 *   tsx test/iam/render-policies.ts OUT_DIR
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../support/emulator.ts';
import { EXAMPLE_SECRET } from './instance-calls.ts';
import { deployerPrincipals, instancePrincipal, presetValues } from './policies.ts';

const out = process.argv[2];
if (!out) {
  console.error('usage: render-policies.ts OUT_DIR');
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const write = (name: string, policy: unknown) =>
  writeFileSync(join(out, `${name}.json`), `${JSON.stringify(policy, null, 2)}\n`);

const roles = deployerPrincipals();
const resources = roles.renderer.template.Resources;
write('deployer-role.DeployerRole.policy', roles.deploy.policies[0]?.policy);
write('deployer-role.PreviewRole.policy', roles.preview.policies[0]?.policy);
write('deployer-role.InstanceRoleBoundary', roles.boundary);
for (const logical of ['DeployerRole', 'PreviewRole']) {
  const trust = roles.renderer.render(resources[logical]?.Properties?.AssumeRolePolicyDocument);
  write(`deployer-role.${logical}.trust`, JSON.parse(String(trust)));
}
const withKmsKey = deployerPrincipals({
  TokenKmsKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-2222-4000-8000-000000000000',
  ExtraInstanceBucketPattern: 'company-runner-bundles',
});
write('deployer-role.DeployerRole.policy.kms-key', withKmsKey.deploy.policies[0]?.policy);
write('deployer-role.InstanceRoleBoundary.extra-bucket', withKmsKey.boundary);

for (const preset of readdirSync(join(ROOT, 'cfn/presets'))
  .filter((f) => f.endsWith('.yaml'))
  .sort()) {
  const name = preset.replace(/\.yaml$/, '');
  const values = presetValues(preset);
  const fleet = instancePrincipal(values);
  write(`runner-fleet.${name}.InstancePolicy`, fleet.principal.policies[0]?.policy);
  // docker-autoscaler presets: the manager's ManagerFleetingPolicy on the same role.
  const fleeting = fleet.principal.policies[1]?.policy;
  if (fleeting) write(`runner-fleet.${name}.ManagerFleetingPolicy`, fleeting);
  if (fleet.cacheBucketPolicy) write(`runner-fleet.${name}.CacheBucketPolicy`, fleet.cacheBucketPolicy);
  const secretAndHttps = instancePrincipal({
    ...values,
    RunnerTokenParameterName: '',
    RunnerTokenSecretName: EXAMPLE_SECRET,
    RunnerConfigBundleUrl: 'https://example.com/runner-configs-linux.tar.gz',
    CacheBucketMode: 'existing',
    ExistingCacheBucketName: 'runners-shared-cache',
  });
  write(
    `runner-fleet.${name}.InstancePolicy.secret-https-existing-bucket`,
    secretAndHttps.principal.policies[0]?.policy,
  );
}
