import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelayMs, baseDelayMs, parseRetryAfterMs, type RetryPolicy } from '../../src/jobs/backoff.ts';

const linear: RetryPolicy = {
  strategy: 'linear',
  max_attempts: 10,
  base_delay_ms: 1000,
  max_delay_ms: 60_000,
};
const expo: RetryPolicy = {
  strategy: 'exponential',
  max_attempts: 10,
  base_delay_ms: 1000,
  max_delay_ms: 60_000,
};

describe('backoff schedule', () => {
  it('linear grows by the base each attempt', () => {
    expect([1, 2, 3, 4].map((a) => baseDelayMs(linear, a))).toEqual([1000, 2000, 3000, 4000]);
  });
  it('exponential doubles from the base', () => {
    expect([1, 2, 3, 4, 5].map((a) => baseDelayMs(expo, a))).toEqual([1000, 2000, 4000, 8000, 16000]);
  });
  it('both are capped at max_delay_ms', () => {
    expect(baseDelayMs(expo, 30)).toBe(60_000);
    expect(baseDelayMs(linear, 500)).toBe(60_000);
    expect(baseDelayMs(expo, 5000)).toBe(60_000); // no overflow to Infinity/NaN
  });
  it('jitter stays within ±10% and never exceeds the cap', () => {
    expect(backoffDelayMs(expo, 3, () => 0)).toBe(3600);
    expect(backoffDelayMs(expo, 3, () => 1)).toBe(4400);
    expect(backoffDelayMs(expo, 30, () => 1)).toBe(60_000);
    fc.assert(
      fc.property(
        fc.constantFrom('linear' as const, 'exponential' as const),
        fc.integer({ min: 0, max: 86_400_000 }),
        fc.integer({ min: 0, max: 86_400_000 }),
        fc.integer({ min: 1, max: 100 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (strategy, a, b, attempt, r) => {
          const policy = {
            strategy,
            max_attempts: 25,
            base_delay_ms: Math.min(a, b),
            max_delay_ms: Math.max(a, b),
          };
          const d = backoffDelayMs(policy, attempt, () => r);
          return Number.isInteger(d) && d >= 0 && d <= policy.max_delay_ms;
        },
      ),
    );
  });
});

describe('Retry-After parsing', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('reads delta-seconds', () => expect(parseRetryAfterMs('120', now)).toBe(120_000));
  it('reads an HTTP date', () =>
    expect(parseRetryAfterMs('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000));
  it('treats a past date as now', () =>
    expect(parseRetryAfterMs('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0));
  it('ignores garbage', () => {
    expect(parseRetryAfterMs('soon', now)).toBeNull();
    expect(parseRetryAfterMs('-5', now)).toBeNull();
    expect(parseRetryAfterMs(undefined, now)).toBeNull();
  });
});
