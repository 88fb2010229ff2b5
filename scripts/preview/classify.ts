/**
 * What a change set means for the fleet: every resource and parameter change
 * classified by its effect on the running instances, with values from NoEcho
 * parameters and secret-looking values masked. Pure: takes what
 * CloudFormation returned (changes, parameters) and what the template
 * declares, returns the report model that gate.ts judges and
 * render/change-set-report.ts turns into Markdown. Nothing here calls AWS or
 * prints.
 */
import type { Change, Parameter, ResourceChange, ResourceChangeDetail } from '@aws-sdk/client-cloudformation';
import type { ResolvedParameter } from '../config/stack-parameters.ts';
import type { TemplateParameter } from '../config/template.ts';
import type { ResourceRef } from '../config/template-references.ts';
import { isSecret, looksLikeSecretValue } from '../secrets.ts';

/** The effect of one change on the fleet. */
export type Effect =
  | 'replaces-asg'
  | 'removes-asg'
  | 'rolls-every-runner'
  | 'changes-workers'
  | 'permissions'
  | 'token-reference'
  | 'network'
  | 'none';

/** From the most to the least disruptive: lists and summaries follow this order. */
export const EFFECT_ORDER: readonly Effect[] = [
  'replaces-asg',
  'removes-asg',
  'rolls-every-runner',
  'changes-workers',
  'permissions',
  'token-reference',
  'network',
  'none',
];

/**
 * Parameters that say where the instances find the runner token (see
 * cfn/runner-fleet.yaml). A change to any of them, or to a resource because
 * of one, is called out: the wrong name leaves every new instance unregistered.
 */
export const TOKEN_REFERENCE_PARAMETERS: ReadonlySet<string> = new Set([
  'RunnerTokenParameterName',
  'RunnerTokenSecretName',
  'RunnerTokenKmsKeyArn',
  'RunnerTokenKind',
]);

const AUTO_SCALING_GROUP = 'AWS::AutoScaling::AutoScalingGroup';
const LAUNCH_TEMPLATE = 'AWS::EC2::LaunchTemplate';
/**
 * The launch template of the docker-autoscaler workers (cfn/runner-fleet.yaml):
 * a new version reaches only workers launched afterwards, which the manager
 * replaces job by job; no runner is rolled.
 */
const WORKER_LAUNCH_TEMPLATES: ReadonlySet<string> = new Set(['WorkerLaunchTemplate']);
/** Resource types whose change grants or removes permissions (IAM, resource policies). */
const PERMISSION_TYPES = new Set([
  'AWS::S3::BucketPolicy',
  'AWS::KMS::Key',
  'AWS::SQS::QueuePolicy',
  'AWS::SNS::TopicPolicy',
  'AWS::SecretsManager::ResourcePolicy',
  'AWS::Lambda::Permission',
]);
const NETWORK_TYPES = new Set([
  'AWS::EC2::SecurityGroup',
  'AWS::EC2::SecurityGroupIngress',
  'AWS::EC2::SecurityGroupEgress',
]);

/** What a masked value shows instead; also what CloudFormation returns for a NoEcho parameter. */
export const HIDDEN = '****';

export interface PropertyChange {
  /** Property path without the leading /Properties, e.g. LaunchTemplateData/ImageId. */
  path: string;
  changeType: string;
  requiresRecreation: string;
  /** What caused it: `parameter X`, `resource X`, `X.Attr`, `template`. */
  causes: string[];
  /** Undefined when CloudFormation cannot know it before the update (dynamic evaluation). */
  before: string | undefined;
  after: string | undefined;
}

export interface ClassifiedResourceChange {
  logicalId: string;
  type: string;
  action: string;
  /** True, Conditional or False for Modify; undefined for Add and Remove. */
  replacement: string | undefined;
  policyAction: string | undefined;
  effects: Effect[];
  properties: PropertyChange[];
}

export interface ParameterChange {
  key: string;
  before: string;
  after: string;
  effects: Effect[];
  /** Resources that use the parameter, directly or through a condition. */
  usedBy: string[];
}

export interface ChangeCounts {
  add: number;
  modify: number;
  remove: number;
  /** Modifications with Replacement True (also counted in modify). */
  replace: number;
  /** Modifications with Replacement Conditional (also counted in modify). */
  conditional: number;
}

export interface PreviewReport {
  stackName: string;
  changeSetType: 'CREATE' | 'UPDATE';
  templatePath: string;
  changeSetName: string;
  changeSetKept: boolean;
  resources: ClassifiedResourceChange[];
  parameters: ParameterChange[];
  counts: ChangeCounts;
  /** Every effect of the change, most disruptive first; ['none'] when nothing else applies. */
  effects: Effect[];
}

export interface PreviewReportInput {
  stackName: string;
  changeSetType: 'CREATE' | 'UPDATE';
  templatePath: string;
  changeSetName: string;
  changeSetKept: boolean;
  changes: readonly Change[];
  /** The stack's parameters before (DescribeStacks); SSM-typed ones carry ResolvedValue. */
  stackParameters: readonly Parameter[];
  /** The change set's parameters (DescribeChangeSet); SSM-typed ones carry ResolvedValue. */
  changeSetParameters: readonly Parameter[];
  declared: ReadonlyMap<string, TemplateParameter>;
  resolved: readonly ResolvedParameter[];
  /** Parameter name to the resources (logical id and type) that use it, from parameterUsers(). */
  parameterUsers: ReadonlyMap<string, readonly ResourceRef[]>;
}
export function buildPreviewReport(input: PreviewReportInput): PreviewReport {
  const secrets = secretMatcher(input);
  const resources = input.changes
    .map((change) => change.ResourceChange)
    .filter((change): change is ResourceChange => change !== undefined)
    .map((change) => classifyResourceChange(change, input.changeSetType, secrets));
  const parameters = input.changeSetType === 'UPDATE' ? parameterChanges(input) : [];
  const counts = countChanges(resources);
  const effects = orderEffects([...resources, ...parameters].flatMap((item) => item.effects));
  const meaningful = effects.filter((effect) => effect !== 'none');
  return {
    stackName: input.stackName,
    changeSetType: input.changeSetType,
    templatePath: input.templatePath,
    changeSetName: input.changeSetName,
    changeSetKept: input.changeSetKept,
    resources,
    parameters,
    counts,
    effects: meaningful.length > 0 ? meaningful : ['none'],
  };
}

interface SecretMatcher {
  noEchoParameters: ReadonlySet<string>;
  isSecret(value: string): boolean;
}

function secretMatcher(input: PreviewReportInput): SecretMatcher {
  const noEchoParameters = new Set([...input.declared.values()].filter((p) => p.noEcho).map((p) => p.name));
  // Values given for NoEcho parameters in this run, and what some endpoints echo back for them.
  const values = [
    ...input.resolved.filter((p) => p.noEcho && p.value).map((p) => p.value ?? ''),
    ...[...input.changeSetParameters, ...input.stackParameters]
      .filter(
        (p) => noEchoParameters.has(p.ParameterKey ?? '') && p.ParameterValue && p.ParameterValue !== HIDDEN,
      )
      .map((p) => p.ParameterValue ?? ''),
  ].filter((value) => value.length > 0);
  return {
    noEchoParameters,
    isSecret: (value) => looksLikeSecretValue(value) || values.some((secret) => value.includes(secret)),
  };
}

export function classifyResourceChange(
  change: ResourceChange,
  changeSetType: 'CREATE' | 'UPDATE',
  secrets: SecretMatcher = { noEchoParameters: new Set(), isSecret: looksLikeSecretValue },
): ClassifiedResourceChange {
  const action = change.Action ?? 'Unknown';
  const type = change.ResourceType ?? '';
  const replacement = action === 'Modify' ? (change.Replacement ?? 'False') : undefined;
  const details = change.Details ?? [];
  const effects: Effect[] = [];
  if (type === AUTO_SCALING_GROUP) {
    if (action === 'Remove') effects.push('removes-asg');
    if (replacement === 'True' || replacement === 'Conditional') effects.push('replaces-asg');
  }
  if (type === LAUNCH_TEMPLATE && changeSetType === 'UPDATE' && (action === 'Modify' || action === 'Add')) {
    effects.push(launchTemplateEffect(change.LogicalResourceId ?? ''));
  }
  effects.push(...effectsOfType(type));
  if (
    details.some(
      (detail) =>
        detail.ChangeSource === 'ParameterReference' &&
        TOKEN_REFERENCE_PARAMETERS.has(detail.CausingEntity ?? ''),
    )
  ) {
    effects.push('token-reference');
  }
  return {
    logicalId: change.LogicalResourceId ?? '?',
    type,
    action,
    replacement,
    policyAction: change.PolicyAction,
    effects: effects.length > 0 ? orderEffects(effects) : ['none'],
    properties: propertyChanges(details, secrets),
  };
}

/**
 * One row per changed property. CloudFormation often lists a property twice:
 * once Dynamic (the value depends on something resolved at update time) and
 * once Static with its cause; the rows are merged so each property shows once.
 */
function propertyChanges(details: readonly ResourceChangeDetail[], secrets: SecretMatcher): PropertyChange[] {
  const byPath = new Map<string, PropertyChange>();
  for (const detail of details) {
    const target = detail.Target ?? {};
    const path = propertyPath(target.Attribute, target.Name, target.Path);
    const hidden =
      detail.ChangeSource === 'ParameterReference' &&
      secrets.noEchoParameters.has(detail.CausingEntity ?? '');
    const safe = (value: string | undefined) =>
      value === undefined ? undefined : hidden || secrets.isSecret(value) ? HIDDEN : value;
    const row = byPath.get(path) ?? {
      path,
      changeType: target.AttributeChangeType ?? 'Modify',
      requiresRecreation: target.RequiresRecreation ?? '',
      causes: [],
      before: undefined,
      after: undefined,
    };
    const cause = describeCause(detail);
    if (cause && !row.causes.includes(cause)) row.causes.push(cause);
    if (rank(target.RequiresRecreation) > rank(row.requiresRecreation)) {
      row.requiresRecreation = target.RequiresRecreation ?? row.requiresRecreation;
    }
    // A value shown for a NoEcho cause stays hidden even if another detail repeats it.
    if (hidden) {
      row.before = row.before === undefined && target.BeforeValue === undefined ? undefined : HIDDEN;
      row.after = row.after === undefined && target.AfterValue === undefined ? undefined : HIDDEN;
    } else {
      row.before = row.before === HIDDEN ? HIDDEN : (row.before ?? safe(target.BeforeValue));
      row.after = row.after === HIDDEN ? HIDDEN : (row.after ?? safe(target.AfterValue));
    }
    byPath.set(path, row);
  }
  return [...byPath.values()];
}

function propertyPath(
  attribute: string | undefined,
  name: string | undefined,
  path: string | undefined,
): string {
  if (path) return path.replace(/^\/Properties\//, '').replace(/^\//, '');
  if (attribute && attribute !== 'Properties') return attribute;
  return name ?? attribute ?? '?';
}

function rank(recreation: string | undefined): number {
  return recreation === 'Always' ? 3 : recreation === 'Conditionally' ? 2 : recreation === 'Never' ? 1 : 0;
}

function describeCause(detail: ResourceChangeDetail): string | undefined {
  const entity = detail.CausingEntity;
  switch (detail.ChangeSource) {
    case 'ParameterReference':
      return entity ? `parameter ${entity}` : 'a parameter';
    case 'ResourceReference':
      return entity ? `resource ${entity}` : 'a resource';
    case 'ResourceAttribute':
      return entity ?? 'a resource attribute';
    case 'DirectModification':
      // The Dynamic twin of a change whose Static row names the real cause.
      return detail.Evaluation === 'Dynamic' ? undefined : 'template';
    case 'Automatic':
      return 'nested stack update';
    default:
      return entity;
  }
}

/**
 * Parameters whose value changes. SSM-typed parameters are compared by the
 * value they resolve to (a new AMI behind the same public parameter name);
 * NoEcho values cannot be compared (AWS returns ****) and are listed as
 * hidden when this run sets them.
 */
function parameterChanges(input: PreviewReportInput): ParameterChange[] {
  const before = new Map(input.stackParameters.map((p) => [p.ParameterKey ?? '', p]));
  const after = new Map(input.changeSetParameters.map((p) => [p.ParameterKey ?? '', p]));
  const afterValues = new Map(
    input.resolved.map((p) => [p.key, p.value ?? before.get(p.key)?.ParameterValue ?? ''] as const),
  );
  const changes: ParameterChange[] = [];
  for (const parameter of input.resolved) {
    // New in the template and left at its default: the template update's own
    // resource changes show what it does; listing it would only add noise.
    if (parameter.source === 'default' && !before.has(parameter.key)) continue;
    const declaration = input.declared.get(parameter.key);
    const ssmTyped = declaration?.type.startsWith('AWS::SSM::Parameter::Value<') === true;
    const old = before.get(parameter.key);
    const next = after.get(parameter.key);
    let beforeText: string;
    let afterText: string;
    if (parameter.noEcho) {
      if (parameter.source !== 'given') continue;
      beforeText = old ? HIDDEN : '(none)';
      afterText = `${HIDDEN} (NoEcho: not compared)`;
    } else if (ssmTyped) {
      const oldResolved = old?.ResolvedValue ?? old?.ParameterValue ?? '';
      const newResolved = next?.ResolvedValue ?? next?.ParameterValue ?? parameter.value ?? '';
      const oldName = old?.ParameterValue ?? '';
      const newName = next?.ParameterValue ?? parameter.value ?? oldName;
      if (oldResolved === newResolved && oldName === newName) continue;
      beforeText = ssmText(oldName, old?.ResolvedValue);
      afterText = ssmText(newName, next?.ResolvedValue);
    } else {
      if (parameter.source === 'previous') continue;
      const oldValue = old?.ParameterValue;
      const newValue = next?.ParameterValue ?? parameter.value ?? '';
      if (oldValue === newValue) continue;
      beforeText = oldValue === undefined ? '(none)' : printable(oldValue, parameter.key);
      afterText = printable(newValue, parameter.key);
    }
    // Only resources that exist with the new values (a worker group only in docker-autoscaler mode).
    const users = (input.parameterUsers.get(parameter.key) ?? []).filter(
      (user) => user.existsWith?.(afterValues) !== false,
    );
    changes.push({
      key: parameter.key,
      before: beforeText,
      after: afterText,
      effects: parameterEffects(parameter.key, users),
      usedBy: users.map((user) => user.logicalId),
    });
  }
  return changes;
}

function ssmText(name: string, resolved: string | undefined): string {
  if (!resolved || resolved === name) return printable(name);
  return `${printable(resolved)} (from ${printable(name)})`;
}

function printable(value: string, name = ''): string {
  if (isSecret(name, value)) return HIDDEN;
  return value === '' ? '(empty)' : value;
}

/** The effect a parameter has through the resources that use it, as if each were modified in place. */
function parameterEffects(key: string, users: readonly ResourceRef[]): Effect[] {
  const effects: Effect[] = [];
  if (TOKEN_REFERENCE_PARAMETERS.has(key)) effects.push('token-reference');
  for (const user of users) {
    if (user.type === LAUNCH_TEMPLATE) effects.push(launchTemplateEffect(user.logicalId));
    effects.push(...effectsOfType(user.type));
  }
  return effects.length > 0 ? orderEffects(effects) : ['none'];
}

/** A new version of the runners' launch template rolls them; the workers' reaches only new workers. */
function launchTemplateEffect(logicalId: string): Effect {
  return WORKER_LAUNCH_TEMPLATES.has(logicalId) ? 'changes-workers' : 'rolls-every-runner';
}

/** What any change to a resource of this type does, whatever the action. */
function effectsOfType(type: string): Effect[] {
  const effects: Effect[] = [];
  if (type.startsWith('AWS::IAM::') || PERMISSION_TYPES.has(type)) effects.push('permissions');
  if (NETWORK_TYPES.has(type)) effects.push('network');
  return effects;
}

function orderEffects(effects: readonly Effect[]): Effect[] {
  return EFFECT_ORDER.filter((effect) => effects.includes(effect));
}

function countChanges(resources: readonly ClassifiedResourceChange[]): ChangeCounts {
  const counts: ChangeCounts = { add: 0, modify: 0, remove: 0, replace: 0, conditional: 0 };
  for (const resource of resources) {
    if (resource.action === 'Add' || resource.action === 'Import') counts.add += 1;
    else if (resource.action === 'Remove') counts.remove += 1;
    else counts.modify += 1;
    if (resource.replacement === 'True') counts.replace += 1;
    if (resource.replacement === 'Conditional') counts.conditional += 1;
  }
  return counts;
}
