/**
 * Turns the template's declared parameters and the user's values into the
 * Parameters list of a change set. Every declared parameter is listed
 * explicitly: a given value, the stack's previous value (update), or the
 * template default (create). Nothing is left to CloudFormation's implicit
 * behaviour, and the log can say where each value came from.
 */
import type { Parameter, Stack } from '@aws-sdk/client-cloudformation';
import { isSecret } from '../secrets.ts';
import type { TemplateParameter } from './template.ts';

export type ValueSource = 'given' | 'previous' | 'default';

export interface ResolvedParameter {
  key: string;
  source: ValueSource;
  /** Undefined when the previous value is kept (CloudFormation does not return NoEcho values). */
  value: string | undefined;
  noEcho: boolean;
}

export interface ParameterResolution {
  parameters: ResolvedParameter[];
  problems: string[];
}

/** Problems that need no AWS call: unknown keys and values outside AllowedValues. */
export function checkGivenParameters(
  declared: ReadonlyMap<string, TemplateParameter>,
  given: ReadonlyMap<string, string>,
): string[] {
  const problems: string[] = [];
  for (const [key, value] of given) {
    const declaration = declared.get(key);
    if (!declaration) {
      const known = [...declared.keys()].sort().join(', ') || 'none';
      problems.push(`unknown parameter ${key}: the template declares ${known}`);
      continue;
    }
    if (declaration.allowedValues && !declaration.noEcho && !declaration.allowedValues.includes(value)) {
      // A value pasted into the wrong parameter may be a secret: never repeat it if it looks like one.
      const shown = isSecret(key, value) ? '****' : value;
      problems.push(
        `parameter ${key}=${shown} is not allowed: use one of ${declaration.allowedValues.join(', ')}`,
      );
    }
  }
  return problems;
}

export function resolveParameters(
  declared: ReadonlyMap<string, TemplateParameter>,
  given: ReadonlyMap<string, string>,
  existingStack: Stack | undefined,
): ParameterResolution {
  const previous = new Set((existingStack?.Parameters ?? []).map((p) => p.ParameterKey ?? ''));
  const parameters: ResolvedParameter[] = [];
  const missing: string[] = [];
  for (const declaration of [...declared.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    const { name, noEcho } = declaration;
    const value = given.get(name);
    if (value !== undefined) {
      parameters.push({ key: name, source: 'given', value, noEcho });
    } else if (previous.has(name)) {
      parameters.push({ key: name, source: 'previous', value: undefined, noEcho });
    } else if (declaration.defaultValue !== undefined) {
      parameters.push({ key: name, source: 'default', value: declaration.defaultValue, noEcho });
    } else {
      missing.push(name);
    }
  }
  const problems =
    missing.length > 0
      ? [
          `missing value for parameter${missing.length > 1 ? 's' : ''} ${missing.join(', ')}: pass --parameter KEY=VALUE or add it to --parameters FILE`,
        ]
      : [];
  return { parameters, problems };
}

export function toChangeSetParameters(resolved: readonly ResolvedParameter[]): Parameter[] {
  return resolved.map((parameter) =>
    parameter.source === 'previous'
      ? { ParameterKey: parameter.key, UsePreviousValue: true }
      : { ParameterKey: parameter.key, ParameterValue: parameter.value ?? '' },
  );
}

/** A value safe to print: NoEcho values are masked, so are values or names that look secret. */
export function displayValue(parameter: ResolvedParameter): string {
  if (parameter.source === 'previous') return '(previous value)';
  if (parameter.noEcho || isSecret(parameter.key, parameter.value ?? '')) return '****';
  return parameter.value === '' ? '(empty)' : (parameter.value ?? '');
}
