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

/**
 * Most values a YAML document may expand to through aliases (`*ref`). js-yaml
 * shares an aliased value instead of copying it, so a 500-byte "billion
 * laughs" loads in milliseconds, but every later walk or JSON.stringify of it
 * runs for minutes. CloudFormation's largest template (1 MB) holds far fewer
 * values than this.
 */
export const MAX_EXPANDED_VALUES = 1_000_000;

/** A document refused for what its aliases expand to, not for its syntax. */
export class AliasExpansionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AliasExpansionError';
  }
}

/** Parses a template or parameter file body. Throws with a line/column message on bad syntax. */
export function parseCloudFormationDocument(body: string): unknown {
  const trimmed = body.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    return JSON.parse(body);
  }
  const document = load(body, { schema: CFN_SCHEMA });
  const expanded = expandedSize(document, MAX_EXPANDED_VALUES);
  if (expanded > MAX_EXPANDED_VALUES) {
    throw new AliasExpansionError(
      `YAML aliases expand it to more than ${MAX_EXPANDED_VALUES.toLocaleString('en')} values (an alias bomb?); write the repeated parts out instead of using *aliases`,
    );
  }
  return document;
}

/**
 * The number of values the document holds once every alias is written out,
 * counted without writing them out: a shared value's size is computed once.
 * Stops counting past `limit`.
 */
function expandedSize(root: unknown, limit: number): number {
  const sizes = new Map<object, number>();
  const size = (value: unknown): number => {
    if (typeof value !== 'object' || value === null) return 1;
    const known = sizes.get(value);
    if (known !== undefined) return known;
    // A value that contains itself (a recursive alias) never ends when written out.
    sizes.set(value, limit + 1);
    let total = 1;
    for (const child of Array.isArray(value) ? value : Object.values(value)) {
      total += size(child);
      if (total > limit) break;
    }
    sizes.set(value, total);
    return total;
  };
  return size(root);
}
