/** Pure formatting of stack events, change sets and outputs for the log. */
import type { Change, StackEvent } from '@aws-sdk/client-cloudformation';

export function formatTimestamp(date: Date | undefined): string {
  return (date ?? new Date(0)).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** One append-only line per event: time, logical id, type, status, reason. */
export function formatStackEvent(event: StackEvent): string {
  const parts = [
    formatTimestamp(event.Timestamp),
    (event.LogicalResourceId ?? '-').padEnd(30),
    (event.ResourceType ?? '-').padEnd(38),
    (event.ResourceStatus ?? '-').padEnd(20),
  ];
  const reason = oneLine(event.ResourceStatusReason);
  return `${parts.join(' ')}${reason ? ` ${reason}` : ''}`.trimEnd();
}

/** `+` add, `>` modify, `-` remove, with the replacement flag a reviewer needs. */
export function formatChange(change: Change): string {
  const resource = change.ResourceChange;
  if (!resource) return `? ${change.Type ?? 'unknown change'}`;
  const symbol =
    resource.Action === 'Add'
      ? '+'
      : resource.Action === 'Remove'
        ? '-'
        : resource.Action === 'Modify'
          ? '>'
          : '~';
  const replacement =
    resource.Action === 'Modify' && resource.Replacement ? ` (replacement: ${resource.Replacement})` : '';
  return `${symbol} ${resource.LogicalResourceId ?? '?'} ${resource.ResourceType ?? ''}${replacement}`.trimEnd();
}

/** Failure reasons worth showing first: the resources that failed, not the cancellations they caused. */
export function firstFailureReasons(events: readonly StackEvent[], limit = 5): string[] {
  const failed = events.filter((event) => event.ResourceStatus?.endsWith('_FAILED'));
  const causes = failed.filter((event) => !/cancelled/i.test(event.ResourceStatusReason ?? ''));
  const chosen = (causes.length > 0 ? causes : failed).slice(0, limit);
  return chosen.map(
    (event) =>
      `${event.LogicalResourceId ?? '?'} (${event.ResourceType ?? '?'}) ${event.ResourceStatus}: ${oneLine(event.ResourceStatusReason) || 'no reason given'}`,
  );
}

function oneLine(text: string | undefined): string {
  return (text ?? '').replace(/\s+/g, ' ').trim();
}
