/**
 * The Markdown a reviewer reads for a preview, and its one-line summary.
 * Pure: turns a finished report (preview/classify.ts) and the gate's verdict
 * (preview/gate.ts) into text; decides nothing.
 */
import type { ChangeCounts, Effect, PreviewReport } from '../preview/classify.ts';
import type { GateResult } from '../preview/gate.ts';

/** The effects in the words a reviewer needs. */
export const EFFECT_TEXT: Readonly<Record<Effect, string>> = {
  'replaces-asg': 'replaces the Auto Scaling Group',
  'removes-asg': 'removes the Auto Scaling Group',
  'rolls-every-runner': 'rolls every runner',
  'changes-workers': 'changes the docker-autoscaler workers',
  permissions: 'changes permissions',
  'token-reference': 'changes the runner token reference',
  network: 'changes network access',
  none: 'no effect on running instances',
};

/** Why each effect matters, shown once under the summary when it occurs. */
const EFFECT_WARNING: Partial<Record<Effect, string>> = {
  'replaces-asg':
    'CloudFormation creates a new group and deletes the old one with all its instances at once: running jobs are cut off and every runner registers again',
  'removes-asg': 'the group and every instance in it are deleted',
  'rolls-every-runner':
    'a new launch template version: every runner is replaced by it on the next `runner-fleet roll` (instance refresh with drain) or when the group replaces an instance',
  'changes-workers':
    'workers launched after the update use the new settings; running jobs keep their workers, and the manager is not rolled for it',
  permissions: 'what the instances may do in AWS changes (IAM or a resource policy)',
  'token-reference':
    'the instances read the runner token from a different SSM parameter or secret; new instances register with it',
  network: 'security group rules apply to running instances at once',
};

/** Long property values (UserData, policy documents) are cut in the report; the change set has them whole. */
export const MAX_VALUE_CHARS = 300;

/** One line for the log and the job summary. */
export function summaryLine(report: PreviewReport): string {
  return `${countsText(report.counts)}; ${report.parameters.length} parameter${report.parameters.length === 1 ? '' : 's'} changed; ${report.effects.map((e) => EFFECT_TEXT[e]).join(', ')}`;
}

function countsText(counts: ChangeCounts): string {
  const replaced: string[] = [];
  if (counts.replace > 0) replaced.push(`${counts.replace} replaced`);
  if (counts.conditional > 0) replaced.push(`${counts.conditional} maybe replaced`);
  return `${counts.add} to add, ${counts.modify} to modify${replaced.length > 0 ? ` (${replaced.join(', ')})` : ''}, ${counts.remove} to remove`;
}

export function renderMarkdown(
  report: PreviewReport,
  gate: GateResult = { refusals: [], allowed: [] },
): string {
  const lines: string[] = [];
  const kind = report.changeSetType === 'CREATE' ? 'new stack' : 'update';
  lines.push(`### runner-fleet preview: \`${report.stackName}\` (${kind})`, '');
  const nothing = report.resources.length === 0 && report.parameters.length === 0;
  if (nothing) {
    lines.push(`No changes: \`${report.templatePath}\` matches the deployed stack.`, '');
  } else {
    lines.push(
      `From \`${report.templatePath}\`: **${countsText(report.counts)}**, ${report.parameters.length} parameter${report.parameters.length === 1 ? '' : 's'} changed.`,
      '',
      `**Effect on the fleet:** ${report.effects.map((e) => EFFECT_TEXT[e]).join('; ')}.`,
      '',
    );
  }
  for (const effect of report.effects) {
    const warning = EFFECT_WARNING[effect];
    if (!warning) continue;
    const sources = [
      ...report.resources.filter((r) => r.effects.includes(effect)).map((r) => `\`${r.logicalId}\``),
      ...report.parameters.filter((p) => p.effects.includes(effect)).map((p) => `\`${p.key}\``),
    ];
    lines.push(`> **${capitalise(EFFECT_TEXT[effect])}** (${sources.join(', ')}): ${warning}.`, '');
  }
  for (const refusal of gate.refusals) lines.push(`**Preview gate refused:** ${escapeText(refusal)}.`, '');
  for (const allowance of gate.allowed) lines.push(`Preview gate: ${escapeText(allowance)}.`, '');

  if (report.resources.length > 0) {
    lines.push('| Action | Resource | Type | Replacement | Effect |', '|---|---|---|---|---|');
    for (const r of report.resources) {
      lines.push(
        `| ${r.action} | \`${r.logicalId}\` | \`${r.type}\` | ${r.replacement ?? '-'} | ${r.effects.map((e) => EFFECT_TEXT[e]).join('; ')} |`,
      );
    }
    lines.push('');
  }
  if (report.parameters.length > 0) {
    lines.push(
      '**Parameters**',
      '',
      '| Parameter | Before | After | Used by | Effect |',
      '|---|---|---|---|---|',
    );
    for (const p of report.parameters) {
      lines.push(
        `| \`${p.key}\` | ${code(p.before)} | ${code(p.after)} | ${p.usedBy.map((id) => `\`${id}\``).join(', ') || '-'} | ${p.effects.map((e) => EFFECT_TEXT[e]).join('; ')} |`,
      );
    }
    lines.push('');
  }
  for (const r of report.resources) {
    const replacement = r.replacement ? `, replacement ${r.replacement}` : '';
    lines.push(
      `<details><summary><code>${r.logicalId}</code> ${r.action}${replacement}: ${r.effects.map((e) => EFFECT_TEXT[e]).join('; ')}</summary>`,
      '',
    );
    if (r.policyAction) lines.push(`Deletion or replacement policy: ${r.policyAction}.`, '');
    if (r.properties.length === 0) {
      lines.push(
        r.action === 'Add'
          ? 'New resource: every property is new.'
          : r.action === 'Remove'
            ? 'The resource is deleted.'
            : 'CloudFormation listed no property details.',
        '',
      );
    } else {
      lines.push(
        '| Property | Change | Recreation | Caused by | Before | After |',
        '|---|---|---|---|---|---|',
      );
      for (const p of r.properties) {
        lines.push(
          `| \`${escapeCell(p.path)}\` | ${p.changeType} | ${p.requiresRecreation || '-'} | ${escapeCell(p.causes.join(', ')) || '-'} | ${valueCell(p.before)} | ${valueCell(p.after)} |`,
        );
      }
      lines.push('');
    }
    lines.push('</details>', '');
  }
  lines.push(
    report.changeSetKept
      ? `Change set \`${report.changeSetName}\` was kept for review; it is not executed by this job.`
      : `Change set \`${report.changeSetName}\` was read and deleted; nothing was changed.`,
  );
  return `${lines.join('\n')}\n`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A value in a table cell: in <code>, HTML-escaped, pipes and newlines kept from breaking the table. */
function valueCell(value: string | undefined): string {
  if (value === undefined) return '(known at deploy time)';
  return code(value);
}

function code(value: string): string {
  const cut =
    value.length > MAX_VALUE_CHARS
      ? `${value.slice(0, MAX_VALUE_CHARS)}… (${value.length - MAX_VALUE_CHARS} more characters)`
      : value;
  return `<code>${escapeCell(escapeHtml(cut))}</code>`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '&#124;').replace(/\r?\n/g, '<br>');
}

function escapeText(text: string): string {
  return text.replace(/\r?\n/g, ' ');
}
