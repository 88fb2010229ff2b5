/**
 * The `--help` text of a command, rendered from its input schema: one row a
 * flag with its help, bounds, default and fallback variables, the notes, and
 * the variables it reads. docs/cli.md is rendered from the same text
 * (tools/render-cli-docs.ts).
 */
import type { EnvironmentTable, FlagSpec, FlagTable } from './schema.ts';

export interface UsageSource {
  /** The first line, e.g. `runner-fleet status --stack-name NAME [options]`. */
  synopsis: string;
  flags: FlagTable;
  environment?: EnvironmentTable | undefined;
  /** Paragraphs after the flags: what the command does that the flags do not say. */
  notes?: string | undefined;
}

/** Help text wraps at this column, as terminals and CI logs show it without folding. */
const WIDTH = 80;
/** Labels longer than this stand on their own line, so the help column stays readable. */
const LABEL_COLUMN = 28;

export function renderUsage(source: UsageSource): string {
  const flagRows = Object.entries(source.flags).map(([name, spec]) => ({
    label: spec.type === 'switch' ? `--${name}` : `--${name} ${spec.placeholder}`,
    text: withDetails(spec.help, flagDetails(spec)),
  }));
  const sections = [source.synopsis, table(flagRows)];
  if (source.notes) sections.push(source.notes);
  const environment = Object.entries(source.environment ?? {});
  if (environment.length > 0) {
    const rows = environment.map(([name, input]) => ({
      label: name,
      text: withDetails(input.help, input.required ? ['required'] : []),
    }));
    sections.push(
      `Environment (never flags, so they stay out of process lists and job logs):\n${table(rows)}`,
    );
  }
  return sections.join('\n\n');
}

function flagDetails(spec: FlagSpec): string[] {
  switch (spec.type) {
    case 'integer': {
      const bounds =
        spec.max !== undefined ? `${spec.min} to ${spec.max}` : spec.min !== 1 ? `at least ${spec.min}` : '';
      const notGiven = spec.envNotGiven !== undefined ? ` (${spec.envNotGiven} there = not given)` : '';
      const orDefault = spec.default !== undefined ? `, else ${spec.default}` : '';
      const fallback = spec.env?.length
        ? `default: ${spec.env.join(', else ')}${notGiven}${orDefault}`
        : spec.default !== undefined
          ? `default ${spec.default}`
          : '';
      return [bounds, fallback].filter((part) => part !== '');
    }
    case 'text':
      return spec.env?.length ? [`default: ${spec.env.join(', else ')}`] : [];
    case 'switch': {
      const when = [
        ...(spec.env?.length ? [`${spec.env.join(' or ')} is true`] : []),
        ...(spec.envFalse?.length ? [`${spec.envFalse.join(' or ')} is false`] : []),
      ];
      return when.length > 0 ? [`on when ${when.join(' or ')}`] : [];
    }
    case 'parsed':
      return spec.env?.length ? [`default: ${spec.env.join(', else ')}, a json: [...] list or the text`] : [];
    case 'texts':
      return [
        'repeatable',
        ...(spec.env?.length
          ? [`default: ${spec.env.join(', else ')}, a json: [...] list or one value`]
          : []),
      ];
  }
}

function withDetails(help: string, details: string[]): string {
  return details.length > 0 ? `${help} (${details.join('; ')})` : help;
}

function table(rows: { label: string; text: string }[]): string {
  const column = Math.min(LABEL_COLUMN, Math.max(...rows.map((row) => row.label.length)));
  const indent = ' '.repeat(2 + column + 2);
  return rows
    .map(({ label, text }) => {
      const lines = wrap(text, WIDTH - indent.length);
      const first = lines.shift() ?? '';
      const head =
        label.length > column ? `  ${label}\n${indent}${first}` : `  ${label.padEnd(column)}  ${first}`;
      return [head, ...lines.map((line) => `${indent}${line}`)].join('\n');
    })
    .join('\n');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}
