#!/usr/bin/env node
// The runner-fleet command. The image ships dist/ only, which runs as is. In a
// checkout it runs dist/ when `npm run build` made it after the last change
// to scripts/ (a stat of each source, a millisecond or two), and otherwise the
// TypeScript sources through tsx, so an edit takes effect without a build.
import { existsSync, readdirSync, statSync } from 'node:fs';

const sources = new URL('../scripts/', import.meta.url);
const built = new URL('../dist/main.js', import.meta.url);

function builtAfterEverySource() {
  if (!existsSync(built)) return false;
  const builtAt = statSync(built).mtimeMs;
  return readdirSync(sources, { recursive: true }).every(
    (file) => statSync(new URL(String(file), sources)).mtimeMs <= builtAt,
  );
}

if (existsSync(sources) && !builtAfterEverySource()) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('main.ts', sources).href);
} else {
  await import(built.href);
}
