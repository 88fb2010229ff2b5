/**
 * The one waiting loop every command uses: look, and if it is not done yet,
 * sleep a little longer each time (backoff) until a deadline. Short first
 * delays notice a quick finish within seconds; the cap spares the APIs on
 * long waits. Sleeps end early on SIGINT/SIGTERM (the signal).
 */
import { setTimeout as delay } from 'node:timers/promises';

export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await delay(ms, undefined, signal ? { signal } : {});
  },
};

/** Each wait is half again as long as the one before, up to the cap. */
const GROWTH = 1.5;

export interface PollOptions {
  clock: Clock;
  /** Clock time (ms) after which polling stops with timedOut. */
  deadline: number;
  firstDelayMs: number;
  maxDelayMs: number;
  signal?: AbortSignal | undefined;
}

export async function pollUntil<T>(
  observe: () => Promise<T>,
  isDone: (value: T) => boolean,
  options: PollOptions,
): Promise<{ value: T; timedOut: boolean }> {
  const { clock, deadline, signal } = options;
  let wait = options.firstDelayMs;
  for (;;) {
    signal?.throwIfAborted();
    const value = await observe();
    if (isDone(value)) return { value, timedOut: false };
    if (clock.now() >= deadline) return { value, timedOut: true };
    await clock.sleep(Math.min(wait, Math.max(0, deadline - clock.now())), signal);
    wait = Math.min(wait * GROWTH, options.maxDelayMs);
  }
}
