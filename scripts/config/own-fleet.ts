/**
 * Whether the job that runs `roll` or `destroy` runs on a runner of the very
 * fleet it is about to replace or delete. Such a job drains the instance it
 * runs on, waits out its own drain and fails, or is killed with its fleet.
 *
 * GitLab gives every job the variables of the runner that picked it up
 * (`Ci::Runner#predefined_variables`): CI_RUNNER_ID (the runner's id),
 * CI_RUNNER_DESCRIPTION (its description on the server) and CI_RUNNER_TAGS.
 * Two of them identify this fleet:
 *
 * - CI_RUNNER_ID equal to the fleet's runner id. With a `glrt-` token every
 *   instance is a *manager* of one runner, so every job on the fleet carries
 *   that id. The fleet's id comes from commands/fleet-runner.ts: --runner-id,
 *   else the runner token (POST /runners/verify), else the id create-runner
 *   recorded on the stack's token parameter.
 * - CI_RUNNER_DESCRIPTION `<stack>-i-<hex>`. The bootstrap registers each
 *   instance with `--name <stack>-<instance id>`
 *   (runner_configs/linux/lib/bootstrap.sh); with a (deprecated) registration
 *   token every instance is a runner of its own and that name is its
 *   description. Works without any GitLab call.
 *
 * CI_RUNNER_TAGS is not used: tags say what a runner can do, and other
 * runners may carry the same ones, so a match would refuse innocent jobs.
 */
import { InputError } from '../errors.ts';
import type { Logger } from '../log.ts';

export const ALLOW_OWN_FLEET_FLAG = '--allow-own-fleet';

/** The runner of the current GitLab job; undefined outside a GitLab job. */
export interface JobRunner {
  id?: number;
  description?: string;
}

export function jobRunnerFromEnv(env: NodeJS.ProcessEnv): JobRunner | undefined {
  const rawId = env.CI_RUNNER_ID?.trim();
  const description = env.CI_RUNNER_DESCRIPTION?.trim();
  const id = rawId && /^[0-9]+$/.test(rawId) ? Number(rawId) : undefined;
  if (id === undefined && !description) return undefined;
  return { ...(id !== undefined ? { id } : {}), ...(description ? { description } : {}) };
}

export type OwnFleetVerdict =
  | { kind: 'own'; evidence: string }
  | { kind: 'other' }
  | { kind: 'unknown'; reason: string };

/** Instance ids are i- and 8 or 17 hex digits. */
const INSTANCE_SUFFIX = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

/** `<stack>-<instance id>`: the name the bootstrap registers each instance under. */
export function describesFleetInstance(description: string | undefined, stackName: string): boolean {
  if (!description?.startsWith(`${stackName}-`)) return false;
  return INSTANCE_SUFFIX.test(description.slice(stackName.length + 1));
}

/**
 * Pure: does the job's runner belong to the fleet of `stackName` whose runner
 * is `fleetRunnerId` (undefined when it could not be found out)?
 */
export function ownFleetVerdict(
  jobRunner: JobRunner,
  stackName: string,
  fleetRunnerId: number | undefined,
): OwnFleetVerdict {
  if (describesFleetInstance(jobRunner.description, stackName)) {
    return {
      kind: 'own',
      evidence: `its runner "${jobRunner.description}" (CI_RUNNER_DESCRIPTION) is an instance of ${stackName}`,
    };
  }
  if (jobRunner.id === undefined) return { kind: 'other' };
  if (fleetRunnerId === undefined) {
    return {
      kind: 'unknown',
      reason: `the fleet's runner id is unknown: pass --runner-id (or set RUNNER_FLEET_RUNNER_TOKEN, or let create-runner record it) so this job can tell whether runner #${jobRunner.id} is the fleet's`,
    };
  }
  return jobRunner.id === fleetRunnerId
    ? { kind: 'own', evidence: `it runs on runner #${jobRunner.id} (CI_RUNNER_ID), the fleet's runner` }
    : { kind: 'other' };
}

export interface OwnFleetCheck {
  verb: 'roll' | 'destroy';
  stackName: string;
  allowOwnFleet: boolean;
  env: NodeJS.ProcessEnv;
  /** The fleet's runner id, looked up only when the job's runner id needs comparing. */
  fleetRunnerId: () => Promise<number | undefined>;
  log: Logger;
}

/**
 * Throws an InputError (one line, exit 2) when the job runs on the fleet it
 * changes, unless --allow-own-fleet; warns when it cannot tell.
 */
export async function refuseOwnFleet(check: OwnFleetCheck): Promise<void> {
  const jobRunner = jobRunnerFromEnv(check.env);
  if (!jobRunner) return;
  let fleetRunnerId: number | undefined;
  // The description alone may settle it; only then is the runner id worth a GitLab call.
  if (!describesFleetInstance(jobRunner.description, check.stackName) && jobRunner.id !== undefined) {
    try {
      fleetRunnerId = await check.fleetRunnerId();
    } catch (error) {
      check.log.warn(
        `cannot tell whether this job runs on ${check.stackName}'s own runner: ${(error as Error).message}`,
      );
      return;
    }
  }
  const verdict = ownFleetVerdict(jobRunner, check.stackName, fleetRunnerId);
  if (verdict.kind === 'unknown') {
    check.log.warn(`cannot tell whether this job runs on ${check.stackName}'s own runner: ${verdict.reason}`);
    return;
  }
  if (verdict.kind === 'other') return;
  const consequence = `the ${check.verb} would drain the instance running it`;
  if (check.allowOwnFleet) {
    check.log.warn(
      `${check.verb} of ${check.stackName} runs on that fleet (${verdict.evidence}); ${consequence}. Going on: ${ALLOW_OWN_FLEET_FLAG} given`,
    );
    return;
  }
  throw new InputError(
    `refusing to ${check.verb} ${check.stackName} from a job on that fleet: ${verdict.evidence}, and ${consequence}; run the job on another runner (component input tags) or pass ${ALLOW_OWN_FLEET_FLAG}`,
  );
}
