/**
 * Reads a command line into raw flag values without stopping at the first
 * mistake. node's parseArgs in strict mode throws on the first unknown flag,
 * missing value or stray argument, which would hide every other problem; in
 * its lenient mode it yields every token, and this module turns them into the
 * raw values the schema checks (schema.ts) plus a problem line for each
 * unknown flag and each argument that is not a flag. A flag given without its
 * value, or a switch given one, stays in the values as such (`true` for a
 * valued flag, the text for a switch) so the schema reports it with the rest.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { RawFlags } from './schema.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface CommandLine {
  values: RawFlags;
  /** One line per unknown flag and per stray argument, in the order given. */
  problems: string[];
}

export function readCommandLine(command: string, options: Options, args: readonly string[]): CommandLine {
  const values: RawFlags = {};
  const problems: string[] = [];
  const unknown = new Set<string>();
  let valueOfUnknown = -1;
  for (const token of tokensOf(options, joinNegativeNumbers(options, args))) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      // `--stak-name fleet`: the word after an unknown flag is its value, not a second problem.
      if (token.index !== valueOfUnknown) {
        problems.push(`unexpected argument ${token.value}: ${command} takes flags only`);
      }
      continue;
    }
    const option = options[token.name];
    if (!option) {
      if (!unknown.has(token.rawName)) problems.push(`unknown flag ${token.rawName}`);
      unknown.add(token.rawName);
      if (token.value === undefined) valueOfUnknown = token.index + 1;
      continue;
    }
    // A valued flag without its value is `true`; a switch with a value is that text (schema.ts says what is wrong).
    const value = token.value ?? true;
    const previous = values[token.name];
    values[token.name] = option.multiple ? [...(Array.isArray(previous) ? previous : []), value] : value;
  }
  return { values, problems };
}

type Token = ReturnType<typeof parseArgs<{ tokens: true; strict: false }>>['tokens'][number];

/**
 * The tokens of the command line, with one change from lenient parseArgs: a
 * valued flag does not take a following flag as its value (`--stack-name
 * --template-file t.yaml` is a stack name left out and a template file;
 * strict mode calls it ambiguous). parseArgs starts again at such a flag.
 */
function tokensOf(options: Options, args: readonly string[]): Token[] {
  const tokens: Token[] = [];
  let offset = 0;
  let rest = [...args];
  for (;;) {
    const parsed = parseArgs({
      args: rest,
      options,
      strict: false,
      allowPositionals: true,
      tokens: true,
    }).tokens;
    const stop = parsed.findIndex(
      (token) => token.kind === 'option' && token.inlineValue === false && isFlagLike(token.value),
    );
    for (const token of stop === -1 ? parsed : parsed.slice(0, stop)) {
      tokens.push({ ...token, index: token.index + offset });
    }
    const swallowed = parsed[stop];
    if (swallowed?.kind !== 'option') return tokens;
    tokens.push({ ...swallowed, index: swallowed.index + offset, value: undefined, inlineValue: undefined });
    // Parse again from the flag that was taken for a value.
    offset += swallowed.index + 1;
    rest = rest.slice(swallowed.index + 1);
  }
}

/** Like parseArgs' own test in strict mode: `-` alone is a value (stdin), `-x` and `--x` are not. */
function isFlagLike(value: string | undefined): boolean {
  return value !== undefined && value.length > 1 && value.startsWith('-');
}

/**
 * `--timeout-minutes -1` is a value, not a flag: joined as
 * `--timeout-minutes=-1`, the schema reports it as a bad number with the rest.
 */
function joinNegativeNumbers(options: Options, args: readonly string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] ?? '';
    const next = args[i + 1];
    const option = arg.startsWith('--') ? options[arg.slice(2)] : undefined;
    if (option?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      i += 1;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}
