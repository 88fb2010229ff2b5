/**
 * Stack parameters and tags from the command line and from parameter files.
 * Accepts a YAML/JSON map ({Key: value}) or the AWS CLI list form
 * ([{ParameterKey, ParameterValue}]); later sources override earlier ones.
 */
import { readFile } from 'node:fs/promises';
import { firstLine } from '../errors.ts';
import { parseCloudFormationDocument } from './cfn-yaml.ts';
import { isRecord } from './records.ts';
import { RUNNER_SETTINGS_PARAMETERS } from './runner-settings.ts';
import { describeFsError, scalarToString } from './template.ts';

export interface ParsedPairs {
  values: Map<string, string>;
  problems: string[];
}

const KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:/+=@-]*$/;

/** Parses repeated `KEY=VALUE` flags; the value may contain '=' and may be empty. */
export function parseKeyValuePairs(flag: string, items: readonly string[]): ParsedPairs {
  const values = new Map<string, string>();
  const problems: string[] = [];
  for (const item of items) {
    const separator = item.indexOf('=');
    const key = separator > 0 ? item.slice(0, separator) : '';
    if (separator <= 0 || !KEY_PATTERN.test(key)) {
      // Only the part before '=' is echoed: the value may be a secret.
      const shown = separator > 0 ? `${item.slice(0, separator)}=...` : '(no "=")';
      problems.push(
        `invalid ${flag} ${shown}: expected KEY=VALUE, for example ${flag} InstanceType=t3.micro`,
      );
      continue;
    }
    values.set(key, item.slice(separator + 1));
  }
  return { values, problems };
}

export async function readParameterFile(path: string): Promise<ParsedPairs> {
  let body: string;
  try {
    body = await readFile(path, 'utf8');
  } catch (error) {
    return {
      values: new Map(),
      problems: [`cannot read parameters file ${path}: ${describeFsError(error)}`],
    };
  }
  let document: unknown;
  try {
    document = parseCloudFormationDocument(body);
  } catch (error) {
    return {
      values: new Map(),
      problems: [`parameters file ${path} is not valid YAML/JSON: ${firstLine(error)}`],
    };
  }
  return parameterFileValues(path, document);
}

export function parameterFileValues(path: string, document: unknown): ParsedPairs {
  const values = new Map<string, string>();
  const problems: string[] = [];
  if (document === null || document === undefined) return { values, problems };
  if (Array.isArray(document)) {
    document.forEach((entry, index) => {
      if (isRecord(entry) && typeof entry.ParameterKey === 'string' && entry.ParameterValue !== undefined) {
        values.set(entry.ParameterKey, scalarToString(entry.ParameterValue));
      } else {
        problems.push(
          `parameters file ${path}: entry ${index + 1} needs ParameterKey and ParameterValue (AWS CLI list form)`,
        );
      }
    });
    return { values, problems };
  }
  if (isRecord(document)) {
    for (const [key, value] of Object.entries(document)) {
      // Runner settings may be written as a map; the stack takes them as one line of JSON.
      if (isRecord(value) && Object.hasOwn(RUNNER_SETTINGS_PARAMETERS, key)) {
        values.set(key, JSON.stringify(value));
        continue;
      }
      if (value === null || (typeof value === 'object' && !Array.isArray(value))) {
        problems.push(`parameters file ${path}: value of ${key} must be a string, number, boolean or list`);
        continue;
      }
      values.set(key, scalarToString(value));
    }
    return { values, problems };
  }
  return {
    values,
    problems: [
      `parameters file ${path} must be a map of Key: value or a list of {ParameterKey, ParameterValue}`,
    ],
  };
}
