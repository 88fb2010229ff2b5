/**
 * The gitlab-runner system_id of a fleet instance, derived from its EC2
 * instance id so that a runner manager can be traced back to its instance.
 * The same rule lives in runner_configs/linux/lib/runner.sh (runner_system_id)
 * and runner_configs/windows/lib/Runner.ps1 (Get-RunnerSystemId); the three
 * must agree, and test/unit/runners.test.ts pins the examples the bats suite uses.
 */

/**
 * gitlab-runner keeps a `.runner_system_id` only when it matches this pattern
 * (commands/internal/configfile/system_id_state.go, loadFromFile); anything
 * else is silently replaced by a generated id, which would break the mapping.
 */
export const RUNNER_SYSTEM_ID_PATTERN = /^[sr]_[0-9a-zA-Z]{12}$/;

const INSTANCE_ID = /^i-([0-9a-f]{8}|[0-9a-f]{17})$/;

/**
 * "s_" + the last 12 hex digits of the instance id, lower case; 8-digit legacy
 * ids are left-padded with zeros. Throws on anything that is not an instance id.
 */
export function systemIdForInstance(instanceId: string): string {
  const match = INSTANCE_ID.exec(instanceId.toLowerCase());
  if (!match?.[1]) throw new Error(`not an EC2 instance id: '${instanceId}'`);
  return `s_${match[1].padStart(12, '0').slice(-12)}`;
}
