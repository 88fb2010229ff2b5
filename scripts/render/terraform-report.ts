/**
 * The GitLab Terraform report (`artifacts:reports:terraform`): three integer
 * counts the merge request widget shows without any token.
 *
 * Counting follows GitLab's own gitlab-terraform report, which counts the
 * actions of each planned change: a Terraform replacement is a delete plus a
 * create, so it counts once in `create` and once in `delete`. A CloudFormation
 * Modify with Replacement True is counted the same way, so the widget shows a
 * replaced resource as destructive; Replacement Conditional (CloudFormation
 * cannot tell yet) counts as `update`, and the MR note says "maybe replaced".
 */
import type { ChangeCounts } from '../preview/classify.ts';

export interface TerraformReport {
  create: number;
  update: number;
  delete: number;
}

export function terraformReport(counts: ChangeCounts): TerraformReport {
  return {
    create: counts.add + counts.replace,
    update: counts.modify - counts.replace,
    delete: counts.remove + counts.replace,
  };
}

export function renderTerraformReport(counts: ChangeCounts): string {
  return `${JSON.stringify(terraformReport(counts))}\n`;
}
