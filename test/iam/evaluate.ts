/**
 * Evaluates one IAM call for one principal with @cloud-copilot/iam-simulate:
 * identity policies, the permissions boundary and a resource policy, same
 * account, no SCPs. A request the simulator cannot validate (unknown action,
 * a resource ARN of the wrong type for the action, a malformed policy) throws,
 * and so does a context key it would ignore, so a wrong mapping fails the
 * test instead of passing as "denied".
 *
 * One known gap of the simulator (0.1.173): it matches variable context keys
 * only when the variable follows a slash (aws:RequestTag/<key>), so it drops
 * kms:EncryptionContext:<key>. Those calls are evaluated again with its
 * unvalidated engine, which takes the context as given; the request itself
 * was validated by the first run.
 *
 * Another (0.1.173): it looks a condition key up by the action's service
 * prefix, so ec2:osuser, which the Service Authorization Reference lists
 * under ec2-instance-connect (SendSSHPublicKey), is "not found". The request
 * is validated without that key and evaluated by the unvalidated engine
 * with it.
 *
 * The same engine evaluates public SSM parameters (/aws/service/...), whose
 * ARNs have no account, which the validating engine's ARN patterns require.
 *
 * KMS authorizes only what the key policy allows: kms calls are evaluated
 * under a customer managed key's default key policy, which delegates to IAM
 * (the account root principal), so the identity policy and boundary decide.
 */
import { runSimulation, runUnsafeSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { ACCOUNT, type IamCall } from './iam-calls.ts';
import type { PolicyDocument, Principal } from './policies.ts';

export type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

const COLON_VARIABLE_KEY = /^kms:EncryptionContext:/i;
const OTHER_SERVICE_KEY = /^ec2:osuser$/i;
const PUBLIC_PARAMETER = /^arn:aws:ssm:[a-z0-9-]+::parameter\/aws\/service\//;

const DEFAULT_KEY_POLICY: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'Enable IAM User Permissions',
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
      Action: 'kms:*',
      Resource: '*',
    },
  ],
};

export async function evaluate(
  principal: Principal,
  call: IamCall,
  givenResourcePolicy?: PolicyDocument,
): Promise<Decision> {
  const resourcePolicy =
    givenResourcePolicy ?? (call.action.startsWith('kms:') ? DEFAULT_KEY_POLICY : undefined);
  const simulation: Simulation = {
    request: {
      principal: principal.arn,
      action: call.action,
      resource: { resource: call.resource, accountId: ACCOUNT },
      contextVariables: call.context,
    },
    identityPolicies: principal.policies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(principal.boundary
      ? { permissionBoundaryPolicies: [{ name: 'boundary', policy: principal.boundary }] }
      : {}),
    ...(resourcePolicy ? { resourcePolicy } : {}),
  };
  const where = `${call.action} on ${call.resource} (${call.source})`;
  if (PUBLIC_PARAMETER.test(call.resource)) return unvalidated(simulation, resourcePolicy);
  const otherServiceKeys = Object.keys(call.context).filter((key) => OTHER_SERVICE_KEY.test(key));
  const validatable = otherServiceKeys.length
    ? {
        ...simulation,
        request: {
          ...simulation.request,
          contextVariables: Object.fromEntries(
            Object.entries(call.context).filter(([key]) => !OTHER_SERVICE_KEY.test(key)),
          ),
        },
      }
    : simulation;
  const result = await runSimulation(validatable, {});
  if (result.resultType === 'error') {
    throw new Error(`cannot simulate ${where}: ${JSON.stringify(result.errors)}`);
  }
  // A '*' resource of an action that also has resource types is evaluated per type ("wildcard").
  const ignored =
    result.resultType === 'single'
      ? (result.result.ignoredContextKeys ?? [])
      : [...new Set(result.results.flatMap((r) => r.ignoredContextKeys ?? []))];
  if (ignored.length === 0) {
    return otherServiceKeys.length
      ? unvalidated(simulation, resourcePolicy)
      : (result.overallResult as Decision);
  }
  if (ignored.every((key) => COLON_VARIABLE_KEY.test(key))) return unvalidated(simulation, resourcePolicy);
  throw new Error(`the simulator ignores context keys ${ignored.join(', ')} of ${where}`);
}

function unvalidated(simulation: Simulation, resourcePolicy: PolicyDocument | undefined): Decision {
  // Pre-validated form: the unvalidated engine loads a plain resource policy without the name it reads later.
  const prevalidated = resourcePolicy
    ? {
        resourcePolicy: {
          __validated: true,
          policyDocument: resourcePolicy,
          metadata: { name: 'resource policy' },
          errors: [],
        },
      }
    : {};
  return runUnsafeSimulation({ ...simulation, ...prevalidated }, {}) as Decision;
}
