/**
 * Consumer pipelines merged as GitLab builds them (gitlab-ci-local, see
 * merged-pipeline.ts), per pipeline source: two fleets from one pipeline, a
 * production pipeline with workflow rules and a custom `default:`, and every
 * example. Checked: job names, stages, environments, needs, resource groups,
 * tags, images, and which jobs each pipeline source runs and how.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/emulator.ts';
import { DEFAULT_IMAGE, type Job } from './gitlab-ci.ts';
import {
  type ConsumerRepo,
  consumerRepo,
  GITLAB_CI_LOCAL,
  type ListedJob,
  PIPELINE_SOURCES,
  type PipelineSource,
} from './merged-pipeline.ts';

const pipelines = join(ROOT, 'test', 'components', 'pipelines');
const byName = (jobs: ListedJob[]) => Object.fromEntries(jobs.map((job) => [job.name, job]));
const whenOf = (jobs: ListedJob[]) => Object.fromEntries(jobs.map((job) => [job.name, job.when]));
/** Needs as job name and optional flag (the merged YAML leaves out `optional: false`). */
const needsOf = (job: Job | undefined) =>
  ((job?.needs as { job: string; optional?: boolean }[] | undefined) ?? []).map((n) => ({
    job: n.job,
    optional: n.optional === true,
  }));
const GLOBAL_KEYS = new Set(['stages', 'variables', 'workflow', 'default', 'include']);

describe.skipIf(!existsSync(GITLAB_CI_LOCAL))('merged consumer pipelines (gitlab-ci-local)', () => {
  describe('two fleets from one pipeline', () => {
    let repo: ConsumerRepo;
    let config: Record<string, Job> & { stages: string[] };
    beforeAll(() => {
      repo = consumerRepo(join(pipelines, 'two-fleets.yml'));
      config = repo.preview();
    });
    afterAll(() => repo?.remove());

    const fleets = [
      { name: 'build-fleet', region: 'eu-central-1' },
      { name: 'deploy-fleet', region: '$DEPLOY_FLEET_REGION' },
    ];

    it('has one set of distinctly named jobs per fleet, in the stages given', () => {
      const jobs = Object.keys(config).filter((key) => !GLOBAL_KEYS.has(key));
      expect(jobs.sort()).toEqual(
        fleets
          .flatMap(({ name }) =>
            ['deploy', 'destroy', 'preview', 'roll', 'smoke-test'].map((j) => `${name}-${j}`),
          )
          .sort(),
      );
      expect(config.stages).toEqual(['.pre', 'test', 'deploy', 'verify', '.post']);
      for (const { name } of fleets) {
        expect(config[`${name}-preview`]?.stage).toBe('test');
        expect(config[`${name}-deploy`]?.stage).toBe('deploy');
        expect(config[`${name}-roll`]?.stage).toBe('deploy');
        expect(config[`${name}-smoke-test`]?.stage).toBe('verify');
      }
    });

    it.each(fleets)('$name: its own environment, resource group, needs and tags', ({ name, region }) => {
      const group = `runner-fleet-${region}-${name}`;
      const environment = `runner-fleet/${region}/${name}`;
      const deploy = config[`${name}-deploy`] as Job & { environment: Record<string, string> };
      expect(deploy.environment).toMatchObject({
        name: environment,
        on_stop: `${name}-destroy`,
        action: 'start',
      });
      expect(config[`${name}-destroy`]?.environment).toEqual({ name: environment, action: 'stop' });
      expect(config[`${name}-preview`]?.environment).toEqual({ name: environment, action: 'prepare' });
      for (const job of ['deploy', 'destroy', 'preview', 'roll', 'smoke-test']) {
        expect(config[`${name}-${job}`]?.resource_group, job).toBe(group);
        expect(config[`${name}-${job}`]?.tags, job).toEqual(['fleet-ops']);
        expect(config[`${name}-${job}`]?.image, job).toEqual({ name: DEFAULT_IMAGE });
      }
      expect(needsOf(config[`${name}-roll`])).toEqual([{ job: `${name}-deploy`, optional: false }]);
      expect(needsOf(config[`${name}-smoke-test`])).toEqual([
        { job: `${name}-deploy`, optional: false },
        { job: `${name}-roll`, optional: true },
      ]);
    });

    it.each(Object.keys(PIPELINE_SOURCES) as PipelineSource[])(
      'runs the right jobs in a %s pipeline',
      (source) => {
        const when = whenOf(repo.list(source));
        const expected: Record<PipelineSource, Record<string, string>> = {
          'push to the default branch': {
            preview: 'never',
            deploy: 'on_success',
            destroy: 'manual',
            roll: 'never',
            'smoke-test': 'on_success',
          },
          'push to a feature branch': {
            preview: 'never',
            deploy: 'never',
            destroy: 'never',
            roll: 'never',
            'smoke-test': 'never',
          },
          'merge request': {
            preview: 'on_success',
            deploy: 'never',
            destroy: 'never',
            roll: 'never',
            'smoke-test': 'never',
          },
          'schedule on the default branch': {
            preview: 'never',
            deploy: 'on_success',
            destroy: 'manual',
            roll: 'on_success',
            'smoke-test': 'on_success',
          },
        };
        for (const { name } of fleets) {
          for (const [job, value] of Object.entries(expected[source]))
            expect(when[`${name}-${job}`], `${name}-${job}`).toBe(value);
        }
      },
    );

    it('orders a scheduled pipeline deploy → roll → smoke test for each fleet, never across fleets', () => {
      const jobs = byName(repo.list('schedule on the default branch'));
      for (const { name } of fleets) {
        const active = (job: string) => jobs[job]?.when !== 'never';
        const smokeNeeds = (jobs[`${name}-smoke-test`]?.needs ?? []).map((n) => n.job);
        expect(smokeNeeds).toEqual([`${name}-deploy`, `${name}-roll`]);
        expect(smokeNeeds.every(active)).toBe(true);
        expect((jobs[`${name}-roll`]?.needs ?? []).map((n) => n.job)).toEqual([`${name}-deploy`]);
      }
    });
  });

  describe('workflow rules and a custom default:', () => {
    let repo: ConsumerRepo;
    let config: Record<string, Job> & { stages: string[] };
    beforeAll(() => {
      repo = consumerRepo(join(pipelines, 'workflow-and-default.yml'));
      config = repo.preview();
    });
    afterAll(() => repo?.remove());

    const fleetJobs = [
      'runner-fleet-preview',
      'runner-fleet-deploy',
      'runner-fleet-destroy',
      'runner-fleet-roll',
      'runner-fleet-smoke-test',
    ];

    it('keeps the components’ own image, tags and before_script over default:', () => {
      expect(config.stages).toEqual(['.pre', 'build', 'verify', 'infrastructure', 'post-deploy', '.post']);
      for (const name of fleetJobs) {
        const job = config[name] as Job;
        expect(job.image, name).toEqual({ name: DEFAULT_IMAGE });
        expect(job.tags, name).toEqual(['fleet-ops']);
        expect((job.before_script as string[]).join('\n'), name).not.toContain('company-wide setup');
        expect(job.resource_group, name).toBe('runner-fleet-$FLEET_REGION-prod-runners');
      }
      expect(config['runner-fleet-deploy']?.environment).toMatchObject({
        name: 'runner-fleet/$FLEET_REGION/prod-runners',
      });
      expect(config.build?.image).toEqual({ name: 'registry.example.com/ci/base:2026.11' });
    });

    it('keeps the stop job manual although the consumer made the deploy on_success', () => {
      for (const source of ['push to the default branch', 'schedule on the default branch'] as const) {
        const when = whenOf(repo.list(source));
        expect(when['runner-fleet-deploy'], source).toBe('on_success');
        expect(when['runner-fleet-destroy'], source).toBe('manual');
      }
    });

    it('previews only in merge request pipelines and rolls only in scheduled ones', () => {
      const mr = whenOf(repo.list('merge request'));
      expect(mr).toMatchObject({
        'runner-fleet-preview': 'on_success',
        'runner-fleet-deploy': 'never',
        'runner-fleet-destroy': 'never',
        'runner-fleet-roll': 'never',
        'runner-fleet-smoke-test': 'never',
        build: 'on_success',
      });
      const scheduled = byName(repo.list('schedule on the default branch'));
      expect(scheduled['runner-fleet-roll']?.when).toBe('on_success');
      expect(scheduled['runner-fleet-preview']?.when).toBe('never');
      expect((scheduled['runner-fleet-smoke-test']?.needs ?? []).map((n) => n.job)).toEqual([
        'runner-fleet-deploy',
        'runner-fleet-roll',
      ]);
    });
  });

  describe('a mistyped deploy_job', () => {
    let repo: ConsumerRepo;
    beforeAll(() => {
      repo = consumerRepo(join(pipelines, 'mistyped-deploy-job.yml'));
    });
    afterAll(() => repo?.remove());

    it('makes the pipeline fail instead of starting the smoke test with it', () => {
      const refusal = repo.refusal('push to the default branch');
      expect(refusal.output).toMatch(
        /needs: \[runner-fleet-deplyo\] for runner-fleet-smoke-test could not be found/,
      );
      expect(refusal.code).not.toBe(0);
    });
  });

  describe.each(
    readdirSync(join(ROOT, 'examples'))
      .filter((f) => f.endsWith('.yml'))
      .sort(),
  )('examples/%s', (file) => {
    let repo: ConsumerRepo;
    let config: Record<string, Job>;
    beforeAll(() => {
      repo = consumerRepo(join(ROOT, 'examples', file));
      config = repo.preview();
    });
    afterAll(() => repo?.remove());

    it('merges, with every stop job manual and every job of one stack in its resource group', () => {
      for (const [name, job] of Object.entries(config)) {
        if (GLOBAL_KEYS.has(name)) continue;
        const environment = (job as Job).environment as { action?: string } | undefined;
        if (environment?.action === 'stop') expect((job as Job).when, name).toBe('manual');
      }
      for (const source of ['push to the default branch', 'schedule on the default branch'] as const) {
        for (const job of repo.list(source)) {
          const environment = (config[job.name] as Job | undefined)?.environment as
            | { action?: string }
            | undefined;
          if (environment?.action === 'stop')
            expect(['manual', 'never'], `${job.name} ${source}`).toContain(job.when);
        }
      }
    });
  });
});
