/** Checks of single values that several commands' flags share; each returns the problem line or undefined. */
import { access, constants, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/** CloudFormation stack names: a letter, then letters, digits and hyphens, at most 128. */
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

export function stackNameProblem(stackName: string): string | undefined {
  return STACK_NAME.test(stackName)
    ? undefined
    : `invalid --stack-name ${stackName}: use a letter then letters, digits and hyphens (at most 128 characters)`;
}

/**
 * A value (of a flag or a variable, named by `source`) that is not an
 * http(s) URL with a host; `expected` completes the problem line.
 */
export function httpUrlProblem(value: string, source: string, expected: string): string | undefined {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url && (url.protocol === 'https:' || url.protocol === 'http:') && url.hostname) return undefined;
  return `invalid ${source} ${value}: expected ${expected}`;
}

/** A GitLab address (from a flag or a CI variable, named by `source`) that is not http(s)://host. */
export function gitlabAddressProblem(value: string, source: string): string | undefined {
  return httpUrlProblem(value, source, 'the GitLab address, such as https://gitlab.example.com');
}

/**
 * A value (of a flag, or read from a file: `source` says where) that is not
 * one of `allowed`; anything but text, such as a YAML list or number, is not.
 */
export function oneOfProblem(value: unknown, allowed: readonly string[], source: string): string | undefined {
  if (typeof value === 'string' && allowed.includes(value)) return undefined;
  return `invalid ${source} ${String(value)}: expected ${allowed.join(allowed.length === 2 ? ' or ' : ', ')}`;
}

/** Whether an output file can be written, checked before any AWS work is done. */
export async function writableFileProblem(flag: string, path: string): Promise<string | undefined> {
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) return `cannot write ${flag} ${path}: it is a directory; name a file`;
  try {
    await access(existing ? path : dirname(path), constants.W_OK);
    return undefined;
  } catch {
    return existing
      ? `cannot write ${flag} ${path}: the file is not writable`
      : `cannot write ${flag} ${path}: its directory does not exist or is not writable`;
  }
}
