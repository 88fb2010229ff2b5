/**
 * A consumer pipeline merged the way GitLab builds it, by gitlab-ci-local:
 * includes of this checkout's components resolved (`@$CI_COMMIT_SHA` of a
 * scratch repository holding a copy of templates/), inputs interpolated,
 * `default:` and `stages:` applied, and each job's rules evaluated for a
 * pipeline source (`--list-json`: the `when` GitLab would give the job, or
 * `never`), plus the merged YAML (`--preview`).
 *
 * gitlab-ci-local validates with the CI schema it bundles, which is older than
 * GitLab in two places the components and examples use (see ciValidator):
 * `tags: []` and `retry:when: runner_interrupted`. Only those schema paths are
 * ignored here; test/components/templates.test.ts validates the same files
 * against the schema with exactly those two additions.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { isolatedEnv } from '../support/cli-process.ts';
import { ROOT } from '../support/emulator.ts';
import type { Job } from './gitlab-ci.ts';

export const GITLAB_CI_LOCAL = join(ROOT, 'node_modules', 'gitlab-ci-local', 'dist', 'index.js');

const SCHEMA_PATHS_NEWER_IN_GITLAB = [
  '#/definitions/tags/minItems',
  '#/definitions/retry_max/type',
  '#/definitions/retry_errors/oneOf/0/const',
];

export interface ListedJob {
  name: string;
  stage: string;
  when: string;
  allow_failure: boolean;
  needs?: { job: string; optional?: boolean; artifacts?: boolean }[];
  rules?: Record<string, unknown>[];
}

/** Variables of a pipeline source as GitLab predefines them (the ones rules look at). */
export const PIPELINE_SOURCES = {
  'push to the default branch': {
    set: { CI_PIPELINE_SOURCE: 'push', CI_COMMIT_BRANCH: 'main', CI_DEFAULT_BRANCH: 'main' },
    unset: [],
  },
  'push to a feature branch': {
    set: { CI_PIPELINE_SOURCE: 'push', CI_COMMIT_BRANCH: 'feature', CI_DEFAULT_BRANCH: 'main' },
    unset: [],
  },
  'merge request': {
    set: { CI_PIPELINE_SOURCE: 'merge_request_event', CI_MERGE_REQUEST_IID: '5', CI_DEFAULT_BRANCH: 'main' },
    unset: ['CI_COMMIT_BRANCH'],
  },
  'schedule on the default branch': {
    set: { CI_PIPELINE_SOURCE: 'schedule', CI_COMMIT_BRANCH: 'main', CI_DEFAULT_BRANCH: 'main' },
    unset: [],
  },
} as const;
export type PipelineSource = keyof typeof PIPELINE_SOURCES;

export interface ConsumerRepo {
  dir: string;
  /** Jobs with the `when` their rules give for this pipeline source; throws when gitlab-ci-local refuses the file. */
  list(source: PipelineSource): ListedJob[];
  /** The merged configuration (jobs and stages) as gitlab-ci-local expands it. */
  preview(): Record<string, Job> & { stages: string[] };
  /** gitlab-ci-local's verdict on a file it refuses (exit code and output). */
  refusal(source: PipelineSource): { code: number | null; output: string };
  remove(): void;
}

/**
 * A scratch git repository with `pipelineFile` as .gitlab-ci.yml next to
 * this checkout's templates/. Component includes of any project and version
 * are pointed at the repository itself (`$CI_PROJECT_PATH@$CI_COMMIT_SHA`).
 */
export function consumerRepo(pipelineFile: string): ConsumerRepo {
  const dir = mkdtempSync(join(tmpdir(), 'rf-merged-'));
  const pipeline = readFileSync(pipelineFile, 'utf8').replace(
    /component: \$CI_SERVER_FQDN\/[^\s@]+\/([\w-]+)@\S+/g,
    'component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/$1@$CI_COMMIT_SHA',
  );
  mkdirSync(join(dir, 'home'));
  cpSync(join(ROOT, 'templates'), join(dir, 'templates'), { recursive: true });
  writeFileSync(join(dir, '.gitlab-ci.yml'), pipeline);
  writeFileSync(join(dir, '.gitignore'), '.gitlab-ci-local/\nhome/\n');
  const gitEnv = isolatedEnv({
    GIT_AUTHOR_NAME: 'consumer',
    GIT_AUTHOR_EMAIL: 'consumer@example.com',
    GIT_COMMITTER_NAME: 'consumer',
    GIT_COMMITTER_EMAIL: 'consumer@example.com',
    HOME: join(dir, 'home'),
  });
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, env: gitEnv, stdio: 'pipe' });
  git('init', '--quiet', '--initial-branch=main');
  // gitlab-ci-local takes CI_SERVER_FQDN and CI_PROJECT_PATH from the remote.
  git('remote', 'add', 'origin', 'git@gitlab.example.com:platform/ci.git');
  git('add', '.');
  git('commit', '--quiet', '-m', 'consumer pipeline');

  const run = (args: string[], source?: PipelineSource) => {
    const variables = source ? PIPELINE_SOURCES[source] : { set: {}, unset: [] };
    const result = spawnSync(
      process.execPath,
      [
        GITLAB_CI_LOCAL,
        '--no-color',
        ...SCHEMA_PATHS_NEWER_IN_GITLAB.flatMap((path) => ['--ignore-schema-paths', path]),
        '--ignore-predefined-vars',
        'CI_PIPELINE_SOURCE,CI_COMMIT_BRANCH,CI_DEFAULT_BRANCH,CI_MERGE_REQUEST_IID',
        ...Object.entries(variables.set).flatMap(([key, value]) => ['--variable', `${key}=${value}`]),
        ...variables.unset.flatMap((key) => ['--unset-variable', key]),
        ...args,
      ],
      { cwd: dir, env: gitEnv, encoding: 'utf8', timeout: 60_000 },
    );
    return result;
  };
  const afterMarker = (stdout: string, marker: RegExp) => {
    const lines = stdout.split('\n');
    const start = lines.findIndex((line) => marker.test(line));
    return start < 0 ? '' : lines.slice(start).join('\n');
  };

  // Each call starts gitlab-ci-local (a few seconds on a busy machine); a source is listed once.
  const listed = new Map<PipelineSource, ListedJob[]>();
  return {
    dir,
    list(source) {
      const cached = listed.get(source);
      if (cached) return cached;
      const result = run(['--list-json'], source);
      const json = afterMarker(result.stdout, /^\[/);
      if (result.status !== 0 || !json) {
        throw new Error(
          `gitlab-ci-local refused ${pipelineFile} (${source}):\n${result.stdout}${result.stderr}`,
        );
      }
      const jobs = JSON.parse(json) as ListedJob[];
      listed.set(source, jobs);
      return jobs;
    },
    preview() {
      const result = run(['--preview']);
      const yaml = afterMarker(result.stdout, /^---$/);
      if (result.status !== 0 || !yaml) {
        throw new Error(`gitlab-ci-local refused ${pipelineFile}:\n${result.stdout}${result.stderr}`);
      }
      return load(yaml) as Record<string, Job> & { stages: string[] };
    },
    refusal(source) {
      const result = run(['--list-json'], source);
      return { code: result.status, output: `${result.stdout}${result.stderr}` };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
