// Cron schedules in an IANA time zone: parse once, then compute fire times. Pure (no clock, no I/O);
// the only outside input is the tz database that Intl carries (see zone.ts).
//
// Three parts: cronFields.ts parses the fields (cron-parser expands each one); calendar.ts searches
// walls ("wall-clock seconds": local date and time counted as if they were UTC) field by field; this
// file maps walls onto instants in a zone. We do not use cron-parser's iteration: its DST handling is
// not the one we promise (below), and it walks candidate times step by step. The zone's offset
// changes cut the timeline into segments of constant offset, inside which instant = wall − offset.
//
// Time zones and DST follow RFC 5545 (§3.3.5) for expressions with a fixed hour:
// - a local time that does not exist (spring-forward gap) fires with the offset in effect before the
//   change: `30 2 * * *` in Europe/Berlin fires on 2027-03-28 at 01:30Z, i.e. 03:30+02:00;
// - a local time that occurs twice (fall-back) fires once, at its first occurrence (earlier instant).
// Expressions whose hour field is `*` or `*/n` follow elapsed time instead, like Vixie cron: they fire
// whenever the local clock shows a matching time — on both passes through a repeated hour, never in a
// skipped one — and never twice for one instant. Every other hour field (a value, list, range or
// `a-b/n`) names particular hours of the day, so it is "fixed".

import { Calendar } from './calendar.ts';
import { parseFields, type Fields } from './cronFields.ts';
import {
  canonicalTimeZone,
  formatLocal,
  offsetAt,
  segmentAt,
  transitionsInYear,
  utcYear,
  type Transition,
} from './zone.ts';

const DAY = 86_400;
const YEAR = 366 * DAY;
// How far next() looks. Every expression we accept fires, but with the AND day rule it can be rare:
// Feb 29 that is a Sunday (`0 0 29 2 */7`) comes every 28 years, or 40 across 2100 (not leap).
const SEARCH_LIMIT = 41 * YEAR;
/**
 * How far ahead minIntervalSeconds() looks: 28 years is the Gregorian cycle of weekdays over dates
 * (1901–2099), so every combination of DST rule ("last Sunday of March") and day fields shows up.
 */
const INTERVAL_HORIZON = 28 * YEAR;
export const MAX_TAKE = 100;
/**
 * The last instant a fire time may fall on: 9999-12-31T09:59:59Z, still the year 9999 locally in
 * every zone (offsets reach +14:00). RFC 3339 writes four-digit years, so a later time could be
 * neither answered readably ("+010000-…", "10000-01-01T00:00:00+14:00") nor sent back.
 */
export const LAST_INSTANT = new Date('9999-12-31T09:59:59Z');
const LAST_SECOND = LAST_INSTANT.getTime() / 1000;
/**
 * An expression must fire at least once in every this many years to be accepted (create, edit,
 * preview). Leap days pass (every 4 years, 8 across 2100); Feb 29 that is a Sunday (28 years) does
 * not. It bounds every search: next() and take() never walk more than this between two fire times.
 */
export const MAX_GAP_YEARS = 10;

export interface Occurrence {
  /** The fire time (a UTC instant). */
  at: Date;
  /** The same instant as local time in the schedule's zone, with its offset: "2027-03-28T03:30:00+02:00". */
  local: string;
}

export interface CronSchedule {
  readonly cron: string;
  readonly timezone: string;
  // True when the hour field is `*` or `*/n`: the schedule follows elapsed time across DST changes.
  readonly followsElapsedTime: boolean;
  /** The first fire time strictly after `after`, or null if there is none before LAST_INSTANT. */
  next(after: Date): Date | null;
  /**
   * The next `count` (1..MAX_TAKE) fire times strictly after `after`, strictly increasing; with
   * `until`, only those before it (the search stops there: a bound on its work).
   */
  take(after: Date, count: number, until?: Date): Occurrence[];
  /**
   * The longest stretch, in days, between two consecutive days with a fire time, over the 400-year
   * Gregorian cycle (zone-less: a DST change moves a fire by hours, not days). Infinity if no day
   * ever matches. Costs one pass over 146,097 days (about a millisecond), computed once.
   */
  longestGapDays(): number;
  /**
   * The shortest gap, in seconds, between consecutive fire times from `from` on (looking 28 years
   * ahead), DST changes included; see minIntervalSeconds below for the method.
   */
  minIntervalSeconds(from: Date): number;
}

export type CronParseResult =
  { ok: true; schedule: CronSchedule } | { ok: false; field: 'cron' | 'timezone'; message: string };

/** Parses a cron expression for the IANA zone `timezone`; every problem comes back as a message. */
export function parseCronSchedule(cron: string, timezone = 'UTC'): CronParseResult {
  const fields = parseFields(cron);
  if (typeof fields === 'string') return { ok: false, field: 'cron', message: fields };
  const zone = canonicalTimeZone(timezone);
  if (zone === null) {
    return {
      ok: false,
      field: 'timezone',
      message: `Unknown time zone "${timezone}": expected an IANA name such as "Europe/Berlin" or "UTC".`,
    };
  }
  // The canonical spelling: every cache below is keyed by it (see zone.ts).
  return { ok: true, schedule: new Schedule(cron, zone, fields) };
}

/**
 * Why an expression is refused as too rare (it fires less than once in MAX_GAP_YEARS years), or
 * null. A hard cap on the work of any search for its fire times: without it, `0 0 29 2 *\/7` (Feb 29
 * on a Sunday) had a preview of 100 times search 2,800 years, over a second of CPU on the event loop.
 */
export function rarityProblem(schedule: CronSchedule): string | null {
  const gap = schedule.longestGapDays();
  if (gap <= MAX_GAP_YEARS * 365) return null;
  const years = gap === Infinity ? null : Math.round(gap / 365.2425);
  return (
    `fires less than once in ${MAX_GAP_YEARS} years` +
    (years === null ? ' (it never fires)' : ` (up to ${years} years pass between two fire times)`) +
    `; an expression must fire at least once every ${MAX_GAP_YEARS} years`
  );
}

const toSeconds = (d: Date): number => {
  const ms = d.getTime();
  if (Number.isNaN(ms)) throw new RangeError('invalid date');
  return Math.floor(ms / 1000);
};

class Schedule implements CronSchedule {
  readonly followsElapsedTime: boolean;
  private readonly calendar: Calendar;

  constructor(
    readonly cron: string,
    readonly timezone: string,
    fields: Fields,
  ) {
    this.followsElapsedTime = fields.star.hour;
    this.calendar = new Calendar(fields);
  }

  next(after: Date): Date | null {
    const at = this.nextInstant(toSeconds(after) + 1, LAST_SECOND);
    return at === null || at > LAST_SECOND ? null : new Date(at * 1000);
  }

  private gapDays: number | undefined;
  longestGapDays(): number {
    this.gapDays ??= this.calendar.longestGapDays();
    return this.gapDays;
  }

  take(after: Date, count: number, until?: Date): Occurrence[] {
    if (!Number.isInteger(count) || count < 1 || count > MAX_TAKE) {
      throw new RangeError(`count must be an integer from 1 to ${MAX_TAKE}`);
    }
    const out: Occurrence[] = [];
    let t = toSeconds(after) + 1;
    const end = Math.min(LAST_SECOND, until === undefined ? Infinity : toSeconds(until) - 1);
    while (out.length < count) {
      const at = this.nextInstant(t, end);
      if (at === null || at > end) break;
      out.push({ at: new Date(at * 1000), local: formatLocal(at, offsetAt(this.timezone, at)) });
      t = at + 1;
    }
    return out;
  }

  /**
   * The first fire time at or after instant `t` (seconds). Within a segment of constant offset o,
   * the walls of [from + o, end + o) map one to one onto instants (wall − o), in order. On top of
   * that, for fixed-hour schedules (RFC 5545):
   * - after a fall-back at `start`, walls below start + before already fired in the previous segment
   *   (first occurrence wins), so this segment only owns walls from start + before on;
   * - after a spring-forward at `start`, the skipped walls [start + before, start + offset) fire at
   *   wall − before, i.e. in [start, start + shift): a second, equally ordered stream to merge.
   */
  private nextInstant(t: number, end = Infinity): number | null {
    const fixed = !this.followsElapsedTime;
    for (let from = t; from <= Math.min(t + SEARCH_LIMIT, end);) {
      const seg = segmentAt(this.timezone, from);
      const o = seg.offset;
      const ownedFrom = fixed ? Math.max(from + o, seg.start + Math.max(o, seg.before)) : from + o;
      const wall = this.calendar.nextWall(ownedFrom, seg.end + o - 1);
      let best = wall === null ? null : wall - o;
      if (fixed && seg.before < o) {
        const skipped = this.calendar.nextWall(Math.max(from, seg.start) + seg.before, seg.start + o - 1);
        if (skipped !== null && (best === null || skipped - seg.before < best)) best = skipped - seg.before;
      }
      if (best !== null) return best;
      from = seg.end;
    }
    return null;
  }

  /**
   * Method: a gap between consecutive fire times is either
   * (a) a wall-clock gap — two fires with the same offset and no DST change between them, which is
   *     a gap of the zone-less calendar: between consecutive times of day on one matching day, or
   *     from the last time of one matching day to the first of the next matching day; or
   * (b) a gap next to a DST change: the two fires on either side of it, plus, for fixed-hour
   *     schedules after a spring-forward, the fires shifted out of the gap (interleaved with the
   *     regular ones in [change, change + shift)).
   * (a) is computed from the fields (times of day: at most 86,400; matching days: scanned until two
   * consecutive ones are found), (b) by walking the actual fire times around each change within the
   * horizon. Sampling the first N fire times instead would miss bursts that only happen on some days
   * (`*\/10 * * 29 2 *`: every 10 s, on Feb 29 only) or around a DST change (`0 *\/2 * * *` in
   * Berlin fires 02:00+02:00 then 02:00+01:00: one hour apart, once a year).
   * A wall-clock gap in (a) counts at face value even if, for some odd expression, it only ever
   * occurs across a DST change (where (b) sees its true length); that can only understate the
   * result, i.e. err toward refusing.
   */
  minIntervalSeconds(from: Date): number {
    const start = toSeconds(from);
    const end = start + INTERVAL_HORIZON;
    let best = this.wallClockMinGap(start, end);
    for (let y = utcYear(start); y <= utcYear(end) && best > 1; y++) {
      for (const tr of transitionsInYear(this.timezone, y)) {
        if (tr.at > start && tr.at <= end) best = Math.min(best, this.minGapAround(tr, start));
      }
    }
    return best;
  }

  private wallClockMinGap(start: number, end: number): number {
    const { hours, minutes, seconds } = this.calendar;
    let first = -1;
    let last = -1;
    let best = Infinity;
    for (const h of hours) {
      for (const m of minutes) {
        for (const s of seconds) {
          const t = h * 3600 + m * 60 + s;
          if (last >= 0) best = Math.min(best, t - last);
          if (first < 0) first = t;
          last = t;
        }
      }
    }
    // From the last time of a matching day to the first of the next: only the smallest day step
    // counts. Past the horizon only to see a second matching day (Feb 29 on a Sunday: 28-40 years).
    let dayStep = Infinity;
    let prevDay: number | null = null;
    for (let lo = start; dayStep > 1;) {
      const wall = this.calendar.nextWall(lo, dayStep === Infinity ? lo + SEARCH_LIMIT : end);
      if (wall === null) break;
      const day = Math.floor(wall / DAY);
      if (prevDay !== null) dayStep = Math.min(dayStep, day - prevDay);
      prevDay = day;
      lo = (day + 1) * DAY;
    }
    return Math.min(best, dayStep * DAY - (last - first));
  }

  /** The smallest gap between consecutive fire times that a DST change affects (part (b) above). */
  private minGapAround(tr: Transition, floor: number): number {
    const shift = tr.after - tr.before;
    const windowEnd = !this.followsElapsedTime && shift > 0 ? tr.at + shift : tr.at;
    let prev = this.lastBefore(tr.at, floor);
    let best = Infinity;
    for (let t = prev === null ? tr.at : prev + 1; ;) {
      const at = this.nextInstant(t);
      if (at === null) break;
      if (prev !== null) best = Math.min(best, at - prev);
      if (at >= windowEnd) break;
      prev = at;
      t = at + 1;
    }
    return best;
  }

  /**
   * The last fire time in [floor, at), or null: widen the window back until it holds one, then bisect
   * on "the first fire time from here is before `at`", which is monotonic.
   */
  private lastBefore(at: number, floor: number): number | null {
    let lo: number;
    for (let span = 3600; ; span *= 4) {
      lo = Math.max(at - span, floor);
      const n = this.nextInstant(lo);
      if (n !== null && n < at) break;
      if (lo === floor) return null;
    }
    let hi = at;
    while (hi - lo > 1) {
      const mid = lo + Math.floor((hi - lo) / 2);
      const n = this.nextInstant(mid);
      if (n !== null && n < at) lo = mid;
      else hi = mid;
    }
    // nextInstant(lo) < at <= nextInstant(lo + 1): the fire time is lo itself.
    return lo;
  }
}

export { describeLocal } from './zone.ts';
