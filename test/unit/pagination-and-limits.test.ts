import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../src/jobs/representation.ts';
import { SlidingWindowLimiter } from '../../src/lib/rateLimit.ts';
import { parseInstant } from '../../src/jobs/schema.ts';

describe('cursors', () => {
  it('round-trip and reject anything else', () => {
    expect(decodeCursor(encodeCursor(42))).toBe(42);
    for (const bad of [
      '',
      'abc',
      '!!!',
      Buffer.from('v1:-1').toString('base64url'),
      Buffer.from('v2:5').toString('base64url'),
      'x'.repeat(100),
    ]) {
      expect(decodeCursor(bad)).toBeNull();
    }
  });
});

describe('fire_at parsing', () => {
  it('requires an offset and normalises to UTC', () => {
    expect(parseInstant('2026-12-01T09:00:00+01:00')!.toISO()).toBe('2026-12-01T08:00:00.000Z');
    expect(parseInstant('2026-12-01T09:00:00Z')!.toISO()).toBe('2026-12-01T09:00:00.000Z');
    expect(parseInstant('2026-12-01T09:00:00')).toBeNull();
    expect(parseInstant('2026-02-30T09:00:00Z')).toBeNull();
    expect(parseInstant('tomorrow')).toBeNull();
  });
});

describe('sliding window limiter', () => {
  it('allows the limit per window and says how long to wait', () => {
    let now = 0;
    const l = new SlidingWindowLimiter(3, 1000, () => now);
    expect([l.take('a'), l.take('a'), l.take('a')]).toEqual([0, 0, 0]);
    expect(l.take('a')).toBeGreaterThan(0);
    expect(l.take('b')).toBe(0); // keys are independent
    now = 2500; // two windows later: all forgotten
    expect(l.take('a')).toBe(0);
  });
  it('weights the previous window so a burst at a boundary is not doubled', () => {
    let now = 0;
    const l = new SlidingWindowLimiter(10, 1000, () => now);
    now = 900;
    for (let i = 0; i < 10; i++) expect(l.take('k')).toBe(0);
    now = 1100; // 90% of the previous window still overlaps
    expect(l.take('k')).toBeGreaterThan(0);
  });
});
