// Property tests: random expressions built from random field values, in zones with every kind of DST
// change, checked against a brute-force oracle that resolves each matching wall-clock time on its
// own (luxon for offsets, the rules written out plainly) — not against the engine's segment logic.
import fc from 'fast-check';
import { DateTime, IANAZone } from 'luxon';
import { describe, expect, it } from 'vitest';
import { parseCronSchedule } from '../../src/schedules/cron.ts';

const ZONES = [
  'UTC',
  'Europe/Berlin',
  'Europe/London',
  'America/New_York',
  'America/St_Johns', // -03:30, DST
  'America/Santiago', // changes at local midnight
  'Australia/Lord_Howe', // 30-minute DST
  'Australia/Sydney',
  'Pacific/Chatham', // +12:45 / +13:45
  'Asia/Tokyo',
  'Asia/Kolkata',
] as const;

const offsetOf = (zone: string, t: number) => IANAZone.create(zone).offset(t * 1000) * 60;

/** The zone's offset changes in `year`, in seconds, by luxon with an hourly scan and bisection. */
function changes(zone: string, year: number): number[] {
  const out: number[] = [];
  const end = Date.UTC(year + 1, 0, 1) / 1000;
  for (let t = Date.UTC(year, 0, 1) / 1000; t < end; t += 3600) {
    if (offsetOf(zone, t) === offsetOf(zone, t + 3600)) continue;
    let lo = t;
    let hi = t + 3600;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (offsetOf(zone, mid) === offsetOf(zone, t)) lo = mid;
      else hi = mid;
    }
    out.push(hi);
  }
  return out;
}
const CHANGES = new Map(ZONES.map((z) => [z, [...changes(z, 2027), ...changes(z, 2031)]]));

interface Field {
  text: string;
  values: number[];
}
const range = (a: number, b: number, step = 1) =>
  Array.from({ length: Math.floor((b - a) / step) + 1 }, (_, i) => a + i * step);

// A random field over [min, max]: `*`, a value, a list, a range, `*/n` or `a-b/n`, with its values.
function field(min: number, max: number, weights: { star: number; other: number }): fc.Arbitrary<Field> {
  const value = fc.integer({ min, max });
  return fc.oneof(
    { weight: weights.star, arbitrary: fc.constant({ text: '*', values: range(min, max) }) },
    { weight: weights.other, arbitrary: value.map((v) => ({ text: `${v}`, values: [v] })) },
    {
      weight: weights.other,
      arbitrary: fc
        .uniqueArray(value, { minLength: 2, maxLength: 4 })
        .map((vs) => ({ text: vs.join(','), values: vs })),
    },
    {
      weight: weights.other,
      arbitrary: fc
        .tuple(value, value)
        .map(([a, b]) => [Math.min(a, b), Math.max(a, b)])
        .map(([a, b]) => ({ text: `${a}-${b}`, values: range(a!, b!) })),
    },
    {
      weight: weights.star,
      arbitrary: fc
        .integer({ min: 1, max: Math.max(1, max - min) })
        .map((n) => ({ text: `*/${n}`, values: range(min, max, n) })),
    },
    {
      weight: weights.other,
      arbitrary: fc
        .tuple(value, value, fc.integer({ min: 1, max: 12 }))
        .map(([a, b, n]) => [Math.min(a, b), Math.max(a, b), n] as const)
        .map(([a, b, n]) => ({ text: `${a}-${b}/${n}`, values: range(a, b, n) })),
    },
  );
}

interface Expr {
  cron: string;
  seconds: Set<number>;
  minutes: Set<number>;
  hours: Set<number>;
  doms: Set<number>;
  months: Set<number>;
  dows: Set<number>;
  domStar: boolean;
  dowStar: boolean;
  elapsed: boolean;
}

// Seconds stay sparse (one to a few a minute) so that the oracle, which visits every matching wall
// time near the window, stays fast.
const secondsField = fc.oneof(
  fc.constant(null),
  fc.integer({ min: 0, max: 59 }).map((v) => ({ text: `${v}`, values: [v] })),
  fc.constantFrom(
    { text: '*/20', values: [0, 20, 40] },
    { text: '10,50', values: [10, 50] },
    { text: '0-59/30', values: [0, 30] },
  ),
);
const expression: fc.Arbitrary<Expr> = fc
  .record({
    second: secondsField,
    minute: field(0, 59, { star: 2, other: 3 }),
    hour: field(0, 23, { star: 4, other: 3 }),
    dom: field(1, 31, { star: 12, other: 1 }),
    month: field(1, 12, { star: 12, other: 1 }),
    dow: field(0, 7, { star: 8, other: 1 }),
  })
  .map(({ second, minute, hour, dom, month, dow }) => {
    const fields = [minute, hour, dom, month, dow].map((f) => f.text);
    return {
      cron: (second ? [second.text, ...fields] : fields).join(' '),
      seconds: new Set(second ? second.values : [0]),
      minutes: new Set(minute.values),
      hours: new Set(hour.values),
      doms: new Set(dom.values),
      months: new Set(month.values),
      dows: new Set(dow.values.map((d) => d % 7)),
      domStar: dom.text.startsWith('*'),
      dowStar: dow.text.startsWith('*'),
      elapsed: hour.text.startsWith('*'),
    };
  });

/** Does a wall-clock time (as a UTC-based Date) match, by the rules written out plainly? */
function matchesWall(e: Expr, wall: Date): boolean {
  const dom = e.doms.has(wall.getUTCDate());
  const dow = e.dows.has(wall.getUTCDay());
  const day = e.domStar || e.dowStar ? dom && dow : dom || dow;
  return (
    day &&
    e.months.has(wall.getUTCMonth() + 1) &&
    e.hours.has(wall.getUTCHours()) &&
    e.minutes.has(wall.getUTCMinutes()) &&
    e.seconds.has(wall.getUTCSeconds())
  );
}

/**
 * Every fire time in (from, to], by brute force: each matching wall time w in the window is resolved
 * on its own. The offsets that can apply to it are those found a day either side; an offset o fits if
 * the instant w − o really has offset o. Elapsed time: every fitting instant fires. Fixed hours
 * (RFC 5545): the earliest fitting instant; none (a gap) → w taken with the offset before the gap.
 */
function oracle(e: Expr, zone: string, from: number, to: number): number[] {
  const probe = [from - 86_400, from, to, to + 86_400].map((t) => offsetOf(zone, t));
  const out = new Set<number>();
  const firstDay = Math.floor((from + Math.min(...probe)) / 86_400);
  const lastDay = Math.floor((to + Math.max(...probe)) / 86_400);
  for (let day = firstDay; day <= lastDay; day++) {
    for (const h of e.hours)
      for (const m of e.minutes)
        for (const s of e.seconds) {
          const w = day * 86_400 + h * 3600 + m * 60 + s;
          if (!matchesWall(e, new Date(w * 1000))) continue;
          const near = [...new Set([-86_400, 0, 86_400].map((d) => offsetOf(zone, w + d)))];
          const fitting = near.filter((o) => offsetOf(zone, w - o) === o).map((o) => w - o);
          const instants = e.elapsed
            ? fitting
            : fitting.length > 0
              ? [Math.min(...fitting)]
              : [w - offsetOf(zone, w - Math.max(...near))];
          for (const t of instants) if (t > from && t <= to) out.add(t);
        }
  }
  return [...out].sort((a, b) => a - b);
}

/** A start time: just before or after one of the zone's DST changes (2027, 2031), near one, or anywhere in 2026–2032. */
const start = (zone: string) => {
  const anchors = [...CHANGES.get(zone as (typeof ZONES)[number])!, Date.UTC(2027, 5, 1) / 1000];
  const near = (min: number, max: number) =>
    fc.tuple(fc.constantFrom(...anchors), fc.integer({ min, max })).map(([t, d]) => t + d);
  return fc.oneof(
    near(-3 * 3600, 3600),
    near(-2 * 86_400, 86_400),
    fc.integer({ min: Date.UTC(2026, 0, 1) / 1000, max: Date.UTC(2032, 0, 1) / 1000 }),
  );
};

const withZone = fc
  .tuple(expression, fc.constantFrom(...ZONES))
  .chain(([e, zone]) =>
    fc.tuple(fc.constant(e), fc.constant(zone), start(zone), fc.integer({ min: 0, max: 999 })),
  );

function parse(e: Expr, zone: string) {
  const r = parseCronSchedule(e.cron, zone);
  if (!r.ok) {
    // The only valid-looking expressions we refuse: a day of month no chosen month has.
    expect(r.message).toMatch(/never occurs/);
    return null;
  }
  expect(r.schedule.followsElapsedTime).toBe(e.elapsed);
  return r.schedule;
}

describe('cron engine properties', () => {
  it('take(from, 20): increasing, after `from`, local fields match (or the documented gap shift)', () => {
    fc.assert(
      fc.property(withZone, ([e, zone, from, ms]) => {
        const s = parse(e, zone);
        if (!s) return;
        const list = s.take(new Date(from * 1000 + ms), 20);
        expect(list).toHaveLength(20);
        let prev = from * 1000 + ms;
        for (const { at, local } of list) {
          expect(at.getTime()).toBeGreaterThan(prev);
          expect(at.getTime() % 1000).toBe(0);
          prev = at.getTime();
          const t = at.getTime() / 1000;
          expect(local).toBe(DateTime.fromSeconds(t, { zone }).toFormat("yyyy-MM-dd'T'HH:mm:ssZZ"));
          const o = offsetOf(zone, t);
          if (matchesWall(e, new Date((t + o) * 1000))) continue;
          // Otherwise: a fixed-hour time that does not exist, taken with the offset before the change.
          const before = offsetOf(zone, t - 3 * 3600);
          expect(e.elapsed, `${e.cron} ${zone} ${local}`).toBe(false);
          expect(before).toBeLessThan(o);
          expect(matchesWall(e, new Date((t + before) * 1000))).toBe(true);
          expect(offsetOf(zone, t - (o - before))).toBe(before); // that wall time does not exist
        }
      }),
      { numRuns: 300 },
    );
  });

  it('take(from, 100) is exactly the brute-force list of fire times (nothing missed, nothing extra)', () => {
    fc.assert(
      fc.property(withZone, ([e, zone, from]) => {
        const s = parse(e, zone);
        if (!s) return;
        const list = s.take(new Date(from * 1000), 100).map((o) => o.at.getTime() / 1000);
        // Compare over three days, or up to the 100th fire time when that comes sooner.
        const to = Math.min(from + 3 * 86_400, list.length === 100 ? list[99]! : Infinity);
        expect(
          list.filter((t) => t <= to),
          `${e.cron} in ${zone} from ${new Date(from * 1000).toISOString()}`,
        ).toEqual(oracle(e, zone, from, to));
      }),
      { numRuns: 300 },
    );
  });

  it('next(t) agrees with take, and minIntervalSeconds bounds every gap', () => {
    fc.assert(
      fc.property(withZone, ([e, zone, from]) => {
        const s = parse(e, zone);
        if (!s) return;
        const list = s.take(new Date(from * 1000), 30).map((o) => o.at.getTime());
        expect(s.next(new Date(from * 1000))?.getTime()).toBe(list[0]);
        expect(s.next(new Date(list[3]! - 1))?.getTime()).toBe(list[3]);
        expect(s.next(new Date(list[3]!))?.getTime()).toBe(list[4]);
        const min = s.minIntervalSeconds(new Date(from * 1000));
        for (let i = 1; i < list.length; i++)
          expect((list[i]! - list[i - 1]!) / 1000).toBeGreaterThanOrEqual(min);
      }),
      { numRuns: 60 },
    );
  });
});
