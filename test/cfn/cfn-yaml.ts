// Loads the project's templates with the deployer's own parser (short-form
// tags become their long JSON form), plus helpers to inspect them in tests.
import { readFileSync } from 'node:fs';
import { parseCloudFormationDocument } from '../../scripts/config/cfn-yaml.ts';

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
  return parseCloudFormationDocument(text);
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
