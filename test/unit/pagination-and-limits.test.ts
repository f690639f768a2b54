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

  it('refuses what RFC 3339 does not allow instead of letting luxon coerce it', () => {
    for (const bad of [
      '2026-12-01T09:00:00+24:00', // offsets run from -23:59 to +23:59
      '2026-12-01T09:00:00-24:00',
      '2026-12-01T09:00:00+2400',
      '2026-12-01T09:00:00+24',
      '2026-12-01T09:00:00+23:60',
      '2026-12-01T09:00:00+99:99',
      '2026-12-01T24:00:00Z', // luxon: the next day's midnight
      '2026-12-01T24:00Z',
      '2026-12-01T09:60:00Z',
      '2026-12-01T09:00:60Z',
      '2026-12-00T09:00:00Z',
      '2026-04-31T09:00:00Z',
      '2026-13-01T09:00:00Z',
    ])
      expect(parseInstant(bad), bad).toBeNull();
    expect(parseInstant('2026-12-01T09:00:00+23:59')!.toISO()).toBe('2026-11-30T09:01:00.000Z');
    expect(parseInstant('2026-12-01T09:00:00-23:59')!.toISO()).toBe('2026-12-02T08:59:00.000Z');
    expect(parseInstant('2026-12-01T23:59:59+0530')!.toISO()).toBe('2026-12-01T18:29:59.000Z');
    expect(parseInstant('2026-12-01T09:00-05')!.toISO()).toBe('2026-12-01T14:00:00.000Z');
  });

  it('keeps milliseconds; more digits round up, so nothing fires before the instant given', () => {
    expect(parseInstant('2026-12-01T09:00:00.123Z')!.toISO()).toBe('2026-12-01T09:00:00.123Z');
    expect(parseInstant('2026-12-01T09:00:00.5Z')!.toISO()).toBe('2026-12-01T09:00:00.500Z');
    expect(parseInstant('2026-12-01T09:00:00.123000000Z')!.toISO()).toBe('2026-12-01T09:00:00.123Z');
    expect(parseInstant('2026-12-01T09:00:00.123000001Z')!.toISO()).toBe('2026-12-01T09:00:00.124Z');
    expect(parseInstant('2026-12-01T09:00:00.123456+01:00')!.toISO()).toBe('2026-12-01T08:00:00.124Z');
    expect(parseInstant('2026-12-31T23:59:59.9999Z')!.toISO()).toBe('2027-01-01T00:00:00.000Z');
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
