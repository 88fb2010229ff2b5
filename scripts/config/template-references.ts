/**
 * What a CloudFormation template's values refer to, read from the parsed
 * document (cfn-yaml.ts gives YAML and JSON templates the same long-form
 * shape). One walk serves every question asked of a template: names that
 * point nowhere (template.ts), outputs that echo a NoEcho parameter
 * (template.ts), and which resources a parameter reaches (the preview).
 */
import { isRecord } from './records.ts';

/**
 * One reference in a template value: a Ref, the resource of an Fn::GetAtt,
 * a `${Name}` or `${Name.Attribute}` in an Fn::Sub (the Sub's own variables
 * excluded), or a condition named by `Condition` or the first argument of
 * Fn::If.
 */
export interface TemplateReference {
  kind: 'ref' | 'get-att' | 'sub' | 'condition';
  name: string;
}

/** A `${...}` in Fn::Sub text; `${!Literal}` is an escape, not a reference. */
const SUB_PLACEHOLDER = /\$\{([^!}][^}]*)\}/g;

/** The one walk over a template value: calls `onReference` for every reference in it, in document order. */
export function visitReferences(node: unknown, onReference: (reference: TemplateReference) => void): void {
  const walk = (value: unknown, subVariables: ReadonlySet<string>): void => {
    if (Array.isArray(value)) {
      for (const item of value) walk(item, subVariables);
      return;
    }
    if (!isRecord(value)) return;
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'Ref' && typeof inner === 'string') onReference({ kind: 'ref', name: inner });
      else if (key === 'Condition' && typeof inner === 'string')
        onReference({ kind: 'condition', name: inner });
      else if (key === 'Fn::GetAtt') {
        const target = Array.isArray(inner)
          ? inner[0]
          : typeof inner === 'string'
            ? inner.split('.')[0]
            : undefined;
        if (typeof target === 'string') onReference({ kind: 'get-att', name: target });
        // The attribute name may itself be a Ref.
        if (Array.isArray(inner)) walk(inner.slice(1), subVariables);
      } else if (key === 'Fn::If' && Array.isArray(inner) && typeof inner[0] === 'string') {
        onReference({ kind: 'condition', name: inner[0] });
        walk(inner.slice(1), subVariables);
      } else if (key === 'Fn::Sub') {
        const [text, variables] = Array.isArray(inner) ? inner : [inner, undefined];
        const local = new Set([...subVariables, ...Object.keys(isRecord(variables) ? variables : {})]);
        if (typeof text === 'string') {
          for (const match of text.matchAll(SUB_PLACEHOLDER)) {
            const name = (match[1] ?? '').trim().split('.')[0] ?? '';
            if (!local.has(name)) onReference({ kind: 'sub', name });
          }
        }
        if (variables !== undefined) walk(variables, subVariables);
      } else walk(inner, subVariables);
    }
  };
  walk(node, new Set());
}

/** Names a value refers to through Ref, Fn::GetAtt or Fn::Sub: parameters, resources and pseudo parameters. */
function visitNames(node: unknown, onName: (name: string) => void): void {
  visitReferences(node, (reference) => {
    if (reference.kind !== 'condition') onName(reference.name);
  });
}

const PSEUDO_PARAMETERS = new Set([
  'AWS::AccountId',
  'AWS::NotificationARNs',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
]);

/**
 * Ref, GetAtt, Sub and DependsOn targets that name nothing in the template.
 * CloudFormation rejects these too, but only after a round trip; finding them
 * here gives every one at once. Templates with a Transform are left to AWS,
 * since macros may add names (and Fn::ForEach introduces loop variables).
 */
export function unresolvedReferences(document: Record<string, unknown>): { where: string; target: string }[] {
  if (document.Transform !== undefined) return [];
  const resources = isRecord(document.Resources) ? document.Resources : {};
  const known = new Set([
    ...Object.keys(isRecord(document.Parameters) ? document.Parameters : {}),
    ...Object.keys(resources),
    ...PSEUDO_PARAMETERS,
  ]);
  const problems: { where: string; target: string }[] = [];
  const check = (where: string) => (target: string) => {
    if (!known.has(target)) problems.push({ where, target });
  };
  for (const [name, resource] of Object.entries(resources)) {
    if (!isRecord(resource)) continue;
    const dependsOn = resource.DependsOn;
    for (const target of Array.isArray(dependsOn) ? dependsOn : dependsOn === undefined ? [] : [dependsOn]) {
      if (typeof target === 'string' && !Object.hasOwn(resources, target)) {
        problems.push({ where: `resource ${name} DependsOn`, target });
      }
    }
    visitNames(resource, check(`resource ${name}`));
  }
  if (isRecord(document.Outputs)) {
    for (const [name, output] of Object.entries(document.Outputs))
      visitNames(output, check(`output ${name}`));
  }
  return problems;
}

/**
 * Outputs whose value refers to one of `secretParameters` (Ref, or ${Name}
 * in a Sub). Such an output prints the secret in the clear, also when the
 * value was kept from an earlier deploy and this run never saw it: these
 * outputs are masked by name, whatever their value.
 */
export function outputsReferring(
  document: Record<string, unknown>,
  secretParameters: ReadonlySet<string>,
): Set<string> {
  const echoing = new Set<string>();
  if (secretParameters.size === 0 || !isRecord(document.Outputs)) return echoing;
  for (const [name, output] of Object.entries(document.Outputs)) {
    if (!isRecord(output)) continue;
    visitNames(output.Value, (target) => {
      if (secretParameters.has(target)) echoing.add(name);
    });
  }
  return echoing;
}

/** A resource that uses a parameter, directly or through a condition. */
export interface ResourceRef {
  logicalId: string;
  type: string;
  /**
   * Whether the resource exists for these parameter values (its Condition);
   * undefined when that cannot be told from the template alone.
   */
  existsWith?: (values: ReadonlyMap<string, string>) => boolean | undefined;
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
    visitReferences(conditions[name], (reference) => {
      if (reference.kind === 'condition') {
        for (const parameter of parametersOfCondition(reference.name, seen)) found.add(parameter);
      } else if (parameterNames.has(reference.name)) found.add(reference.name);
    });
    conditionParameters.set(name, found);
    return found;
  };
  for (const [logicalId, resource] of Object.entries(document.Resources)) {
    if (!isRecord(resource)) continue;
    const used = new Set<string>();
    const note = (reference: TemplateReference) => {
      if (reference.kind === 'condition') {
        for (const parameter of parametersOfCondition(reference.name)) used.add(parameter);
      } else if (parameterNames.has(reference.name)) used.add(reference.name);
    };
    const condition = typeof resource.Condition === 'string' ? resource.Condition : undefined;
    if (condition) note({ kind: 'condition', name: condition });
    visitReferences(resource.Properties, note);
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
