/**
 * Builds the shipped CLI into dist/: dist/main.js, the entry, and
 * dist/chunks/, one file per command (and the code they share), which the
 * entry imports when that command runs. npm packages stay in node_modules.
 *
 * Why not one file: an ES module's imports of a package are hoisted to the top
 * of the bundle, so a single file that leaves the AWS SDK in node_modules
 * loads all of it before printing `--help`; one that bundles the SDK too is
 * 5 MB that node parses at every start. Split, `--help` reads 11 kB and no
 * package (tools/bench-startup.ts measures it). Types are checked by
 * `npm run typecheck`, not here.
 *
 *   npm run build                 into dist/
 *   npx tsx tools/build.ts DIR    into DIR (test/components/image.test.ts)
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
const dist = process.argv[2] ?? join(root, 'dist');

// Chunk names carry a hash: remove the last build, so dist/ holds one. The
// instance-script bundles (tools/bundle-runner-configs.sh) are not the CLI's.
const previous = existsSync(dist) ? readdirSync(dist) : [];
for (const entry of previous.filter((name) => name !== 'runner-configs')) {
  rmSync(join(dist, entry), { recursive: true, force: true });
}
await build({
  entryPoints: [join(root, 'scripts', 'main.ts')],
  outdir: dist,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
