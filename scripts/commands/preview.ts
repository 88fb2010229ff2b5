import { writeFile } from 'node:fs/promises';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { describeStack } from '../aws/cloudformation.ts';
import { parseCloudFormationDocument } from '../config/cfn-yaml.ts';
import { parameterUsers } from '../config/template-references.ts';
import { GateError, InterruptedError } from '../errors.ts';
import type { GitLabClient } from '../gitlab/client.ts';
import {
  type MergeRequestRef,
  previewNoteMarker,
  upsertMergeRequestNote,
} from '../gitlab/merge-request-notes.ts';
import type { Logger } from '../log.ts';
import { type Clock, systemClock } from '../poll.ts';
import { buildPreviewReport, type PreviewReport } from '../preview/classify.ts';
import { evaluateGate, type GateOptions } from '../preview/gate.ts';
import { renderMarkdown, summaryLine } from '../render/change-set-report.ts';
import { renderTerraformReport } from '../render/terraform-report.ts';
import {
  createAndAwait,
  discardChangeSet,
  logParameters,
  planChangeSet,
  type TemplateInput,
} from '../stack/change-set.ts';
import { checkPreviewable } from '../stack/stack-state.ts';

export interface PreviewOptions extends TemplateInput {
  markdownFile: string | undefined;
  terraformReportFile: string | undefined;
  keepChangeSet: boolean;
  gate: GateOptions;
  /** Set with --mr-note: where to post, and the client to post with. */
  mergeRequest: (MergeRequestRef & { gitlab: GitLabClient }) | undefined;
}

export interface PreviewDependencies {
  cloudFormation: CloudFormationClient;
  log: Logger;
  signal?: AbortSignal;
  clock?: Clock;
}

export async function preview(options: PreviewOptions, deps: PreviewDependencies): Promise<PreviewReport> {
  const { cloudFormation: cfn, log, signal } = deps;
  const clock = deps.clock ?? systemClock;
  const stack = await describeStack(cfn, options.stackName, signal);
  checkPreviewable(stack, options.stackName);

  const plan = planChangeSet('preview', stack, options);
  log.info(
    `Previewing ${plan.type === 'CREATE' ? 'the creation' : 'an update'} of stack ${options.stackName} from ${options.template.path}`,
  );
  await logParameters(log, plan.resolution);

  const step = await createAndAwait(cfn, log, plan, {
    clock,
    includePropertyValues: true,
    ...(signal ? { signal } : {}),
  }).catch((error: unknown) => {
    throw signal?.aborted ? new InterruptedError(`preview of ${options.stackName} interrupted`) : error;
  });

  const outcome = step.kind === 'changes' ? step.changeSet.outcome : step.outcome;
  const kept = step.kind === 'changes' && options.keepChangeSet;
  if (step.kind === 'changes') {
    if (kept) {
      log.info(
        `Kept change set ${step.changeSet.name}: review it in the console, or delete it with aws cloudformation delete-change-set --stack-name ${options.stackName} --change-set-name ${step.changeSet.name}`,
      );
    } else {
      await discardChangeSet(cfn, log, options.stackName, step.changeSet.pending, clock);
    }
  }

  // Refused at once as unchanged: there is no change set to read parameters from.
  const computed = outcome !== undefined;
  const report = buildPreviewReport({
    stackName: options.stackName,
    changeSetType: plan.type,
    templatePath: options.template.path,
    changeSetName: step.kind === 'changes' ? step.changeSet.name : step.name,
    changeSetKept: kept,
    changes: outcome?.changes ?? [],
    stackParameters: computed && plan.type === 'UPDATE' ? (stack?.Parameters ?? []) : [],
    changeSetParameters: outcome?.pages[0]?.Parameters ?? [],
    declared: options.template.parameters,
    resolved: computed ? plan.resolution.parameters : [],
    parameterUsers: computed ? parameterUsers(parseCloudFormationDocument(options.template.body)) : new Map(),
  });
  return finish(report, options, deps);
}

/** Reports first, then the note, then the gate: a refused change still leaves its reports behind. */
async function finish(
  report: PreviewReport,
  options: PreviewOptions,
  deps: PreviewDependencies,
): Promise<PreviewReport> {
  const { log, signal } = deps;
  const gate = evaluateGate(report, options.gate);
  const markdown = renderMarkdown(report, gate);
  await log.section('report', 'Preview report (Markdown)', async () => {
    for (const line of markdown.trimEnd().split('\n')) log.info(line);
  });
  if (options.markdownFile) {
    await writeFile(options.markdownFile, markdown, { mode: 0o644 });
    log.info(`Wrote the Markdown report to ${options.markdownFile}`);
  }
  if (options.terraformReportFile) {
    await writeFile(options.terraformReportFile, renderTerraformReport(report.counts), { mode: 0o644 });
    log.info(`Wrote the Terraform report to ${options.terraformReportFile}`);
  }
  if (options.mergeRequest) {
    if (signal?.aborted) throw new InterruptedError(`preview of ${options.stackName} interrupted`);
    const { gitlab, ...target } = options.mergeRequest;
    const result = await upsertMergeRequestNote(
      gitlab,
      target,
      previewNoteMarker(options.stackName),
      markdown,
    );
    log.info(
      `${result.action === 'created' ? 'Created' : 'Updated'} note ${result.noteId} on merge request !${target.mergeRequestIid}`,
    );
  }
  log.info(`Preview of ${options.stackName}: ${summaryLine(report)}`);
  for (const allowance of gate.allowed) log.warn(`preview gate: ${allowance}`);
  if (gate.refusals.length > 0) throw new GateError(`preview gate: ${gate.refusals.join('; ')}`);
  return report;
}
