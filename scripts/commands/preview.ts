import { writeFile } from 'node:fs/promises';
import type {
  CloudFormationClient,
  DescribeChangeSetCommandOutput,
  Parameter,
  Stack,
} from '@aws-sdk/client-cloudformation';
import { describeStack, isInProgress, isNoChangeReason, STUCK_STATUS_ADVICE } from '../aws/cloudformation.ts';
import { parseCloudFormationDocument } from '../config/cfn-yaml.ts';
import type { LoadedTemplate } from '../config/template.ts';
import { parameterUsers } from '../config/template-references.ts';
import { GateError, InterruptedError, OperationError } from '../errors.ts';
import type { GitLabClient } from '../gitlab/client.ts';
import {
  type MergeRequestRef,
  previewNoteMarker,
  upsertMergeRequestNote,
} from '../gitlab/merge-request-notes.ts';
import type { Logger } from '../log.ts';
import { buildPreviewReport, type PreviewReport } from '../preview/classify.ts';
import { evaluateGate, type GateOptions } from '../preview/gate.ts';
import { renderMarkdown, summaryLine } from '../render/change-set-report.ts';
import { renderTerraformReport } from '../render/terraform-report.ts';
import {
  CHANGE_SET_MAX_WAIT_SECONDS,
  changeSetName,
  createChangeSetFor,
  discardChangeSet,
  logParameters,
  type PendingChangeSet,
  planChangeSet,
  waitForChangeSet,
} from './change-set.ts';

export interface PreviewOptions {
  stackName: string;
  template: LoadedTemplate;
  parameterValues: ReadonlyMap<string, string>;
  tags: ReadonlyMap<string, string>;
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
}

export async function preview(options: PreviewOptions, deps: PreviewDependencies): Promise<PreviewReport> {
  const { cloudFormation: cfn, log, signal } = deps;
  const stack = await describeStack(cfn, options.stackName, signal);
  checkPreviewable(stack, options.stackName);

  const { type: changeSetType, resolution } = planChangeSet(stack, options.template, options.parameterValues);

  log.info(
    `Previewing ${changeSetType === 'CREATE' ? 'the creation' : 'an update'} of stack ${options.stackName} from ${options.template.path}`,
  );
  await logParameters(log, resolution);

  const name = changeSetName('preview', new Date());
  let pending: PendingChangeSet | undefined;
  let described: { changes: DescribeChangeSetCommandOutput['Changes']; parameters: Parameter[] };
  let kept = false;
  try {
    const created = await createChangeSetFor(
      cfn,
      {
        stackName: options.stackName,
        name,
        type: changeSetType,
        template: options.template,
        resolution,
        tags: options.tags,
        description: `runner-fleet preview of ${options.template.path}`,
      },
      log,
    );
    if (created === 'no-changes') return await finish(emptyReport(), options, deps);
    pending = {
      id: created.changeSetId,
      stackId: created.stackId,
      stackCreatedForIt: changeSetType === 'CREATE' && !stack,
    };
    signal?.throwIfAborted();
    log.info(`Change set ${name} created; waiting for CloudFormation to compute it`);

    const outcome = await waitForChangeSet(cfn, options.stackName, created.changeSetId, {
      maxWaitSeconds: CHANGE_SET_MAX_WAIT_SECONDS,
      includePropertyValues: true,
      ...(signal ? { abortSignal: signal } : {}),
    });
    signal?.throwIfAborted();
    const noChanges = outcome.status === 'FAILED' && isNoChangeReason(outcome.statusReason);
    if (outcome.status !== 'CREATE_COMPLETE' && !noChanges) {
      throw new OperationError(`change set for ${options.stackName} ended in ${outcome.status}`, [
        outcome.statusReason || 'CloudFormation gave no reason',
      ]);
    }
    described = { changes: outcome.changes, parameters: outcome.pages[0]?.Parameters ?? [] };

    kept = options.keepChangeSet && !noChanges;
    if (kept) {
      log.info(
        `Kept change set ${name}: review it in the console, or delete it with aws cloudformation delete-change-set --stack-name ${options.stackName} --change-set-name ${name}`,
      );
    } else {
      await discardChangeSet(cfn, log, options.stackName, pending);
    }
    pending = undefined;
  } catch (error) {
    if (pending) await discardChangeSet(cfn, log, options.stackName, pending);
    if (signal?.aborted) throw new InterruptedError(`preview of ${options.stackName} interrupted`);
    throw error;
  }

  const report = buildPreviewReport({
    stackName: options.stackName,
    changeSetType,
    templatePath: options.template.path,
    changeSetName: name,
    changeSetKept: kept,
    changes: described.changes ?? [],
    stackParameters: changeSetType === 'UPDATE' ? (stack?.Parameters ?? []) : [],
    changeSetParameters: described.parameters,
    declared: options.template.parameters,
    resolved: resolution.parameters,
    parameterUsers: parameterUsers(parseCloudFormationDocument(options.template.body)),
  });
  return finish(report, options, deps);

  function emptyReport(): PreviewReport {
    return buildPreviewReport({
      stackName: options.stackName,
      changeSetType,
      templatePath: options.template.path,
      changeSetName: name,
      changeSetKept: false,
      changes: [],
      stackParameters: [],
      changeSetParameters: [],
      declared: options.template.parameters,
      resolved: [],
      parameterUsers: new Map(),
    });
  }
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

/** A change set cannot be made for a stack that is busy or stuck; say what to do instead. */
function checkPreviewable(stack: Stack | undefined, stackName: string): void {
  const status = stack?.StackStatus;
  if (!status) return;
  if (isInProgress(status)) {
    throw new OperationError(`stack ${stackName} is ${status}: another operation is running`, [
      'run preview again when it has finished',
    ]);
  }
  const advice = STUCK_STATUS_ADVICE[status];
  if (advice) {
    throw new OperationError(`stack ${stackName} is ${status} and cannot be previewed`, [
      advice.replaceAll('STACK', stackName),
    ]);
  }
  if (status === 'ROLLBACK_COMPLETE') {
    throw new OperationError(`stack ${stackName} is ROLLBACK_COMPLETE (its first create failed)`, [
      'deploy deletes it and creates it again; there is nothing to compare a change set with until then',
    ]);
  }
}
