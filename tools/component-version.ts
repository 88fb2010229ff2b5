/**
 * The release version the components name as their default image tag.
 *
 * The components do not use `spec:component` (GitLab 18.6+, Beta: older
 * GitLab refuses the include outright), so a component cannot ask which
 * version it was included at. Instead every `image` input defaults to this
 * project's image tagged with the version in package.json, committed before
 * the release tag is pushed:
 *
 *   npx tsx tools/component-version.ts 1.4.0         set package.json and every template's default
 *   npx tsx tools/component-version.ts --check 1.4.0 exit 1 unless both already say 1.4.0
 *
 * The release job runs the check on the tag; test/components checks that the
 * templates and package.json agree on every commit. Regenerate the docs
 * tables afterwards (npx tsx tools/render-component-docs.ts).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const IMAGE_REPOSITORY = 'registry.gitlab.com/runner-fleet/runner-fleet';
const SEMVER = /^[0-9]+\.[0-9]+\.[0-9]+$/;
const root = join(import.meta.dirname, '..');
const DEFAULT_IMAGE_LINE = new RegExp(
  `^( {6}default: ${IMAGE_REPOSITORY.replace(/[./]/g, '\\$&')}:)(\\S+)$`,
  'gm',
);

function templateFiles(): string[] {
  const dir = join(root, 'templates');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .map((f) => join(dir, f));
}

/** Every default image tag found, by template file. */
export function defaultImageTags(): Map<string, string[]> {
  return new Map(
    templateFiles().map((file) => [
      file,
      [...readFileSync(file, 'utf8').matchAll(DEFAULT_IMAGE_LINE)].map((m) => m[2] ?? ''),
    ]),
  );
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

/** One line per file or field that does not name `version`. */
export function versionProblems(version: string): string[] {
  const problems: string[] = [];
  if (packageVersion() !== version)
    problems.push(`package.json version is ${packageVersion()}, not ${version}`);
  for (const [file, tags] of defaultImageTags()) {
    if (tags.length !== 1) problems.push(`${file}: expected one default image line, found ${tags.length}`);
    else if (tags[0] !== version) problems.push(`${file}: default image tag is ${tags[0]}, not ${version}`);
  }
  return problems;
}

function setVersion(version: string): void {
  const packagePath = join(root, 'package.json');
  const text = readFileSync(packagePath, 'utf8');
  writeFileSync(packagePath, text.replace(/^( {2}"version": ")[^"]*(")/m, `$1${version}$2`));
  for (const file of templateFiles()) {
    const body = readFileSync(file, 'utf8');
    writeFileSync(file, body.replace(DEFAULT_IMAGE_LINE, `$1${version}`));
  }
}

function main(argv: readonly string[]): number {
  const check = argv[0] === '--check';
  const version = check ? argv[1] : argv[0];
  if (!version || !SEMVER.test(version)) {
    console.error('usage: tools/component-version.ts [--check] X.Y.Z');
    return 2;
  }
  if (!check) setVersion(version);
  const problems = versionProblems(version);
  for (const problem of problems) console.error(problem);
  return problems.length === 0 ? 0 : 1;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  process.exitCode = main(process.argv.slice(2));
}
