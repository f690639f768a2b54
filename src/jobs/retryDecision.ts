// The one decision about what happens to a job after an attempt ends, for every way it can end: a
// classified result from the scheduler, or `lost` from the reaper (the worker stopped heartbeating).
// Pure, after River's makeRetryDecision: both callers get the same answer for the same facts.
import { backoffDelayMs, retryPolicyOf, type RetryColumns } from './backoff.ts';
import type { Outcome } from './stateMachine.ts';

/** How an attempt ended, as far as retrying is concerned. */
export type AttemptEnd =
  | {
      outcome: Outcome;
      retryable: boolean;
      /** The target's Retry-After in ms (429/503), or null: it replaces the backoff, capped by max_delay_ms. */
      retryAfterMs: number | null;
    }
  | 'lost';

export type NextStep =
  { status: 'succeeded' | 'failed'; delayMs: null } | { status: 'retrying'; delayMs: number };

/**
 * The job's next status after attempt number `job.attempts` (this one included) ended as `end`, and
 * for a retry the delay before it. A lost attempt is retryable: the request may never have been sent.
 */
export function nextStep(
  job: RetryColumns & { attempts: number },
  end: AttemptEnd,
  random: () => number = Math.random,
): NextStep {
  const e = end === 'lost' ? { outcome: 'lost' as const, retryable: true, retryAfterMs: null } : end;
  if (e.outcome === 'succeeded') return { status: 'succeeded', delayMs: null };
  if (!e.retryable || job.attempts >= job.max_attempts) return { status: 'failed', delayMs: null };
  const policy = retryPolicyOf(job);
  const delayMs =
    e.retryAfterMs !== null
      ? Math.min(e.retryAfterMs, policy.max_delay_ms)
      : backoffDelayMs(policy, job.attempts, random);
  return { status: 'retrying', delayMs };
}
