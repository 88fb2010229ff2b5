#!/usr/bin/env node
// Runs the TypeScript sources through tsx in a checkout, or the compiled
// dist/ where scripts/ is not shipped (the container image).
import { existsSync } from 'node:fs';

const sources = new URL('../scripts/main.ts', import.meta.url);
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(sources.href);
} else {
  await import(new URL('../dist/main.js', import.meta.url).href);
}
