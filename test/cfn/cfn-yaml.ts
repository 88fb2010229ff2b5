// Loads CloudFormation YAML: short-form intrinsic tags (!Ref, !Sub, !GetAtt, ...)
// become their long JSON form ({ Ref: x }, { 'Fn::Sub': ... }), as
// CloudFormation itself reads them, so tests can inspect plain objects.
import { readFileSync } from 'node:fs';
import { CORE_SCHEMA, defineMappingTag, defineScalarTag, defineSequenceTag, load } from 'js-yaml';

type Json = unknown;

const SHORT_FORMS = [
  'Ref',
  'Condition',
  'Base64',
  'Cidr',
  'FindInMap',
  'GetAtt',
  'GetAZs',
  'ImportValue',
  'Join',
  'Select',
  'Split',
  'Sub',
  'Transform',
  'And',
  'Equals',
  'If',
  'Not',
  'Or',
  'Contains',
  'EachMemberEquals',
  'EachMemberIn',
  'RefAll',
  'ValueOf',
  'ValueOfAll',
  'Length',
  'ToJsonString',
] as const;

function longName(tag: string): string {
  return tag === 'Ref' || tag === 'Condition' ? tag : `Fn::${tag}`;
}

function tagsFor(tag: string) {
  const fn = longName(tag);
  const scalar = defineScalarTag(`!${tag}`, {
    // !GetAtt Resource.Attribute is the only scalar form with structure.
    resolve: (source: string) => (tag === 'GetAtt' ? { [fn]: splitGetAtt(source) } : { [fn]: source }),
    identify: () => false,
  });
  const sequence = defineSequenceTag<Json[], Record<string, Json>>(`!${tag}`, {
    create: () => [],
    addItem: (carrier, item) => {
      carrier.push(item);
    },
    finalize: (carrier) => ({ [fn]: carrier }),
    identify: () => false,
  });
  const mapping = defineMappingTag<Record<string, Json>, Record<string, Json>>(`!${tag}`, {
    create: () => ({}),
    addPair: (carrier, key, value) => {
      carrier[String(key)] = value;
      return '';
    },
    has: (carrier, key) => Object.hasOwn(carrier, String(key)),
    keys: (result) => Object.keys(result[fn] as object),
    get: (result, key) => (result[fn] as Record<string, Json>)[String(key)],
    finalize: (carrier) => ({ [fn]: carrier }),
    identify: () => false,
  });
  return [scalar, sequence, mapping];
}

function splitGetAtt(source: string): [string, string] {
  const dot = source.indexOf('.');
  return [source.slice(0, dot), source.slice(dot + 1)];
}

export const CFN_SCHEMA = CORE_SCHEMA.withTags(...SHORT_FORMS.flatMap(tagsFor));

export interface Template {
  Metadata?: Record<string, unknown>;
  Parameters: Record<string, Record<string, unknown>>;
  Rules?: Record<string, unknown>;
  Mappings?: Record<string, unknown>;
  Conditions?: Record<string, unknown>;
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; [key: string]: unknown }>;
  Outputs?: Record<string, { Value: unknown; Export?: { Name: unknown }; Condition?: string }>;
}

export function parseCfn(text: string): unknown {
  return load(text, { schema: CFN_SCHEMA });
}

export function loadTemplate(path: string): Template {
  return parseCfn(readFileSync(path, 'utf8')) as Template;
}

/** Every value reachable from `node` (depth first), for "nowhere in X" checks. */
export function* walk(node: unknown): Generator<unknown> {
  yield node;
  if (Array.isArray(node)) for (const item of node) yield* walk(item);
  else if (node && typeof node === 'object') for (const value of Object.values(node)) yield* walk(value);
}

/**
 * The variants a value can take after Fn::If is resolved, one per branch
 * (nested ifs multiply). AWS::NoValue branches yield nothing.
 */
export function branches(node: unknown): unknown[] {
  if (node && typeof node === 'object' && !Array.isArray(node)) {
    const record = node as Record<string, unknown>;
    if ('Fn::If' in record) {
      const [, whenTrue, whenFalse] = record['Fn::If'] as [string, unknown, unknown];
      return [...branches(whenTrue), ...branches(whenFalse)];
    }
    if (record.Ref === 'AWS::NoValue') return [];
  }
  return [node];
}
