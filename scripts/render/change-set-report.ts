/**
 * What a change set means for the fleet, and the Markdown a reviewer reads.
 * Pure: takes what CloudFormation returned (changes, parameters) and what the
 * template declares, returns a classified report and its Markdown. Nothing
 * here calls AWS or prints; values from NoEcho parameters never get through.
 */
import type { Change, Parameter, ResourceChange, ResourceChangeDetail } from '@aws-sdk/client-cloudformation';
import type { ResolvedParameter } from '../config/stack-parameters.ts';
import type { TemplateParameter } from '../config/template.ts';
import { isSecret, looksLikeSecretValue } from '../secrets.ts';

/** The effect of one change on the fleet, in the words a reviewer needs. */
export type Effect =
  | 'replaces-asg'
  | 'removes-asg'
  | 'rolls-every-runner'
  | 'changes-workers'
  | 'permissions'
  | 'token-reference'
  | 'network'
  | 'none';

/** Ordered from the most to the least disruptive: lists and summaries follow this order. */
export const EFFECT_TEXT: Readonly<Record<Effect, string>> = {
  'replaces-asg': 'replaces the Auto Scaling Group',
  'removes-asg': 'removes the Auto Scaling Group',
  'rolls-every-runner': 'rolls every runner',
  'changes-workers': 'changes the docker-autoscaler workers',
  permissions: 'changes permissions',
  'token-reference': 'changes the runner token reference',
  network: 'changes network access',
  none: 'no effect on running instances',
};

const EFFECT_ORDER = Object.keys(EFFECT_TEXT) as Effect[];

/** Why each effect matters, shown once under the summary when it occurs. */
const EFFECT_WARNING: Partial<Record<Effect, string>> = {
  'replaces-asg':
    'CloudFormation creates a new group and deletes the old one with all its instances at once: running jobs are cut off and every runner registers again',
  'removes-asg': 'the group and every instance in it are deleted',
  'rolls-every-runner':
    'a new launch template version: every runner is replaced by it on the next `runner-fleet roll` (instance refresh with drain) or when the group replaces an instance',
  'changes-workers':
    'workers launched after the update use the new settings; running jobs keep their workers, and the manager is not rolled for it',
  permissions: 'what the instances may do in AWS changes (IAM or a resource policy)',
  'token-reference':
    'the instances read the runner token from a different SSM parameter or secret; new instances register with it',
  network: 'security group rules apply to running instances at once',
};

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

/** Long property values (UserData, policy documents) are cut in the report; the change set has them whole. */
export const MAX_VALUE_CHARS = 300;
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

export interface GateOptions {
  failOnReplacement: boolean;
  failOnPermissions: boolean;
  allowReplacement: boolean;
  allowPermissionChanges: boolean;
}

export interface GateResult {
  /** One line per refused kind of change; empty when the gate lets the change through. */
  refusals: string[];
  /** Gates that would have refused but were allowed explicitly. */
  allowed: string[];
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

export interface ResourceRef {
  logicalId: string;
  type: string;
  /**
   * Whether the resource exists for these parameter values (its Condition);
   * undefined when that cannot be told from the template alone.
   */
  existsWith?: (values: ReadonlyMap<string, string>) => boolean | undefined;
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
    effects.push(
      WORKER_LAUNCH_TEMPLATES.has(change.LogicalResourceId ?? '') ? 'changes-workers' : 'rolls-every-runner',
    );
  }
  if (type.startsWith('AWS::IAM::') || PERMISSION_TYPES.has(type)) effects.push('permissions');
  if (NETWORK_TYPES.has(type)) effects.push('network');
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
    if (user.type === LAUNCH_TEMPLATE) {
      effects.push(WORKER_LAUNCH_TEMPLATES.has(user.logicalId) ? 'changes-workers' : 'rolls-every-runner');
    }
    if (user.type.startsWith('AWS::IAM::') || PERMISSION_TYPES.has(user.type)) effects.push('permissions');
    if (NETWORK_TYPES.has(user.type)) effects.push('network');
  }
  return effects.length > 0 ? orderEffects(effects) : ['none'];
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

/**
 * Resources that use each parameter: through Ref or ${Name} in Fn::Sub, and
 * through conditions built from it (Fn::If, a resource's Condition). This is
 * what the template says could change; the change set says what does.
 */
export function parameterUsers(document: unknown): Map<string, ResourceRef[]> {
  const users = new Map<string, ResourceRef[]>();
  if (!isRecord(document) || !isRecord(document.Resources)) return users;
  const parameterNames = new Set(Object.keys(isRecord(document.Parameters) ? document.Parameters : {}));
  const conditions = isRecord(document.Conditions) ? document.Conditions : {};
  const conditionParameters = new Map<string, Set<string>>();
  const parametersOfCondition = (name: string, seen: Set<string> = new Set()): Set<string> => {
    const known = conditionParameters.get(name);
    if (known) return known;
    const found = new Set<string>();
    if (seen.has(name)) return found;
    seen.add(name);
    walk(conditions[name], (reference) => {
      if (reference.kind === 'parameter' && parameterNames.has(reference.name)) found.add(reference.name);
      if (reference.kind === 'condition') {
        for (const parameter of parametersOfCondition(reference.name, seen)) found.add(parameter);
      }
    });
    conditionParameters.set(name, found);
    return found;
  };
  for (const [logicalId, resource] of Object.entries(document.Resources)) {
    if (!isRecord(resource)) continue;
    const used = new Set<string>();
    const note = (reference: Reference) => {
      if (reference.kind === 'parameter' && parameterNames.has(reference.name)) used.add(reference.name);
      if (reference.kind === 'condition') for (const p of parametersOfCondition(reference.name)) used.add(p);
    };
    if (typeof resource.Condition === 'string') note({ kind: 'condition', name: resource.Condition });
    walk(resource.Properties, note);
    const condition = typeof resource.Condition === 'string' ? resource.Condition : undefined;
    const existsWith = condition
      ? (values: ReadonlyMap<string, string>) =>
          evaluateCondition({ Condition: condition }, conditions, values)
      : undefined;
    for (const name of used) {
      const list = users.get(name) ?? [];
      list.push({ logicalId, type: String(resource.Type ?? ''), ...(existsWith ? { existsWith } : {}) });
      users.set(name, list);
    }
  }
  return users;
}

/**
 * A condition's value for the given parameter values, as CloudFormation
 * computes it (values compared as strings), for the functions the fleet's
 * conditions use (Equals, Not, And, Or, Condition, Ref); undefined when it
 * uses any other, such as Fn::Select on a list.
 */
export function evaluateCondition(
  node: unknown,
  conditions: Record<string, unknown>,
  values: ReadonlyMap<string, string>,
  seen: ReadonlySet<string> = new Set(),
): boolean | undefined {
  const value = (item: unknown): string | boolean | undefined => {
    if (typeof item === 'string') return item;
    if (isRecord(item) && typeof item.Ref === 'string') return values.get(item.Ref);
    return evaluateCondition(item, conditions, values, seen);
  };
  if (!isRecord(node)) return undefined;
  const [name, args] = Object.entries(node)[0] ?? [];
  const list = Array.isArray(args) ? args : [];
  switch (name) {
    case 'Condition': {
      if (typeof args !== 'string' || seen.has(args)) return undefined;
      return evaluateCondition(conditions[args], conditions, values, new Set([...seen, args]));
    }
    case 'Fn::Equals': {
      const [a, b] = [value(list[0]), value(list[1])];
      return a === undefined || b === undefined ? undefined : String(a) === String(b);
    }
    case 'Fn::Not': {
      const inner = evaluateCondition(list[0], conditions, values, seen);
      return inner === undefined ? undefined : !inner;
    }
    case 'Fn::And':
    case 'Fn::Or': {
      const results = list.map((item) => evaluateCondition(item, conditions, values, seen));
      if (name === 'Fn::And' && results.includes(false)) return false;
      if (name === 'Fn::Or' && results.includes(true)) return true;
      return results.includes(undefined) ? undefined : name === 'Fn::And';
    }
    default:
      return undefined;
  }
}

interface Reference {
  kind: 'parameter' | 'condition';
  name: string;
}

function walk(node: unknown, visit: (reference: Reference) => void): void {
  if (Array.isArray(node)) {
    for (const item of node) walk(item, visit);
    return;
  }
  if (!isRecord(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'Ref' && typeof value === 'string') visit({ kind: 'parameter', name: value });
    else if (key === 'Condition' && typeof value === 'string') visit({ kind: 'condition', name: value });
    else if (key === 'Fn::If' && Array.isArray(value) && typeof value[0] === 'string') {
      visit({ kind: 'condition', name: value[0] });
      walk(value.slice(1), visit);
      continue;
    } else if (key === 'Fn::Sub') {
      const [text, variables] = Array.isArray(value) ? value : [value, undefined];
      if (typeof text === 'string') {
        for (const match of text.matchAll(/\$\{([^!}][^}]*)\}/g)) {
          visit({ kind: 'parameter', name: (match[1] ?? '').trim() });
        }
      }
      walk(variables, visit);
      continue;
    }
    walk(value, visit);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The preview gate. Replacement means the group's instances all go at once:
 * the Auto Scaling Group replaced (Replacement True, or Conditional, which may
 * turn out True) or removed. Permissions means any IAM or resource-policy change.
 */
export function evaluateGate(report: PreviewReport, options: GateOptions): GateResult {
  const refusals: string[] = [];
  const allowed: string[] = [];
  const asgChanges = report.resources.filter(
    (r) => r.effects.includes('replaces-asg') || r.effects.includes('removes-asg'),
  );
  if (options.failOnReplacement && asgChanges.length > 0) {
    const what = asgChanges
      .map((r) =>
        r.action === 'Remove' ? `${r.logicalId} removed` : `${r.logicalId} replacement ${r.replacement}`,
      )
      .join(', ');
    if (options.allowReplacement)
      allowed.push(`replacement of the Auto Scaling Group (${what}) allowed by --allow-replacement`);
    else
      refusals.push(
        `the change replaces the Auto Scaling Group (${what}); if that is intended, run again with --allow-replacement`,
      );
  }
  const permissionChanges = [
    ...report.resources.filter((r) => r.effects.includes('permissions')).map((r) => r.logicalId),
    ...report.parameters.filter((p) => p.effects.includes('permissions')).map((p) => `parameter ${p.key}`),
  ];
  if (options.failOnPermissions && permissionChanges.length > 0) {
    const what = permissionChanges.join(', ');
    if (options.allowPermissionChanges)
      allowed.push(`permission changes (${what}) allowed by --allow-permission-changes`);
    else
      refusals.push(
        `the change alters permissions (${what}); if that is intended, run again with --allow-permission-changes`,
      );
  }
  return { refusals, allowed };
}

/** One line for the log and the job summary. */
export function summaryLine(report: PreviewReport): string {
  return `${countsText(report.counts)}; ${report.parameters.length} parameter${report.parameters.length === 1 ? '' : 's'} changed; ${report.effects.map((e) => EFFECT_TEXT[e]).join(', ')}`;
}

function countsText(counts: ChangeCounts): string {
  const replaced: string[] = [];
  if (counts.replace > 0) replaced.push(`${counts.replace} replaced`);
  if (counts.conditional > 0) replaced.push(`${counts.conditional} maybe replaced`);
  return `${counts.add} to add, ${counts.modify} to modify${replaced.length > 0 ? ` (${replaced.join(', ')})` : ''}, ${counts.remove} to remove`;
}

export function renderMarkdown(
  report: PreviewReport,
  gate: GateResult = { refusals: [], allowed: [] },
): string {
  const lines: string[] = [];
  const kind = report.changeSetType === 'CREATE' ? 'new stack' : 'update';
  lines.push(`### runner-fleet preview: \`${report.stackName}\` (${kind})`, '');
  const nothing = report.resources.length === 0 && report.parameters.length === 0;
  if (nothing) {
    lines.push(`No changes: \`${report.templatePath}\` matches the deployed stack.`, '');
  } else {
    lines.push(
      `From \`${report.templatePath}\`: **${countsText(report.counts)}**, ${report.parameters.length} parameter${report.parameters.length === 1 ? '' : 's'} changed.`,
      '',
      `**Effect on the fleet:** ${report.effects.map((e) => EFFECT_TEXT[e]).join('; ')}.`,
      '',
    );
  }
  for (const effect of report.effects) {
    const warning = EFFECT_WARNING[effect];
    if (!warning) continue;
    const sources = [
      ...report.resources.filter((r) => r.effects.includes(effect)).map((r) => `\`${r.logicalId}\``),
      ...report.parameters.filter((p) => p.effects.includes(effect)).map((p) => `\`${p.key}\``),
    ];
    lines.push(`> **${capitalise(EFFECT_TEXT[effect])}** (${sources.join(', ')}): ${warning}.`, '');
  }
  for (const refusal of gate.refusals) lines.push(`**Preview gate refused:** ${escapeText(refusal)}.`, '');
  for (const allowance of gate.allowed) lines.push(`Preview gate: ${escapeText(allowance)}.`, '');

  if (report.resources.length > 0) {
    lines.push('| Action | Resource | Type | Replacement | Effect |', '|---|---|---|---|---|');
    for (const r of report.resources) {
      lines.push(
        `| ${r.action} | \`${r.logicalId}\` | \`${r.type}\` | ${r.replacement ?? '-'} | ${r.effects.map((e) => EFFECT_TEXT[e]).join('; ')} |`,
      );
    }
    lines.push('');
  }
  if (report.parameters.length > 0) {
    lines.push(
      '**Parameters**',
      '',
      '| Parameter | Before | After | Used by | Effect |',
      '|---|---|---|---|---|',
    );
    for (const p of report.parameters) {
      lines.push(
        `| \`${p.key}\` | ${code(p.before)} | ${code(p.after)} | ${p.usedBy.map((id) => `\`${id}\``).join(', ') || '-'} | ${p.effects.map((e) => EFFECT_TEXT[e]).join('; ')} |`,
      );
    }
    lines.push('');
  }
  for (const r of report.resources) {
    const replacement = r.replacement ? `, replacement ${r.replacement}` : '';
    lines.push(
      `<details><summary><code>${r.logicalId}</code> ${r.action}${replacement}: ${r.effects.map((e) => EFFECT_TEXT[e]).join('; ')}</summary>`,
      '',
    );
    if (r.policyAction) lines.push(`Deletion or replacement policy: ${r.policyAction}.`, '');
    if (r.properties.length === 0) {
      lines.push(
        r.action === 'Add'
          ? 'New resource: every property is new.'
          : r.action === 'Remove'
            ? 'The resource is deleted.'
            : 'CloudFormation listed no property details.',
        '',
      );
    } else {
      lines.push(
        '| Property | Change | Recreation | Caused by | Before | After |',
        '|---|---|---|---|---|---|',
      );
      for (const p of r.properties) {
        lines.push(
          `| \`${escapeCell(p.path)}\` | ${p.changeType} | ${p.requiresRecreation || '-'} | ${escapeCell(p.causes.join(', ')) || '-'} | ${valueCell(p.before)} | ${valueCell(p.after)} |`,
        );
      }
      lines.push('');
    }
    lines.push('</details>', '');
  }
  lines.push(
    report.changeSetKept
      ? `Change set \`${report.changeSetName}\` was kept for review; it is not executed by this job.`
      : `Change set \`${report.changeSetName}\` was read and deleted; nothing was changed.`,
  );
  return `${lines.join('\n')}\n`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A value in a table cell: in <code>, HTML-escaped, pipes and newlines kept from breaking the table. */
function valueCell(value: string | undefined): string {
  if (value === undefined) return '(known at deploy time)';
  return code(value);
}

function code(value: string): string {
  const cut =
    value.length > MAX_VALUE_CHARS
      ? `${value.slice(0, MAX_VALUE_CHARS)}… (${value.length - MAX_VALUE_CHARS} more characters)`
      : value;
  return `<code>${escapeCell(escapeHtml(cut))}</code>`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '&#124;').replace(/\r?\n/g, '<br>');
}

function escapeText(text: string): string {
  return text.replace(/\r?\n/g, ' ');
}
