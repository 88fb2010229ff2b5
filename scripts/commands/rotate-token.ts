/**
 * `runner-fleet rotate-token`: resets the fleet's runner authentication token
 * in one place and writes the new one as a new version of the SSM parameter.
 * The instances never rotate it themselves (their config.toml has no
 * token_expires_at, see runner_configs/README.md); their lifecycle agent
 * notices the new version and swaps it into config.toml, and the runner
 * reloads it without touching running jobs. With --if-expires-within-days it
 * rotates only when the token is that close to expiry, so a nightly schedule
 * can call it every time.
 */
import type { SSMClient } from '@aws-sdk/client-ssm';
import { describeRunnerToken, readRunnerToken, writeRunnerToken } from '../aws/runner-token-parameter.ts';
import { firstLine, InputError, OperationError } from '../errors.ts';
import type { GitLabClient } from '../gitlab/client.ts';
import { resetRunnerToken } from '../gitlab/runner-admin.ts';
import { verifyRunnerToken } from '../gitlab/runners.ts';
import type { Logger } from '../log.ts';

export interface RotateTokenOptions {
  parameterName: string;
  /** Rotate only when the token expires within this many days; a token without expiry is left alone. */
  ifExpiresWithinDays?: number;
  /** The runner, when neither the parameter's tag nor the token can tell. */
  runnerId?: number;
  kmsKeyId?: string;
}

export interface RotateTokenDependencies {
  ssm: SSMClient;
  /** Runner-token endpoints (verify, reset with the current token): no API token. */
  runnerApi: GitLabClient;
  /** With RUNNER_FLEET_GITLAB_TOKEN: reset by runner id, which works after expiry too. */
  api?: GitLabClient;
  log: Logger;
  now?: () => Date;
}

export type RotateOutcome =
  | { action: 'rotated'; runnerId: number; version: number; tokenExpiresAt: string | null }
  | { action: 'not-due'; runnerId: number; tokenExpiresAt: string | null };

const DAY_MS = 86_400_000;

export async function rotateToken(
  options: RotateTokenOptions,
  deps: RotateTokenDependencies,
): Promise<RotateOutcome> {
  const { log } = deps;
  const now = (deps.now ?? (() => new Date()))();
  const record = await describeRunnerToken(deps.ssm, options.parameterName);
  const currentToken = record ? await readRunnerToken(deps.ssm, options.parameterName) : undefined;
  if (!record || !currentToken) {
    throw new InputError(
      `SSM parameter ${options.parameterName} holds no runner token: run runner-fleet create-runner first`,
    );
  }
  // The current token speaks for itself: its runner and real expiry, straight from GitLab.
  const verified = await verifyRunnerToken(deps.runnerApi, currentToken);
  const runnerId = verified?.id ?? options.runnerId ?? record.runnerId;
  const expiresAt = verified ? verified.tokenExpiresAt : (record.tokenExpiresAt ?? null);
  if (!verified) {
    log.warn(
      `GitLab refused the token in ${options.parameterName} (expired or reset elsewhere): the fleet cannot take jobs until it is replaced`,
    );
  }

  if (runnerId === undefined) {
    throw new InputError(
      `the token in ${options.parameterName} is refused and the parameter records no runner id: pass --runner-id with RUNNER_FLEET_GITLAB_TOKEN`,
    );
  }
  if (verified && options.ifExpiresWithinDays !== undefined) {
    const due =
      expiresAt !== null && Date.parse(expiresAt) - now.getTime() <= options.ifExpiresWithinDays * DAY_MS;
    if (!due) {
      log.info(
        expiresAt === null
          ? `The token of runner #${runnerId} does not expire: not rotated`
          : `The token of runner #${runnerId} expires ${expiresAt}, in ${daysUntil(expiresAt, now)} days: not rotated (--if-expires-within-days ${options.ifExpiresWithinDays})`,
      );
      return { action: 'not-due', runnerId, tokenExpiresAt: expiresAt };
    }
  }

  let how: string;
  let issued: Awaited<ReturnType<typeof resetRunnerToken>>;
  if (deps.api) {
    how = `POST /runners/${runnerId}/reset_authentication_token`;
    issued = await resetRunnerToken(deps.api, { runnerId });
  } else if (verified) {
    how = 'POST /runners/reset_authentication_token with the current token';
    issued = await resetRunnerToken(deps.runnerApi, { currentToken });
  } else {
    throw new InputError(
      `the token in ${options.parameterName} is refused by GitLab, so only an API token can reset it: set RUNNER_FLEET_GITLAB_TOKEN (Owner/Maintainer of the runner, or admin)`,
    );
  }
  // From here the old token is dead in GitLab: the new one must reach SSM, whatever happens.
  const written = await writeRunnerToken(
    deps.ssm,
    options.parameterName,
    { token: issued.token, runnerId, tokenExpiresAt: issued.tokenExpiresAt },
    options.kmsKeyId ? { kmsKeyId: options.kmsKeyId } : {},
  ).catch((error: unknown) => {
    throw new OperationError(
      `the token of runner #${runnerId} was reset in GitLab but the new one could not be written to SSM ${options.parameterName}: ${firstLine(error)}`,
      [
        'the fleet cannot take new jobs until the parameter holds a valid token: fix the SSM access and run rotate-token again with RUNNER_FLEET_GITLAB_TOKEN set (it resets by runner id)',
      ],
    );
  });
  log.info(
    `Rotated the token of runner #${runnerId} (${how}): SSM ${options.parameterName} version ${written.version} (value not shown)${issued.tokenExpiresAt ? `, expires ${issued.tokenExpiresAt}` : ', no expiry'}`,
  );
  log.info(
    'Instances swap it into config.toml within a minute; running jobs go on, new jobs wait at most that long',
  );
  return { action: 'rotated', runnerId, version: written.version, tokenExpiresAt: issued.tokenExpiresAt };
}

function daysUntil(iso: string, now: Date): number {
  return Math.floor((Date.parse(iso) - now.getTime()) / DAY_MS);
}
