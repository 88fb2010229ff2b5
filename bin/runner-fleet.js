#!/usr/bin/env node
// Runs the TypeScript sources through tsx in a checkout, or the compiled
// dist/ in the published image where scripts/ is not shipped.
import { existsSync } from 'node:fs';

const sources = new URL('../scripts/cli.ts', import.meta.url);
let cli;
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(sources.href);
} else {
  cli = await import(new URL('../dist/cli.js', import.meta.url).href);
}
process.exitCode = await cli.runCli(process.argv.slice(2));
