/**
 * Parses CloudFormation templates written in YAML or JSON. YAML templates use
 * short-form intrinsic tags (!Ref, !Sub, !GetAtt ...) that plain YAML does not
 * know; each is turned into its long form ({ "Fn::Sub": ... }) so the rest of
 * the code sees the same shape as a JSON template.
 */
import {
  CORE_SCHEMA,
  defineMappingTag,
  defineScalarTag,
  defineSequenceTag,
  load,
  type TagDefinition,
} from 'js-yaml';

const INTRINSICS = [
  'And',
  'Base64',
  'Cidr',
  'Equals',
  'FindInMap',
  'ForEach',
  'GetAZs',
  'GetAtt',
  'If',
  'ImportValue',
  'Join',
  'Length',
  'Not',
  'Or',
  'Select',
  'Split',
  'Sub',
  'ToJsonString',
  'Transform',
  // Rule-specific functions (the Rules section).
  'Contains',
  'EachMemberEquals',
  'EachMemberIn',
  'RefAll',
  'ValueOf',
  'ValueOfAll',
] as const;

function longName(shortName: string): string {
  return shortName === 'Ref' || shortName === 'Condition' ? shortName : `Fn::${shortName}`;
}

function tagsFor(shortName: string): TagDefinition[] {
  const key = longName(shortName);
  const tag = `!${shortName}`;
  return [
    defineScalarTag<Record<string, unknown>>(tag, {
      resolve: (source: string) => {
        // !GetAtt Resource.Attribute is the one scalar form that means a list.
        if (shortName === 'GetAtt') {
          const dot = source.indexOf('.');
          return { [key]: dot > 0 ? [source.slice(0, dot), source.slice(dot + 1)] : source };
        }
        return { [key]: source };
      },
      identify: () => false,
    }),
    defineSequenceTag<unknown[], Record<string, unknown>>(tag, {
      create: () => [],
      addItem: (carrier: unknown[], item: unknown) => {
        carrier.push(item);
      },
      finalize: (carrier: unknown[]) => ({ [key]: carrier }),
      identify: () => false,
    }),
    defineMappingTag<Record<string, unknown>, Record<string, unknown>>(tag, {
      create: () => ({}),
      addPair: (carrier: Record<string, unknown>, pairKey: unknown, value: unknown) => {
        carrier[String(pairKey)] = value;
        return '';
      },
      has: (carrier: Record<string, unknown>, pairKey: unknown) => Object.hasOwn(carrier, String(pairKey)),
      // For YAML merge keys: the mapping's own keys, inside the long form.
      keys: (result: Record<string, unknown>) => Object.keys(result[key] as object),
      get: (result: Record<string, unknown>, pairKey: unknown) =>
        (result[key] as Record<string, unknown>)[String(pairKey)],
      finalize: (carrier: Record<string, unknown>) => ({ [key]: carrier }),
      identify: () => false,
    }),
  ];
}

const CFN_SCHEMA = CORE_SCHEMA.withTags([...INTRINSICS, 'Ref', 'Condition'].flatMap((name) => tagsFor(name)));

/** Parses a template or parameter file body. Throws with a line/column message on bad syntax. */
export function parseCloudFormationDocument(body: string): unknown {
  const trimmed = body.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    return JSON.parse(body);
  }
  return load(body, { schema: CFN_SCHEMA });
}
