/**
 * The clock the waiting loops take (scripts/poll.ts), for unit
 * tests: time stands still until the code under test sleeps, and each sleep
 * moves it on at once by exactly the time asked, so a wait of an hour runs in
 * a millisecond and its backoff steps can be read back from `sleeps`.
 */
import type { Clock } from '../../scripts/poll.ts';

export interface FakeClock extends Clock {
  /** Every sleep asked for, in milliseconds, in order. */
  sleeps: number[];
  /** Called after each sleep with the count so far: lets a test change the world mid-wait. */
  onSleep?: (count: number) => void;
}

export function fakeClock(startMs = 0): FakeClock {
  let now = startMs;
  const clock: FakeClock = {
    sleeps: [],
    now: () => now,
    sleep: async (ms, signal) => {
      // A real sleep ends early when the signal fires; one that fired before is refused at once.
      signal?.throwIfAborted();
      clock.sleeps.push(ms);
      now += ms;
      clock.onSleep?.(clock.sleeps.length);
    },
  };
  return clock;
}
