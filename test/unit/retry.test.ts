/** The AWS retry policy: what is retried, how often, and the bound on one call. */
import { describe, expect, it } from 'vitest';
import { retryPolicyFromEnv } from '../../scripts/aws/clients.ts';
import {
  boundedRetryStrategy,
  callBoundMs,
  DEFAULT_RETRY_POLICY,
  MAX_BACKOFF_MS,
  MAX_TIMEOUT_ATTEMPTS,
} from '../../scripts/aws/retry.ts';

type Info = Parameters<ReturnType<typeof boundedRetryStrategy>['refreshRetryTokenForRetry']>[1];

/** An SDK-shaped error (the fields the retry middleware looks at). */
const sdkError = (name: string, fields: Record<string, unknown>) =>
  Object.assign(new Error(name), { name, ...fields }) as unknown as Info['error'];

const timeout: Info = {
  errorType: 'TRANSIENT',
  error: sdkError('TimeoutError', { code: 'ETIMEDOUT', $metadata: {} }),
};
const throttle: Info = {
  errorType: 'THROTTLING',
  error: sdkError('Throttling', { $metadata: { httpStatusCode: 400 } }),
};
const denied: Info = {
  errorType: 'CLIENT_ERROR',
  error: sdkError('AccessDenied', { $metadata: { httpStatusCode: 403 } }),
};

/** Retries until the strategy refuses; returns the delays it chose. */
async function delaysUntilRefused(info: Info, maxAttempts = 8): Promise<number[]> {
  const strategy = boundedRetryStrategy({ ...DEFAULT_RETRY_POLICY, maxAttempts }, () => 1);
  let token = await strategy.acquireInitialRetryToken('');
  const delays: number[] = [];
  for (;;) {
    try {
      token = await strategy.refreshRetryTokenForRetry(token, info);
    } catch (error) {
      expect(error).toBe(info.error);
      return delays;
    }
    delays.push(token.getRetryDelay());
  }
}

describe('bounded retry strategy', () => {
  it('tries a call that gets no answer three times, not eight', async () => {
    expect(await delaysUntilRefused(timeout)).toHaveLength(MAX_TIMEOUT_ATTEMPTS - 1);
  });

  it('backs off throttling exponentially, capped at 20 s, for all attempts', async () => {
    expect(await delaysUntilRefused(throttle)).toEqual([1000, 2000, 4000, 8000, 16000, 20000, 20000]);
  });

  it('never retries a refusal', async () => {
    expect(await delaysUntilRefused(denied)).toEqual([]);
  });

  it('honours AWS_MAX_ATTEMPTS', async () => {
    expect(await delaysUntilRefused(throttle, 3)).toEqual([1000, 2000]);
  });

  it('bounds one call: three timed-out attempts or every throttled one, with back-off', () => {
    const bound = callBoundMs(DEFAULT_RETRY_POLICY);
    expect(bound).toBeGreaterThanOrEqual(MAX_TIMEOUT_ATTEMPTS * DEFAULT_RETRY_POLICY.attemptTimeoutMs);
    expect(bound).toBeLessThan(5 * 60_000);
    expect(MAX_BACKOFF_MS).toBe(20_000);
  });
});

describe('retry policy from the environment', () => {
  it('reads AWS_MAX_ATTEMPTS and RUNNER_FLEET_AWS_TIMEOUT_SECONDS', () => {
    expect(
      retryPolicyFromEnv({ AWS_MAX_ATTEMPTS: '3', RUNNER_FLEET_AWS_TIMEOUT_SECONDS: '1.5' }),
    ).toMatchObject({
      maxAttempts: 3,
      attemptTimeoutMs: 1500,
    });
  });

  it('reports bad values as input problems', () => {
    const problems: string[] = [];
    retryPolicyFromEnv({ AWS_MAX_ATTEMPTS: 'many', RUNNER_FLEET_AWS_TIMEOUT_SECONDS: '0' }, problems);
    expect(problems).toEqual([
      'invalid AWS_MAX_ATTEMPTS many: expected a whole number from 1 to 20',
      'invalid RUNNER_FLEET_AWS_TIMEOUT_SECONDS 0: expected seconds from 0.1 to 300',
    ]);
  });
});
