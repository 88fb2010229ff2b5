/** The command reference cannot drift: every flag is in its --help, and docs/cli.md matches --help. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../scripts/commands/registry.ts';
import { CLI_DOCS, withUsage } from '../../tools/render-cli-docs.ts';

const LOADED = await Promise.all(COMMANDS.map(async (entry) => [entry.name, await entry.load()] as const));

describe('command reference', () => {
  it.each(LOADED)('registry entry %s loads the module of that command', (name, command) => {
    expect(command.name).toBe(name);
  });

  it.each(LOADED)('%s --help names every flag it accepts', (_, command) => {
    const undocumented = Object.keys(command.options).filter(
      (flag) => !new RegExp(`--${flag}\\b`).test(command.usage),
    );
    expect(undocumented).toEqual([]);
  });

  it('docs/cli.md carries the current usage of every command (npx tsx tools/render-cli-docs.ts)', () => {
    const current = readFileSync(CLI_DOCS, 'utf8');
    expect(withUsage(current)).toBe(current);
  });
});
