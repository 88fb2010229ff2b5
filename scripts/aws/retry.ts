/**
 * How long one AWS call may take and how it is retried. Every bound here is
 * finite, so a call ends (answer or error) within `callBoundMs()`:
 *
 * - one attempt is cut after `attemptTimeoutMs` (the SDK's requestTimeout
 *   only logs a warning unless throwOnRequestTimeout is set; see
 *   @smithy/node-http-handler setRequestTimeout);
 * - a timed-out or dropped attempt is tried again at most twice: a hung
 *   endpoint is not going to answer the eighth time either;
 * - throttling backs off exponentially (with jitter) up to 20 s, for at
 *   most `maxAttempts` attempts, so several pipelines polling one account
 *   ride it out; 5xx is retried like throttling but from a shorter base;
 * - anything else (AccessDenied, ValidationError) is not retried.
 *
 * Written against the RetryStrategyV2 interface of @smithy/types, which the
 * SDK's retry middleware calls once per failed attempt.
 */
import type { RetryErrorInfo, RetryStrategyV2, RetryToken } from '@smithy/types';

export interface RetryPolicy {
  /** Longest wait for one attempt's response, in ms. */
  attemptTimeoutMs: number;
  /** Attempts in all for throttling and 5xx (AWS_MAX_ATTEMPTS). */
  maxAttempts: number;
  /** First throttling back-off, in ms; doubles each retry, capped at MAX_BACKOFF_MS. */
  throttleBaseMs: number;
}

/** Timeouts and dropped connections: first try plus two retries. */
export const MAX_TIMEOUT_ATTEMPTS = 3;
/** AWS SDKs cap a back-off at 20 s; longer waits only slow a deploy that would succeed. */
export const MAX_BACKOFF_MS = 20_000;
// The SDK's own base for 5xx and dropped connections.
const SERVER_ERROR_BASE_MS = 100;

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  // CloudFormation answers in a second or two; 20 s is a hung connection.
  attemptTimeoutMs: 20_000,
  maxAttempts: 8,
  throttleBaseMs: 1_000,
};

/** The longest one AWS call can take, every retry and back-off included. */
export function callBoundMs(policy: RetryPolicy): number {
  let backoff = 0;
  for (let retry = 0; retry < policy.maxAttempts - 1; retry += 1) {
    backoff += Math.min(MAX_BACKOFF_MS, policy.throttleBaseMs * 2 ** retry);
  }
  // Throttling answers quickly; the slow case is attempts that each run into the timeout.
  const timeouts = MAX_TIMEOUT_ATTEMPTS * policy.attemptTimeoutMs;
  return Math.max(timeouts, policy.maxAttempts * 2_000) + backoff;
}

interface BoundedToken extends RetryToken {
  retries: number;
  timeouts: number;
  delayMs: number;
}

export function boundedRetryStrategy(
  policy: RetryPolicy,
  random: () => number = Math.random,
): RetryStrategyV2 {
  const token = (retries: number, timeouts: number, delayMs: number): BoundedToken => ({
    retries,
    timeouts,
    delayMs,
    getRetryCount: () => retries,
    getRetryDelay: () => delayMs,
  });
  return {
    acquireInitialRetryToken: async () => token(0, 0, 0),
    async refreshRetryTokenForRetry(previous, info: RetryErrorInfo) {
      const last = previous as BoundedToken;
      const attempts = last.retries + 1;
      const timedOut = isTimeoutOrDrop(info);
      const timeouts = last.timeouts + (timedOut ? 1 : 0);
      const retryable =
        info.errorType === 'THROTTLING' ||
        info.errorType === 'SERVER_ERROR' ||
        info.errorType === 'TRANSIENT';
      if (!retryable || attempts >= policy.maxAttempts || timeouts >= MAX_TIMEOUT_ATTEMPTS) {
        throw info.error ?? new Error(`AWS call failed (${info.errorType})`);
      }
      const base = info.errorType === 'THROTTLING' ? policy.throttleBaseMs : SERVER_ERROR_BASE_MS;
      const ceiling = Math.min(MAX_BACKOFF_MS, base * 2 ** last.retries);
      // Jitter (half the step fixed, half random) spreads pipelines that were throttled together.
      let delayMs = Math.round(ceiling / 2 + (random() * ceiling) / 2);
      const hinted = info.retryAfterHint ? info.retryAfterHint.getTime() - Date.now() : 0;
      if (hinted > delayMs) delayMs = Math.min(hinted, MAX_BACKOFF_MS);
      return token(attempts, timeouts, delayMs);
    },
    recordSuccess: () => undefined,
  };
}

function isTimeoutOrDrop(info: RetryErrorInfo): boolean {
  const error = info.error as
    | (Error & { code?: string; $metadata?: { httpStatusCode?: number } })
    | undefined;
  if (!error) return false;
  // No HTTP status: the attempt never got a response (timeout, reset, refused).
  return error.$metadata?.httpStatusCode === undefined && info.errorType === 'TRANSIENT';
}
