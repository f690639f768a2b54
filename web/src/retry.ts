// The retry schedule a policy gives, computed by the server's own backoff code (bundled from
// src/jobs/backoff.ts), so the preview cannot drift from what the scheduler does.
import { JITTER_RATIO, baseDelayMs } from '../../src/jobs/backoff.ts';
import type { RetryPolicy } from './types.ts';

export interface PlannedAttempt {
  attempt: number;
  /** Delay after the previous attempt failed (0 for the first attempt). */
  delayMs: number;
  /** Earliest and latest offset from the first attempt, with jitter (ignoring attempt durations). */
  fromMs: number;
  toMs: number;
}

export function retrySchedule(policy: RetryPolicy): PlannedAttempt[] {
  const out: PlannedAttempt[] = [{ attempt: 1, delayMs: 0, fromMs: 0, toMs: 0 }];
  let lo = 0;
  let hi = 0;
  for (let attempt = 2; attempt <= policy.max_attempts; attempt++) {
    const d = baseDelayMs(policy, attempt - 1);
    lo += d * (1 - JITTER_RATIO);
    hi += Math.min(policy.max_delay_ms, d * (1 + JITTER_RATIO));
    out.push({ attempt, delayMs: d, fromMs: lo, toMs: hi });
  }
  return out;
}

export { JITTER_RATIO };
