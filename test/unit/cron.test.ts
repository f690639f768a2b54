import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import {
  describeLocal,
  LAST_INSTANT,
  MAX_GAP_YEARS,
  parseCronSchedule,
  rarityProblem,
  type CronSchedule,
} from '../../src/schedules/cron.ts';

function schedule(cron: string, timezone?: string): CronSchedule {
  const r = parseCronSchedule(cron, timezone);
  if (!r.ok) throw new Error(`${cron}: ${r.message}`);
  return r.schedule;
}

/** [UTC instant, local string] of the next `n` fire times after `from`. */
function fires(cron: string, timezone: string, from: string, n: number): [string, string][] {
  return schedule(cron, timezone)
    .take(new Date(from), n)
    .map((o) => [o.at.toISOString().replace('.000Z', 'Z'), o.local]);
}

function parseError(cron: string, timezone?: string) {
  const r = parseCronSchedule(cron, timezone);
  if (r.ok) throw new Error(`${cron} parsed`);
  return r;
}

describe('the 2027 DST changes the tables below assume (checked with luxon)', () => {
  // [zone, last second before the change (UTC), offset before, offset after] in minutes.
  const changes: [string, string, number, number][] = [
    ['Europe/Berlin', '2027-03-28T00:59:59Z', 60, 120],
    ['Europe/Berlin', '2027-10-31T00:59:59Z', 120, 60],
    ['America/New_York', '2027-03-14T06:59:59Z', -300, -240],
    ['America/New_York', '2027-11-07T05:59:59Z', -240, -300],
    ['Australia/Lord_Howe', '2027-04-03T14:59:59Z', 660, 630],
    ['Australia/Lord_Howe', '2027-10-02T15:29:59Z', 630, 660],
  ];
  it.each(changes)('%s changes at %s + 1 s', (zone, lastBefore, before, after) => {
    const t = DateTime.fromISO(lastBefore, { zone });
    expect(t.offset).toBe(before);
    expect(t.plus({ seconds: 1 }).offset).toBe(after);
  });
});

describe('DST, fixed-hour expressions (RFC 5545: gap → offset before the change; repeat → first)', () => {
  it('Europe/Berlin, spring forward on 2027-03-28 (02:00 → 03:00)', () => {
    expect(fires('30 2 * * *', 'Europe/Berlin', '2027-03-27T00:00:00Z', 3)).toEqual([
      ['2027-03-27T01:30:00Z', '2027-03-27T02:30:00+01:00'],
      ['2027-03-28T01:30:00Z', '2027-03-28T03:30:00+02:00'], // 02:30 does not exist: taken at +01:00
      ['2027-03-29T00:30:00Z', '2027-03-29T02:30:00+02:00'],
    ]);
    expect(fires('0 9 * * *', 'Europe/Berlin', '2027-03-27T00:00:00Z', 2)).toEqual([
      ['2027-03-27T08:00:00Z', '2027-03-27T09:00:00+01:00'],
      ['2027-03-28T07:00:00Z', '2027-03-28T09:00:00+02:00'],
    ]);
  });

  it('Europe/Berlin, fall back on 2027-10-31 (03:00 → 02:00): 02:30 fires once, at +02:00', () => {
    expect(fires('30 2 * * *', 'Europe/Berlin', '2027-10-30T00:00:00Z', 3)).toEqual([
      ['2027-10-30T00:30:00Z', '2027-10-30T02:30:00+02:00'],
      ['2027-10-31T00:30:00Z', '2027-10-31T02:30:00+02:00'],
      ['2027-11-01T01:30:00Z', '2027-11-01T02:30:00+01:00'],
    ]);
    expect(fires('0 9 * * *', 'Europe/Berlin', '2027-10-30T00:00:00Z', 2)).toEqual([
      ['2027-10-30T07:00:00Z', '2027-10-30T09:00:00+02:00'],
      ['2027-10-31T08:00:00Z', '2027-10-31T09:00:00+01:00'],
    ]);
    // A list in the hour field is fixed too: the repeated 02:xx fire on the first pass only.
    expect(fires('0,30 2,3 * * *', 'Europe/Berlin', '2027-10-30T23:00:00Z', 4)).toEqual([
      ['2027-10-31T00:00:00Z', '2027-10-31T02:00:00+02:00'],
      ['2027-10-31T00:30:00Z', '2027-10-31T02:30:00+02:00'],
      ['2027-10-31T02:00:00Z', '2027-10-31T03:00:00+01:00'],
      ['2027-10-31T02:30:00Z', '2027-10-31T03:30:00+01:00'],
    ]);
  });

  it('a gap time that lands on another fire time fires once', () => {
    // 02:00 and 02:30 do not exist; shifted they become 03:00 and 03:30, which fire anyway.
    expect(fires('0,30 2,3 * * *', 'Europe/Berlin', '2027-03-27T23:00:00Z', 3)).toEqual([
      ['2027-03-28T01:00:00Z', '2027-03-28T03:00:00+02:00'],
      ['2027-03-28T01:30:00Z', '2027-03-28T03:30:00+02:00'],
      ['2027-03-29T00:00:00Z', '2027-03-29T02:00:00+02:00'],
    ]);
  });

  it('America/New_York, 2027-03-14 (02:00 → 03:00) and 2027-11-07 (02:00 → 01:00)', () => {
    expect(fires('30 2 * * *', 'America/New_York', '2027-03-13T00:00:00Z', 3)).toEqual([
      ['2027-03-13T07:30:00Z', '2027-03-13T02:30:00-05:00'],
      ['2027-03-14T07:30:00Z', '2027-03-14T03:30:00-04:00'],
      ['2027-03-15T06:30:00Z', '2027-03-15T02:30:00-04:00'],
    ]);
    expect(fires('0 9 * * *', 'America/New_York', '2027-03-13T00:00:00Z', 2)).toEqual([
      ['2027-03-13T14:00:00Z', '2027-03-13T09:00:00-05:00'],
      ['2027-03-14T13:00:00Z', '2027-03-14T09:00:00-04:00'],
    ]);
    expect(fires('30 1 * * *', 'America/New_York', '2027-11-06T00:00:00Z', 3)).toEqual([
      ['2027-11-06T05:30:00Z', '2027-11-06T01:30:00-04:00'],
      ['2027-11-07T05:30:00Z', '2027-11-07T01:30:00-04:00'], // first of the two 01:30s
      ['2027-11-08T06:30:00Z', '2027-11-08T01:30:00-05:00'],
    ]);
    expect(fires('0 9 * * *', 'America/New_York', '2027-11-06T00:00:00Z', 2)).toEqual([
      ['2027-11-06T13:00:00Z', '2027-11-06T09:00:00-04:00'],
      ['2027-11-07T14:00:00Z', '2027-11-07T09:00:00-05:00'],
    ]);
  });

  it('Australia/Lord_Howe, a 30-minute shift: 2027-04-04 (02:00 → 01:30) and 2027-10-03 (02:00 → 02:30)', () => {
    expect(fires('45 1 * * *', 'Australia/Lord_Howe', '2027-04-02T12:00:00Z', 3)).toEqual([
      ['2027-04-02T14:45:00Z', '2027-04-03T01:45:00+11:00'],
      ['2027-04-03T14:45:00Z', '2027-04-04T01:45:00+11:00'], // first of the two 01:45s
      ['2027-04-04T15:15:00Z', '2027-04-05T01:45:00+10:30'],
    ]);
    expect(fires('0 9 * * *', 'Australia/Lord_Howe', '2027-04-02T12:00:00Z', 2)).toEqual([
      ['2027-04-02T22:00:00Z', '2027-04-03T09:00:00+11:00'],
      ['2027-04-03T22:30:00Z', '2027-04-04T09:00:00+10:30'],
    ]);
    expect(fires('15 2 * * *', 'Australia/Lord_Howe', '2027-10-01T12:00:00Z', 3)).toEqual([
      ['2027-10-01T15:45:00Z', '2027-10-02T02:15:00+10:30'],
      ['2027-10-02T15:45:00Z', '2027-10-03T02:45:00+11:00'], // 02:15 does not exist: taken at +10:30
      ['2027-10-03T15:15:00Z', '2027-10-04T02:15:00+11:00'],
    ]);
    // 02:30 is the first wall time after the gap: it exists, and is the very instant of the change.
    expect(fires('30 2 * * *', 'Australia/Lord_Howe', '2027-10-02T12:00:00Z', 1)).toEqual([
      ['2027-10-02T15:30:00Z', '2027-10-03T02:30:00+11:00'],
    ]);
    expect(fires('0 9 * * *', 'Australia/Lord_Howe', '2027-10-01T12:00:00Z', 2)).toEqual([
      ['2027-10-01T22:30:00Z', '2027-10-02T09:00:00+10:30'],
      ['2027-10-02T22:00:00Z', '2027-10-03T09:00:00+11:00'],
    ]);
  });

  it('Asia/Tokyo has no DST: the same local time every day', () => {
    expect(fires('30 2 * * *', 'Asia/Tokyo', '2027-03-27T00:00:00Z', 2)).toEqual([
      ['2027-03-27T17:30:00Z', '2027-03-28T02:30:00+09:00'],
      ['2027-03-28T17:30:00Z', '2027-03-29T02:30:00+09:00'],
    ]);
    expect(fires('0 9 * * *', 'Asia/Tokyo', '2027-10-30T00:00:00Z', 2)).toEqual([
      ['2027-10-31T00:00:00Z', '2027-10-31T09:00:00+09:00'],
      ['2027-11-01T00:00:00Z', '2027-11-01T09:00:00+09:00'],
    ]);
  });
});

describe('DST, wildcard-hour expressions follow elapsed time', () => {
  it('Europe/Berlin: the skipped hour has no fire times; the repeated hour fires on both passes', () => {
    expect(fires('*/30 * * * *', 'Europe/Berlin', '2027-03-28T00:00:00Z', 4)).toEqual([
      ['2027-03-28T00:30:00Z', '2027-03-28T01:30:00+01:00'],
      ['2027-03-28T01:00:00Z', '2027-03-28T03:00:00+02:00'],
      ['2027-03-28T01:30:00Z', '2027-03-28T03:30:00+02:00'],
      ['2027-03-28T02:00:00Z', '2027-03-28T04:00:00+02:00'],
    ]);
    expect(fires('0 * * * *', 'Europe/Berlin', '2027-03-27T23:30:00Z', 3)).toEqual([
      ['2027-03-28T00:00:00Z', '2027-03-28T01:00:00+01:00'],
      ['2027-03-28T01:00:00Z', '2027-03-28T03:00:00+02:00'],
      ['2027-03-28T02:00:00Z', '2027-03-28T04:00:00+02:00'],
    ]);
    expect(fires('*/30 * * * *', 'Europe/Berlin', '2027-10-31T00:00:00Z', 5)).toEqual([
      ['2027-10-31T00:30:00Z', '2027-10-31T02:30:00+02:00'],
      ['2027-10-31T01:00:00Z', '2027-10-31T02:00:00+01:00'],
      ['2027-10-31T01:30:00Z', '2027-10-31T02:30:00+01:00'],
      ['2027-10-31T02:00:00Z', '2027-10-31T03:00:00+01:00'],
      ['2027-10-31T02:30:00Z', '2027-10-31T03:30:00+01:00'],
    ]);
    expect(fires('0 * * * *', 'Europe/Berlin', '2027-10-30T23:30:00Z', 3)).toEqual([
      ['2027-10-31T00:00:00Z', '2027-10-31T02:00:00+02:00'],
      ['2027-10-31T01:00:00Z', '2027-10-31T02:00:00+01:00'],
      ['2027-10-31T02:00:00Z', '2027-10-31T03:00:00+01:00'],
    ]);
  });

  it('America/New_York', () => {
    expect(fires('*/30 * * * *', 'America/New_York', '2027-03-14T06:00:00Z', 3)).toEqual([
      ['2027-03-14T06:30:00Z', '2027-03-14T01:30:00-05:00'],
      ['2027-03-14T07:00:00Z', '2027-03-14T03:00:00-04:00'],
      ['2027-03-14T07:30:00Z', '2027-03-14T03:30:00-04:00'],
    ]);
    expect(fires('0 * * * *', 'America/New_York', '2027-11-07T04:30:00Z', 3)).toEqual([
      ['2027-11-07T05:00:00Z', '2027-11-07T01:00:00-04:00'],
      ['2027-11-07T06:00:00Z', '2027-11-07T01:00:00-05:00'],
      ['2027-11-07T07:00:00Z', '2027-11-07T02:00:00-05:00'],
    ]);
    expect(fires('*/30 * * * *', 'America/New_York', '2027-11-07T05:00:00Z', 4)).toEqual([
      ['2027-11-07T05:30:00Z', '2027-11-07T01:30:00-04:00'],
      ['2027-11-07T06:00:00Z', '2027-11-07T01:00:00-05:00'],
      ['2027-11-07T06:30:00Z', '2027-11-07T01:30:00-05:00'],
      ['2027-11-07T07:00:00Z', '2027-11-07T02:00:00-05:00'],
    ]);
  });

  it('Australia/Lord_Howe: a repeated and a skipped half hour', () => {
    expect(fires('*/30 * * * *', 'Australia/Lord_Howe', '2027-04-03T14:00:00Z', 4)).toEqual([
      ['2027-04-03T14:30:00Z', '2027-04-04T01:30:00+11:00'],
      ['2027-04-03T15:00:00Z', '2027-04-04T01:30:00+10:30'],
      ['2027-04-03T15:30:00Z', '2027-04-04T02:00:00+10:30'],
      ['2027-04-03T16:00:00Z', '2027-04-04T02:30:00+10:30'],
    ]);
    // 01:00 is not repeated (the repeat starts at 01:30), so it fires once.
    expect(fires('0 * * * *', 'Australia/Lord_Howe', '2027-04-03T13:30:00Z', 3)).toEqual([
      ['2027-04-03T14:00:00Z', '2027-04-04T01:00:00+11:00'],
      ['2027-04-03T15:30:00Z', '2027-04-04T02:00:00+10:30'],
      ['2027-04-03T16:30:00Z', '2027-04-04T03:00:00+10:30'],
    ]);
    expect(fires('*/30 * * * *', 'Australia/Lord_Howe', '2027-10-02T14:00:00Z', 4)).toEqual([
      ['2027-10-02T14:30:00Z', '2027-10-03T01:00:00+10:30'],
      ['2027-10-02T15:00:00Z', '2027-10-03T01:30:00+10:30'],
      ['2027-10-02T15:30:00Z', '2027-10-03T02:30:00+11:00'],
      ['2027-10-02T16:00:00Z', '2027-10-03T03:00:00+11:00'],
    ]);
    expect(fires('0 * * * *', 'Australia/Lord_Howe', '2027-10-02T14:00:00Z', 2)).toEqual([
      ['2027-10-02T14:30:00Z', '2027-10-03T01:00:00+10:30'],
      ['2027-10-02T16:00:00Z', '2027-10-03T03:00:00+11:00'],
    ]);
  });

  it('Asia/Tokyo: every half hour, regular', () => {
    expect(fires('*/30 * * * *', 'Asia/Tokyo', '2027-03-27T16:50:00Z', 3)).toEqual([
      ['2027-03-27T17:00:00Z', '2027-03-28T02:00:00+09:00'],
      ['2027-03-27T17:30:00Z', '2027-03-28T02:30:00+09:00'],
      ['2027-03-27T18:00:00Z', '2027-03-28T03:00:00+09:00'],
    ]);
  });

  it('*/n in the hour field is elapsed time; a range with a step is fixed hours', () => {
    expect(schedule('0 */2 * * *').followsElapsedTime).toBe(true);
    expect(schedule('*/15 * * * *').followsElapsedTime).toBe(true);
    expect(schedule('@hourly').followsElapsedTime).toBe(true);
    expect(schedule('0 0-23/2 * * *').followsElapsedTime).toBe(false);
    expect(schedule('0 1-3 * * *').followsElapsedTime).toBe(false);
    expect(schedule('@daily').followsElapsedTime).toBe(false);
    // Berlin, fall back: */2 fires at 02:00 on both passes; 0-23/2 only on the first.
    expect(fires('0 */2 * * *', 'Europe/Berlin', '2027-10-30T23:30:00Z', 3).map(([, l]) => l)).toEqual([
      '2027-10-31T02:00:00+02:00',
      '2027-10-31T02:00:00+01:00',
      '2027-10-31T04:00:00+01:00',
    ]);
    expect(fires('0 0-23/2 * * *', 'Europe/Berlin', '2027-10-30T23:30:00Z', 2).map(([, l]) => l)).toEqual([
      '2027-10-31T02:00:00+02:00',
      '2027-10-31T04:00:00+01:00',
    ]);
  });
});

describe('next and take', () => {
  const s = schedule('0 9 * * *', 'Europe/Berlin');

  it('next is strictly after `after`, to the millisecond', () => {
    expect(s.next(new Date('2027-06-01T07:00:00Z'))).toEqual(new Date('2027-06-02T07:00:00Z'));
    expect(s.next(new Date('2027-06-01T06:59:59.999Z'))).toEqual(new Date('2027-06-01T07:00:00Z'));
    expect(s.next(new Date('2027-06-01T07:00:00.001Z'))).toEqual(new Date('2027-06-02T07:00:00Z'));
  });

  it('take returns `count` increasing fire times and refuses a count outside 1..100', () => {
    const list = s.take(new Date('2027-06-01T00:00:00Z'), 100);
    expect(list).toHaveLength(100);
    for (let i = 1; i < list.length; i++) expect(list[i]!.at > list[i - 1]!.at).toBe(true);
    expect(() => s.take(new Date(), 0)).toThrow(RangeError);
    expect(() => s.take(new Date(), 101)).toThrow(RangeError);
    expect(() => s.take(new Date(), 1.5)).toThrow(RangeError);
    expect(() => s.next(new Date(Number.NaN))).toThrow(RangeError);
  });

  it('no fire time after LAST_INSTANT, the year 9999 in every zone (RFC 3339 has four-digit years)', () => {
    expect(LAST_INSTANT.toISOString()).toBe('9999-12-31T09:59:59.000Z');
    // Pacific/Kiritimati (+14:00) reaches the year 10000 at 9999-12-31T10:00:00Z.
    expect(schedule('0 0 1 1 *', 'Pacific/Kiritimati').next(new Date('9999-06-01T00:00:00Z'))).toBeNull();
    const last = schedule('59 23 * * *');
    expect(last.next(new Date('9999-12-30T00:00:00Z'))).toEqual(new Date('9999-12-30T23:59:00Z'));
    expect(last.next(new Date('9999-12-30T23:59:00Z'))).toBeNull();
    expect(last.take(new Date('9999-12-30T23:59:00Z'), 1)).toEqual([]);
    const list = schedule('0 9 * * *', 'Pacific/Kiritimati').take(new Date('9999-12-25T00:00:00Z'), 100);
    expect(list.map((o) => o.local).at(-1)).toBe('9999-12-31T09:00:00+14:00');
    expect(list).toHaveLength(6); // 12-26 to 12-31 local (12-25 09:00 local is before `from`)
  });

  it('sparse schedules: yearly, Feb 29 (skipping 2100), the last hours of a year', () => {
    expect(schedule('@yearly').next(new Date('2027-01-01T00:00:00Z'))).toEqual(
      new Date('2028-01-01T00:00:00Z'),
    );
    expect(
      schedule('0 0 29 2 *')
        .take(new Date('2095-01-01T00:00:00Z'), 2)
        .map((o) => o.local),
    ).toEqual(['2096-02-29T00:00:00+00:00', '2104-02-29T00:00:00+00:00']);
    // AND rule (day of week written */7): Feb 29 that is a Sunday — 40 years apart across 2100.
    expect(schedule('0 0 29 2 */7').next(new Date('2088-03-01T00:00:00Z'))).toEqual(
      new Date('2128-02-29T00:00:00Z'),
    );
    expect(schedule('59 23 31 12 *', 'Pacific/Kiritimati').take(new Date('2027-06-01T00:00:00Z'), 1)).toEqual(
      [{ at: new Date('2027-12-31T09:59:00Z'), local: '2027-12-31T23:59:00+14:00' }],
    );
  });

  it('describeLocal renders an instant in a zone', () => {
    expect(describeLocal(new Date('2027-10-31T00:30:00.250Z'), 'Europe/Berlin')).toBe(
      '2027-10-31T02:30:00+02:00',
    );
    expect(describeLocal(new Date('2027-10-31T01:30:00Z'), 'Europe/Berlin')).toBe(
      '2027-10-31T02:30:00+01:00',
    );
    expect(describeLocal(new Date('2027-01-01T00:00:00Z'), 'UTC')).toBe('2027-01-01T00:00:00+00:00');
    expect(describeLocal(new Date('2027-01-01T00:00:00Z'), 'America/St_Johns')).toBe(
      '2026-12-31T20:30:00-03:30',
    );
  });
});

describe('parsing', () => {
  const at = (cron: string, from: string, n: number, timezone = 'UTC') =>
    schedule(cron, timezone)
      .take(new Date(from), n)
      .map((o) => o.local);

  it('timezone defaults to UTC', () => {
    const s = schedule('0 12 * * *');
    expect(s.timezone).toBe('UTC');
    expect(at('0 12 * * *', '2027-01-01T00:00:00Z', 1)).toEqual(['2027-01-01T12:00:00+00:00']);
  });

  it('macros', () => {
    const from = '2027-03-10T10:20:30Z'; // a Wednesday
    expect(at('@hourly', from, 2)).toEqual(['2027-03-10T11:00:00+00:00', '2027-03-10T12:00:00+00:00']);
    expect(at('@daily', from, 1)).toEqual(['2027-03-11T00:00:00+00:00']);
    expect(at('@midnight', from, 1)).toEqual(['2027-03-11T00:00:00+00:00']);
    expect(at('@weekly', from, 1)).toEqual(['2027-03-14T00:00:00+00:00']); // Sunday
    expect(at('@monthly', from, 1)).toEqual(['2027-04-01T00:00:00+00:00']);
    expect(at('@yearly', from, 1)).toEqual(['2028-01-01T00:00:00+00:00']);
    expect(at('@annually', from, 1)).toEqual(['2028-01-01T00:00:00+00:00']);
    expect(at('@DAILY', from, 1)).toEqual(['2027-03-11T00:00:00+00:00']);
  });

  it('six fields: a leading seconds field', () => {
    expect(at('*/20 * * * * *', '2027-01-01T00:00:00Z', 3)).toEqual([
      '2027-01-01T00:00:20+00:00',
      '2027-01-01T00:00:40+00:00',
      '2027-01-01T00:01:00+00:00',
    ]);
    expect(at('15 30 8 * * *', '2027-01-01T00:00:00Z', 1)).toEqual(['2027-01-01T08:30:15+00:00']);
  });

  it('lists, ranges, steps, names (any case), 0 and 7 for Sunday', () => {
    expect(at('5,10-12,50-59/5 * * * *', '2027-01-01T00:00:00Z', 6)).toEqual(
      ['05', '10', '11', '12', '50', '55'].map((m) => `2027-01-01T00:${m}:00+00:00`),
    );
    expect(at('0 0 1 JAN-mar/2,Oct *', '2027-01-01T00:00:00Z', 3)).toEqual([
      '2027-03-01T00:00:00+00:00',
      '2027-10-01T00:00:00+00:00',
      '2028-01-01T00:00:00+00:00',
    ]);
    const sundays = at('0 0 * * 0', '2027-01-01T00:00:00Z', 2);
    expect(at('0 0 * * 7', '2027-01-01T00:00:00Z', 2)).toEqual(sundays);
    expect(at('0 0 * * 0,7', '2027-01-01T00:00:00Z', 2)).toEqual(sundays); // overlapping items are fine
    expect(at('1-5,3 0 * * *', '2027-01-01T00:00:00Z', 5)).toEqual(
      at('1-5 0 * * *', '2027-01-01T00:00:00Z', 5),
    );
    expect(at('0 0 * * sun', '2027-01-01T00:00:00Z', 2)).toEqual(sundays);
    expect(sundays).toEqual(['2027-01-03T00:00:00+00:00', '2027-01-10T00:00:00+00:00']);
    expect(at('0 0 * * Fri-Sun', '2027-01-01T00:00:00Z', 3)).toEqual([
      '2027-01-02T00:00:00+00:00', // Sat (Fri Jan 1 00:00 is not after `from`)
      '2027-01-03T00:00:00+00:00',
      '2027-01-08T00:00:00+00:00',
    ]);
    expect(at('0 0 * * 5-7', '2027-01-01T00:00:00Z', 3)).toEqual(
      at('0 0 * * fri-sun', '2027-01-01T00:00:00Z', 3),
    );
    expect(at('0 0 * * sun-tue', '2027-01-01T00:00:00Z', 3)).toEqual(
      at('0 0 * * 0-2', '2027-01-01T00:00:00Z', 3),
    );
    // 3/2 is 3-7/2: Wednesday, Friday, Sunday.
    expect(at('0 0 * * 3/2', '2027-01-01T00:00:00Z', 4)).toEqual(
      at('0 0 * * 0,3,5', '2027-01-01T00:00:00Z', 4),
    );
    expect(at('0 0 * * mon/2', '2027-01-01T00:00:00Z', 4)).toEqual(
      at('0 0 * * 1,3,5,0', '2027-01-01T00:00:00Z', 4),
    );
  });

  it('day of month and day of week: OR when both are restricted, AND when one is * or */n', () => {
    // The 13th, and every Friday.
    expect(at('0 0 13 * 5', '2027-08-01T00:00:00Z', 4)).toEqual([
      '2027-08-06T00:00:00+00:00',
      '2027-08-13T00:00:00+00:00', // a Friday the 13th, once
      '2027-08-20T00:00:00+00:00',
      '2027-08-27T00:00:00+00:00',
    ]);
    expect(at('0 0 1,15 * 1', '2027-02-01T00:00:00Z', 4)).toEqual([
      '2027-02-08T00:00:00+00:00',
      '2027-02-15T00:00:00+00:00',
      '2027-02-22T00:00:00+00:00',
      '2027-03-01T00:00:00+00:00',
    ]);
    // Vixie cron: */2 counts as unrestricted, so this is odd days that are Mondays.
    expect(at('0 0 */2 * 1', '2027-02-01T00:00:00Z', 3)).toEqual([
      '2027-02-15T00:00:00+00:00',
      '2027-03-01T00:00:00+00:00',
      '2027-03-15T00:00:00+00:00',
    ]);
    expect(at('0 0 13 * *', '2027-08-01T00:00:00Z', 1)).toEqual(['2027-08-13T00:00:00+00:00']);
    expect(at('0 0 * * 5', '2027-08-01T00:00:00Z', 1)).toEqual(['2027-08-06T00:00:00+00:00']);
  });

  it('each invalid form names its field', () => {
    const cases: [string, RegExp][] = [
      ['', /empty.*5 fields/],
      ['   ', /empty/],
      ['* * * *', /has 4 fields: expected 5 fields/],
      ['* * * * * * *', /has 7 fields/],
      ['@reboot', /Unknown cron macro "@reboot"/],
      ['@every 5m', /Unknown cron macro/],
      ['60 * * * *', /minute field "60".*60.*0-59/],
      ['* 24 * * *', /hour field "24".*0-23/],
      ['* * 0 * *', /day-of-month field "0".*1-31/],
      ['* * 32 * *', /day-of-month field "32"/],
      ['* * * 13 *', /month field "13".*1-12/],
      ['* * * * 8', /day-of-week field "8".*0-7/],
      ['60 * * * * *', /second field "60"/],
      ['*/0 * * * *', /minute field "\*\/0".*repeat/],
      ['5-1 * * * *', /minute field "5-1".*5-1/],
      ['1-2-3 * * * *', /minute field "1-2-3"/],
      ['1, * * * *', /minute field "1,": "" is not a value/],
      ['*/2/3 * * * *', /minute field/],
      ['-1 * * * *', /minute field "-1"/],
      ['1.5 * * * *', /minute field "1.5"/],
      ['* * * foo *', /month field "foo": unknown name "foo"/],
      ['* * * * funday', /day-of-week field "funday": unknown name/],
      ['* * * 1jan *', /month field "1jan"/],
      ['* * * January *', /month field "January": unknown name/],
      ['* * L * *', /day-of-month field "L"/],
      ['* * * * 5L', /day-of-week field "5L"/],
      ['* * * * 1#2', /day-of-week field "1#2"/],
      ['H * * * *', /minute field "H"/],
      ['? * * * *', /minute field "\?"/],
      ['0 0 30 2 *', /day-of-month field "30": day 30 never occurs.*never fire/],
      ['0 0 31 4,6,9,11 *', /day-of-month field "31": day 31 never occurs/],
      [`${'1,'.repeat(600)}1 * * * *`, /too long/],
    ];
    for (const [cron, message] of cases) {
      const e = parseError(cron);
      expect(e.field, cron).toBe('cron');
      expect(e.message, cron).toMatch(message);
    }
  });

  it('Feb 30 with a day of week is valid (OR rule): it fires on that weekday', () => {
    expect(at('0 0 30 2 1', '2027-01-01T00:00:00Z', 1)).toEqual(['2027-02-01T00:00:00+00:00']);
    expect(at('0 0 29,30 2 *', '2027-01-01T00:00:00Z', 1)).toEqual(['2028-02-29T00:00:00+00:00']);
  });

  it('an unknown time zone is its own error', () => {
    for (const tz of ['Mars/Olympus_Mons', 'Europe/Berlim', '', '+02:00', 'GMT+2 ']) {
      const e = parseError('* * * * *', tz);
      expect(e.field, tz).toBe('timezone');
      expect(e.message).toMatch(/Unknown time zone/);
    }
    expect(parseCronSchedule('* * * * *', 'Etc/GMT+5').ok).toBe(true);
    // A bad expression is reported first, whatever the zone.
    expect(parseError('nope', 'Mars/Olympus_Mons').field).toBe('cron');
  });
});

describe('minIntervalSeconds', () => {
  const from = new Date('2026-06-01T00:00:00Z');
  const min = (cron: string, timezone = 'UTC') => schedule(cron, timezone).minIntervalSeconds(from);

  it('plain schedules', () => {
    expect(min('* * * * *')).toBe(60);
    expect(min('*/10 * * * * *')).toBe(10);
    expect(min('0 9 * * 1-5')).toBe(86_400);
    expect(min('0 9 * * 1-5', 'Europe/Berlin')).toBe(86_400);
    expect(min('0 9 * * 1')).toBe(7 * 86_400);
    expect(min('0 0,23 * * *')).toBe(3600); // 23:00 → 00:00 the next day
    expect(min('0 1 1 * *')).toBe(28 * 86_400);
    expect(min('@yearly')).toBe(365 * 86_400);
    expect(min('0 0 29 2 *')).toBe(1461 * 86_400);
  });

  it('bursts that happen on some days only', () => {
    expect(min('*/10 * * 29 2 *')).toBe(10);
    expect(min('0 * * 29 2 *')).toBe(60); // six fields: every minute of Feb 29
    expect(min('0 0 * 29 2 *')).toBe(3600);
    // 23:59 on Feb 28 then 00:00 on Feb 29: one minute apart, in leap years only.
    expect(min('0,59 0,23 28,29 2 *')).toBe(60);
    expect(min('0,59 0,23 28,29 2 *', 'Europe/Berlin')).toBe(60);
  });

  it('DST changes make some gaps shorter', () => {
    expect(min('0 0 * * *', 'Europe/Berlin')).toBe(23 * 3600);
    expect(min('0 */2 * * *', 'Europe/Berlin')).toBe(3600); // 02:00+02:00, then 02:00+01:00
    expect(min('0 */3 * * *', 'Europe/Berlin')).toBe(2 * 3600); // 00:00+01:00, then 03:00+02:00
    expect(min('0 2,3 * * *', 'Australia/Lord_Howe')).toBe(1800); // 02:00 → 02:30+11:00, then 03:00
    expect(min('0 0 1 1,7 *', 'Europe/Berlin')).toBe(181 * 86_400 - 3600);
    expect(min('0 */2 * * *', 'Asia/Tokyo')).toBe(7200);
  });

  it('never below a second, and elapsed-time schedules keep their period', () => {
    expect(min('* * * * * *', 'Europe/Berlin')).toBe(1);
    expect(min('*/15 * * * *', 'America/New_York')).toBe(900);
    expect(min('0 * * * *', 'Australia/Lord_Howe')).toBe(3600);
  });
});

describe('bounded work: how rare an expression may be', () => {
  const parse = (cron: string, tz = 'UTC') => {
    const p = parseCronSchedule(cron, tz);
    if (!p.ok) throw new Error(p.message);
    return p.schedule;
  };
  it.each([
    ['* * * * *', 1],
    ['0 0 1 1 *', 366],
    ['0 0 13 * 5', 7], // OR rule: the 13th or any Friday
    ['0 0 29 2 *', 2921], // leap days: 8 years across 2100 (2096-02-29 to 2104-02-29)
    ['0 0 29 2 */7', 14_609], // Feb 29 on a Sunday: up to 40 years
  ])('%s: longest gap %i days', (cron, days) => {
    expect(parse(cron).longestGapDays()).toBe(days);
  });

  it('refuses an expression firing less than once in MAX_GAP_YEARS, saying why; accepts leap days', () => {
    expect(MAX_GAP_YEARS).toBe(10);
    expect(rarityProblem(parse('0 0 29 2 *'))).toBeNull();
    expect(rarityProblem(parse('0 0 29 2 */7'))).toBe(
      'fires less than once in 10 years (up to 40 years pass between two fire times); an expression must fire at least once every 10 years',
    );
  });

  it('take() stops at `until`: its search never walks past it', () => {
    const s = parse('0 0 29 2 *', 'Europe/Berlin');
    const from = new Date('2026-01-01T00:00:00Z');
    const all = s.take(from, 5);
    expect(all.map((o) => o.at.getUTCFullYear())).toEqual([2028, 2032, 2036, 2040, 2044]);
    const cut = s.take(from, 5, new Date('2036-02-28T23:00:00Z'));
    expect(cut.map((o) => o.at.getUTCFullYear())).toEqual([2028, 2032]);
  });

  it('a zone is kept in its canonical spelling', () => {
    expect(parse('0 9 * * *', 'europe/berlin').timezone).toBe('Europe/Berlin');
  });
});
