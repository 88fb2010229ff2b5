/**
 * The layers of scripts/, checked from the sources rather than kept by
 * habit: which folder may import which at run time, that only the entry
 * reaches the commands, and that no run-time import cycle exists. Imports
 * are read with the TypeScript parser; `import type` is left out, since it
 * is erased and loads nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/emulator.ts';

const SCRIPTS = join(ROOT, 'scripts');
/** The top-level modules that start the CLI; nothing below them may import them. */
const ENTRY = new Set(['cli.ts', 'main.ts']);
/** The top-level modules every layer may use (errors, logging, waiting, secrets, the fleet's runner). */
const SHARED = '(shared)';

/**
 * What each folder may import at run time, besides itself. Rendering and the
 * pure evaluations reach no client; aws/ and gitlab/ know nothing of the
 * commands; config/ reads input and may build a GitLab client but calls
 * nothing (gitlab/ holds the calls).
 */
const ALLOWED: Record<string, readonly string[]> = {
  // errors, log, poll, secrets: below everything, so they import no folder.
  [SHARED]: [],
  aws: [SHARED, 'cli-input'],
  gitlab: [SHARED],
  'cli-input': [SHARED],
  config: [SHARED, 'cli-input', 'gitlab'],
  render: [SHARED],
  preview: [SHARED],
  'smoke-test': [SHARED, 'aws', 'gitlab'],
  stack: [SHARED, 'aws', 'config', 'render'],
  commands: [SHARED, 'aws', 'gitlab', 'cli-input', 'config', 'render', 'preview', 'smoke-test', 'stack'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/**
 * Only `import type` / `export type` are erased: with verbatimModuleSyntax
 * (tsconfig.json) `import { type A } from './x.ts'` still loads ./x.ts.
 */
function isTypeOnly(statement: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(statement)) return statement.isTypeOnly;
  return statement.importClause?.isTypeOnly === true;
}

/** Run-time imports of our own modules, as paths relative to scripts/. */
function runtimeImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const imports: string[] = [];
  const visit = (node: ts.Node) => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier) &&
      !isTypeOnly(node)
    ) {
      imports.push(node.moduleSpecifier.text);
    }
    // import('./x.ts'): loaded on demand, but loaded all the same.
    if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      imports.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return imports
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => relative(SCRIPTS, resolve(dirname(file), specifier)));
}

const graph = new Map(
  sourceFiles(SCRIPTS).map((file) => [relative(SCRIPTS, file), runtimeImports(file)] as const),
);

/** The layer of a module: its folder, or entry/SHARED for the top-level ones. */
function layerOf(module: string): string {
  if (!module.includes('/')) return ENTRY.has(module) ? 'entry' : SHARED;
  return module.split('/')[0] ?? module;
}

describe('the layers of scripts/', () => {
  it('reads every module and finds imports (the check has something to check)', () => {
    expect(graph.size).toBeGreaterThan(60);
    expect(graph.get('commands/deploy.ts')).toContain('stack/deploy-template.ts');
    // A type-only import is not a run-time edge: render/change-set-report.ts imports only types.
    expect(graph.get('render/change-set-report.ts')?.filter((m) => m.startsWith('preview/'))).toEqual([]);
  });

  it('lets each folder import only the layers beneath it', () => {
    const breaches: string[] = [];
    for (const [module, imports] of graph) {
      const from = layerOf(module);
      for (const imported of imports) {
        const to = layerOf(imported);
        if (to === from) continue;
        if (to === 'entry') breaches.push(`${module} imports the entry ${imported}`);
        else if (to === 'commands' && from !== 'entry')
          breaches.push(`${module} imports the command ${imported}`);
        else if (from !== 'entry' && !ALLOWED[from]?.includes(to))
          breaches.push(`${module} imports ${imported}`);
      }
    }
    expect(breaches).toEqual([]);
    // Every folder is in the table, so a new one is placed on purpose.
    const folders = new Set([...graph.keys()].filter((m) => m.includes('/')).map(layerOf));
    expect([...folders].filter((folder) => !ALLOWED[folder])).toEqual([]);
  });

  it('has no run-time import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const path: string[] = [];
    const visit = (module: string) => {
      state.set(module, 'open');
      path.push(module);
      for (const next of graph.get(module) ?? []) {
        if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), next].join(' -> '));
        else if (!state.has(next)) visit(next);
      }
      path.pop();
      state.set(module, 'done');
    };
    for (const module of graph.keys()) if (!state.has(module)) visit(module);
    expect(cycles).toEqual([]);
  });
});
