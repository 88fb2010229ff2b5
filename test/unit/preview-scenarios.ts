/** Shared by the preview unit tests: the recorded scenarios, the fleet template and golden files. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DescribeChangeSetCommandOutput, Stack } from '@aws-sdk/client-cloudformation';
import { expect } from 'vitest';
import { parseCloudFormationDocument } from '../../scripts/config/cfn-yaml.ts';
import { parseTemplate } from '../../scripts/config/template.ts';
import { parameterUsers } from '../../scripts/config/template-references.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
export const fleetTemplate = parseTemplate(
  'cfn/runner-fleet.yaml',
  readFileSync(join(ROOT, 'cfn/runner-fleet.yaml'), 'utf8'),
);
export const fleetUsers = parameterUsers(parseCloudFormationDocument(fleetTemplate.body));

export interface Scenario {
  stack: Stack;
  pages: DescribeChangeSetCommandOutput[];
}

export function loadScenario(name: string): Scenario {
  const raw = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/change-sets', `${name}.json`), 'utf8')) as {
    DescribeStacks: { Stacks: Stack[] };
    DescribeChangeSet: DescribeChangeSetCommandOutput[];
  };
  const stack = raw.DescribeStacks.Stacks[0];
  if (!stack) throw new Error(`fixture ${name} has no stack`);
  return { stack, pages: raw.DescribeChangeSet };
}

/** What each scenario's run was given on the command line. */
export const SCENARIO_INPUTS: Record<string, Record<string, string>> = {
  'ami-change': { RunnerVersion: '17.11.1' },
  'instance-type-change': { InstanceTypes: 'c7i.large,c6i.large' },
  'iam-change': { RunnerTokenParameterName: '/runner-fleet/prod/token-2026' },
  'asg-replacement': {},
  'docker-autoscaler-workers': {
    WorkerMaxInstances: '20',
    WorkerIdleCount: '2',
    WorkerIdlePeriods: '* 7-18 * * mon-fri',
  },
};

export function expectGolden(name: string, actual: string): void {
  const path = join(ROOT, 'test/golden', `${name}.md`);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, actual);
  expect(actual).toBe(readFileSync(path, 'utf8'));
}
