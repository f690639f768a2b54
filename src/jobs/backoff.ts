// Retry timing, pure. Linear: base × attempt; exponential: base × 2^(attempt−1); both capped at
// max_delay_ms. Jitter (±10%) spreads retries of jobs that failed together, and never exceeds the cap.

export interface RetryPolicy {
  strategy: 'linear' | 'exponential';
  max_attempts: number;
  base_delay_ms: number;
  max_delay_ms: number;
}

/**
 * The retry policy as the jobs and schedules tables store it: one declaration for every row type
 * that carries it (src/sql types its rows with it, as it does with JobStatus).
 */
export interface RetryColumns {
  retry_strategy: RetryPolicy['strategy'];
  max_attempts: number;
  base_delay_ms: number;
  max_delay_ms: number;
}

export const JITTER_RATIO = 0.1;

/** The un-jittered delay before the retry that follows failed attempt number `attempt` (1-based). */
export function baseDelayMs(policy: RetryPolicy, attempt: number): number {
  const n = Math.max(1, attempt);
  const raw =
    policy.strategy === 'linear' ? policy.base_delay_ms * n : policy.base_delay_ms * 2 ** Math.min(n - 1, 52);
  return Math.min(policy.max_delay_ms, raw);
}

/** The delay with jitter; `random` is injectable so tests are deterministic. */
export function backoffDelayMs(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const d = baseDelayMs(policy, attempt);
  const jittered = d * (1 - JITTER_RATIO + 2 * JITTER_RATIO * random());
  return Math.max(0, Math.min(policy.max_delay_ms, Math.round(jittered)));
}

/**
 * Parses a Retry-After header (delta-seconds or HTTP-date) into milliseconds from `nowMs`; null when
 * absent or unparseable. `nowMs` is only used to turn a date into a delay.
 */
export function parseRetryAfterMs(value: string | undefined | null, nowMs: number): number | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Math.min(Number(v), 10 ** 9) * 1000;
  if (!/[a-z]/i.test(v)) return null;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}

/** The retry policy of a job row. */
export function retryPolicyOf(row: RetryColumns): RetryPolicy {
  return {
    strategy: row.retry_strategy,
    max_attempts: row.max_attempts,
    base_delay_ms: row.base_delay_ms,
    max_delay_ms: row.max_delay_ms,
  };
}
