/**
 * A JUnit XML report (the format GitLab reads as `artifacts:reports:junit`)
 * from a list of check results. Pure: no I/O.
 */

export type CheckStatus = 'passed' | 'failed' | 'skipped';

export interface CheckResult {
  /** Groups cases in GitLab's test report, e.g. "capacity", "i-0123456789abcdef0", "canary". */
  classname: string;
  name: string;
  status: CheckStatus;
  /** One line: why it failed or was skipped. */
  message?: string;
  /** More lines shown under the failure. */
  details?: string;
  seconds?: number;
}

export interface JUnitSuite {
  name: string;
  /** ISO 8601 time the run started. */
  timestamp: string;
  cases: readonly CheckResult[];
}

export function renderJUnit(suite: JUnitSuite): string {
  const failures = suite.cases.filter((c) => c.status === 'failed').length;
  const skipped = suite.cases.filter((c) => c.status === 'skipped').length;
  const time = formatSeconds(suite.cases.reduce((sum, c) => sum + (c.seconds ?? 0), 0));
  const counts = `tests="${suite.cases.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${time}"`;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${attr(suite.name)}" ${counts}>`,
    `  <testsuite name="${attr(suite.name)}" ${counts} timestamp="${attr(suite.timestamp)}">`,
  ];
  for (const check of suite.cases) {
    const open = `    <testcase classname="${attr(check.classname)}" name="${attr(check.name)}" time="${formatSeconds(check.seconds ?? 0)}"`;
    if (check.status === 'passed') {
      lines.push(`${open}/>`);
      continue;
    }
    const tag = check.status === 'failed' ? 'failure' : 'skipped';
    const message = check.message ? ` message="${attr(check.message)}"` : '';
    const body = check.details ?? (check.status === 'failed' ? check.message : undefined);
    lines.push(`${open}>`);
    lines.push(body ? `      <${tag}${message}>${text(body)}</${tag}>` : `      <${tag}${message}/>`);
    lines.push('    </testcase>');
  }
  lines.push('  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}

function formatSeconds(seconds: number): string {
  return (Math.round(seconds * 1000) / 1000).toFixed(3);
}

/** Characters XML 1.0 cannot carry at all, even escaped. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

function text(value: string): string {
  return value
    .replace(INVALID_XML, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

function attr(value: string): string {
  // Newlines and tabs in attributes are normalised away by XML parsers unless encoded.
  return text(value)
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(/\t/g, '&#9;');
}
