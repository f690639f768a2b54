// The one retry decision, as a table: every way an attempt can end, against the attempts left.
import { describe, expect, it } from 'vitest';
import { nextStep, type AttemptEnd } from '../../src/jobs/retryDecision.ts';
import type { RetryColumns } from '../../src/jobs/backoff.ts';

const expo: RetryColumns = {
  retry_strategy: 'exponential',
  max_attempts: 3,
  base_delay_ms: 1000,
  max_delay_ms: 60_000,
};
const linear: RetryColumns = { ...expo, retry_strategy: 'linear', max_attempts: 5 };
const mid = () => 0.5; // jitter factor exactly 1: delays are the un-jittered schedule

const ok: AttemptEnd = { outcome: 'succeeded', retryable: false, retryAfterMs: null };
const timeout: AttemptEnd = { outcome: 'timeout', retryable: true, retryAfterMs: null };
const http500: AttemptEnd = { outcome: 'failed', retryable: true, retryAfterMs: null };
const http404: AttemptEnd = { outcome: 'failed', retryable: false, retryAfterMs: null };
const blocked: AttemptEnd = { outcome: 'blocked', retryable: false, retryAfterMs: null };
const cancelled: AttemptEnd = { outcome: 'cancelled', retryable: false, retryAfterMs: null };
const http429 = (ms: number): AttemptEnd => ({ outcome: 'failed', retryable: true, retryAfterMs: ms });

describe('nextStep', () => {
  it.each([
    // [what, policy, attempts used (this one included), end, expected]
    ['success on the first attempt', expo, 1, ok, { status: 'succeeded', delayMs: null }],
    ['success on the last attempt', expo, 3, ok, { status: 'succeeded', delayMs: null }],
    ['timeout, attempts left: exponential 1 s', expo, 1, timeout, { status: 'retrying', delayMs: 1000 }],
    ['5xx, second attempt: exponential 2 s', expo, 2, http500, { status: 'retrying', delayMs: 2000 }],
    ['5xx on the last attempt: failed', expo, 3, http500, { status: 'failed', delayMs: null }],
    ['linear, third attempt: 3 s', linear, 3, timeout, { status: 'retrying', delayMs: 3000 }],
    ['a permanent 4xx fails at once', expo, 1, http404, { status: 'failed', delayMs: null }],
    ['a blocked target fails at once', expo, 1, blocked, { status: 'failed', delayMs: null }],
    ['an aborted (cancelled) attempt fails', expo, 1, cancelled, { status: 'failed', delayMs: null }],
    ['Retry-After replaces the backoff', expo, 1, http429(7000), { status: 'retrying', delayMs: 7000 }],
    [
      'Retry-After is capped by max_delay_ms',
      expo,
      1,
      http429(3_600_000),
      { status: 'retrying', delayMs: 60_000 },
    ],
    ['Retry-After 0 means now', expo, 1, http429(0), { status: 'retrying', delayMs: 0 }],
    [
      'Retry-After on the last attempt: still failed',
      expo,
      3,
      http429(10),
      { status: 'failed', delayMs: null },
    ],
    [
      'lost (reaped), attempts left: backoff as for a failure',
      expo,
      2,
      'lost',
      { status: 'retrying', delayMs: 2000 },
    ],
    ['lost on the last attempt: failed', expo, 3, 'lost', { status: 'failed', delayMs: null }],
  ] as const)('%s', (_what, policy, attempts, end, expected) => {
    expect(nextStep({ ...policy, attempts }, end, mid)).toEqual(expected);
  });

  it('jitter spreads retries within ±10% and never past the cap', () => {
    const job = { ...expo, attempts: 1 };
    expect(nextStep(job, timeout, () => 0)).toEqual({ status: 'retrying', delayMs: 900 });
    expect(nextStep(job, timeout, () => 0.999999)).toEqual({ status: 'retrying', delayMs: 1100 });
    const capped = { ...expo, max_attempts: 20, attempts: 10 };
    expect(nextStep(capped, timeout, () => 0.999999)).toEqual({ status: 'retrying', delayMs: 60_000 });
  });
});
