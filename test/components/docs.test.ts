/** docs/components.md shows the inputs the components really have. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderInputTables, withInputTables } from '../../tools/render-component-docs.ts';
import { ROOT } from '../support/emulator.ts';

describe('docs/components.md', () => {
  const document = readFileSync(join(ROOT, 'docs', 'components.md'), 'utf8');

  it('has input tables in step with templates/ (run npx tsx tools/render-component-docs.ts)', () => {
    expect(withInputTables(document, renderInputTables())).toBe(document);
  });

  it('documents every component and names the include lines of each', () => {
    for (const name of ['deploy', 'preview', 'smoke-test', 'roll', 'reconcile', 'destroy']) {
      expect(document).toContain(`### \`${name}\``);
      expect(document).toMatch(new RegExp(`component: \\$CI_SERVER_FQDN/[^\\s]+/${name}@`));
    }
  });
});
