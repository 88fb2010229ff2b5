/**
 * The preview gate: the policy that refuses a change set a fleet should not
 * take unreviewed (--fail-on-replacement, --fail-on-permissions) unless
 * the run allows it explicitly (--allow-replacement,
 * --allow-permission-changes). Pure: judges a classified report.
 */
import type { PreviewReport } from './classify.ts';

export interface GateOptions {
  failOnReplacement: boolean;
  failOnPermissions: boolean;
  allowReplacement: boolean;
  allowPermissionChanges: boolean;
}

export interface GateResult {
  /** One line per refused kind of change; empty when the gate lets the change through. */
  refusals: string[];
  /** Gates that would have refused but were allowed explicitly. */
  allowed: string[];
}

/**
 * The preview gate. Replacement means the group's instances all go at once:
 * the Auto Scaling Group replaced (Replacement True, or Conditional, which may
 * turn out True) or removed. Permissions means any IAM or resource-policy change.
 */
export function evaluateGate(report: PreviewReport, options: GateOptions): GateResult {
  const refusals: string[] = [];
  const allowed: string[] = [];
  const asgChanges = report.resources.filter(
    (r) => r.effects.includes('replaces-asg') || r.effects.includes('removes-asg'),
  );
  if (options.failOnReplacement && asgChanges.length > 0) {
    const what = asgChanges
      .map((r) =>
        r.action === 'Remove' ? `${r.logicalId} removed` : `${r.logicalId} replacement ${r.replacement}`,
      )
      .join(', ');
    if (options.allowReplacement)
      allowed.push(`replacement of the Auto Scaling Group (${what}) allowed by --allow-replacement`);
    else
      refusals.push(
        `the change replaces the Auto Scaling Group (${what}); if that is intended, run again with --allow-replacement`,
      );
  }
  const permissionChanges = [
    ...report.resources.filter((r) => r.effects.includes('permissions')).map((r) => r.logicalId),
    ...report.parameters.filter((p) => p.effects.includes('permissions')).map((p) => `parameter ${p.key}`),
  ];
  if (options.failOnPermissions && permissionChanges.length > 0) {
    const what = permissionChanges.join(', ');
    if (options.allowPermissionChanges)
      allowed.push(`permission changes (${what}) allowed by --allow-permission-changes`);
    else
      refusals.push(
        `the change alters permissions (${what}); if that is intended, run again with --allow-permission-changes`,
      );
  }
  return { refusals, allowed };
}
