// Cron schedules in an IANA time zone: parse once, then compute fire times. Pure (no clock, no I/O);
// the only outside input is the tz database that Intl carries (see zone.ts).
//
// cron-parser expands each field (lists, ranges, steps, names) and checks ranges. We do not use its
// iteration: its DST handling is not the one we promise (below), and it walks candidate times step
// by step. Instead, walls ("wall-clock seconds": local date and time counted as if they were UTC) are
// searched field by field on the calendar (nextWall), and the zone's offset changes cut the timeline
// into segments of constant offset, inside which instant = wall − offset exactly.
//
// Time zones and DST follow RFC 5545 (§3.3.5) for expressions with a fixed hour:
// - a local time that does not exist (spring-forward gap) fires with the offset in effect before the
//   change: `30 2 * * *` in Europe/Berlin fires on 2027-03-28 at 01:30Z, i.e. 03:30+02:00;
// - a local time that occurs twice (fall-back) fires once, at its first occurrence (earlier instant).
// Expressions whose hour field is `*` or `*/n` follow elapsed time instead, like Vixie cron: they fire
// whenever the local clock shows a matching time — on both passes through a repeated hour, never in a
// skipped one — and never twice for one instant. Every other hour field (a value, list, range or
// `a-b/n`) names particular hours of the day, so it is "fixed".

import { CronExpressionParser } from 'cron-parser';
import {
  canonicalTimeZone,
  formatLocal,
  offsetAt,
  transitionsInYear,
  utcYear,
  yearStart,
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
const GREGORIAN_CYCLE_DAYS = 146_097; // 400 years: dates and weekdays repeat exactly

const FIELDS = ['second', 'minute', 'hour', 'dayOfMonth', 'month', 'dayOfWeek'] as const;
type FieldName = (typeof FIELDS)[number];
const LABELS: Record<FieldName, string> = {
  second: 'second',
  minute: 'minute',
  hour: 'hour',
  dayOfMonth: 'day-of-month',
  month: 'month',
  dayOfWeek: 'day-of-week',
};
const NAMES: Partial<Record<FieldName, readonly string[]>> = {
  month: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
  dayOfWeek: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
};
// cron-parser knows more macros (@minutely, @secondly, @weekdays…) but not @midnight; we accept the
// classic set only, so a stored expression means the same thing in any cron.
const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const SHAPE_HINT =
  'expected 5 fields (minute hour day-of-month month day-of-week), 6 with a leading seconds field, ' +
  `or one of ${Object.keys(MACROS).join(', ')}`;
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

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

interface Fields {
  values: Record<FieldName, number[]>;
  // Written as `*` or `*/n`: see the day rule in Calendar.dayMatches and the DST rule at the top.
  star: Record<'hour' | 'dayOfMonth' | 'dayOfWeek', boolean>;
}

/** The expanded fields, or an error message naming the field at fault. */
function parseFields(cron: string): Fields | string {
  let text = cron.trim();
  if (text === '') return `The cron expression is empty: ${SHAPE_HINT}.`;
  // Each list item costs a parse; listing every value of every field takes about 500 characters.
  if (text.length > 1024) return 'The cron expression is too long (at most 1024 characters).';
  if (text.startsWith('@')) {
    const expanded = MACROS[text.toLowerCase()];
    if (!expanded) return `Unknown cron macro "${text}": ${SHAPE_HINT}.`;
    text = expanded;
  }
  const parts = text.split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) {
    return `The cron expression has ${parts.length} field${parts.length === 1 ? '' : 's'}: ${SHAPE_HINT}.`;
  }
  const raw = parts.length === 5 ? ['0', ...parts] : parts;
  const values = {} as Record<FieldName, number[]>;
  for (const [i, name] of FIELDS.entries()) {
    const expanded = expandField(name, raw[i] ?? '');
    if (typeof expanded === 'string') return `Invalid ${LABELS[name]} field "${raw[i]}": ${expanded}.`;
    values[name] = expanded;
  }
  const isStar = (i: number) => /^\*(\/\d+)?$/.test(raw[i] ?? '');
  const star = { hour: isStar(2), dayOfMonth: isStar(3), dayOfWeek: isStar(5) };
  // A day of month that no chosen month has never fires (unless the day of week rescues it, OR rule).
  // cron-parser refuses these too, without saying why.
  const firstDay = Math.min(...values.dayOfMonth);
  if (!star.dayOfMonth && star.dayOfWeek && values.month.every((m) => firstDay > DAYS_IN_MONTH[m - 1]!)) {
    return `Invalid day-of-month field "${raw[3]}": day ${firstDay} never occurs in month ${raw[4]}, so the schedule would never fire.`;
  }
  return { values, star };
}

/**
 * One field's values (day of week 7 folded onto 0), or what is wrong with it. We check the shape
 * ourselves — plain cron only: no `?`, `L`, `W`, `#` or Jenkins' `H` (random), which cron-parser
 * would accept — then let cron-parser expand the field inside an expression where every other field
 * is `*`, so its (terse) error can only be about this field.
 */
function expandField(name: FieldName, raw: string): number[] | string {
  const names = NAMES[name];
  const value = names ? '(?:\\d+|[a-z]+)' : '\\d+';
  const item = new RegExp(`^(?:\\*|${value}(?:-${value})?)(?:/\\d+)?$`, 'i');
  for (const part of raw.split(',')) {
    if (!item.test(part)) {
      return `"${part}" is not a value, a range (a-b), "*" or a step (*/n, a-b/n)${names ? ` (names: ${names[0]}, ${names[1]}, …)` : ''}`;
    }
    for (const word of part.match(/[a-z]+/gi) ?? []) {
      if (!names?.includes(word.toLowerCase())) {
        return `unknown name "${word}" (use ${names?.join(', ')})`;
      }
    }
  }
  // Names become numbers here rather than in cron-parser, which reads `fri-sun` as the empty 5-0:
  // Sunday ending a range is 7.
  const numeric = names
    ? raw.replace(/(-?)([a-z]+)/gi, (_, dash: string, word: string) => {
        const n = names.indexOf(word.toLowerCase()) + (name === 'month' ? 1 : 0);
        return `${dash}${dash && name === 'dayOfWeek' && n === 0 ? 7 : n}`;
      })
    : raw;
  // Item by item: cron-parser refuses a list whose items overlap (`1-5,3`, even `0,7` for Sunday),
  // which cron allows.
  const values = new Set<number>();
  for (const part of numeric.split(',')) {
    const probe = FIELDS.map((f) => (f === name ? part : f === 'second' ? '0' : '*')).join(' ');
    try {
      // Typed as unions of literal ranges (0 | 1 | … | 59); plain numbers are all we need.
      const expanded: readonly (number | string)[] = CronExpressionParser.parse(probe).fields[name].values;
      for (const v of expanded) if (typeof v === 'number') values.add(name === 'dayOfWeek' ? v % 7 : v);
    } catch (err) {
      return (err as Error).message.replace(/^(Constraint|Validation) error, /, '');
    }
  }
  return [...values].sort((a, b) => a - b);
}

/** Which wall-clock times match the fields, on a zone-less calendar. */
class Calendar {
  private readonly month: boolean[];
  private readonly dom: boolean[];
  private readonly dow: boolean[];
  /** For each value v: the smallest allowed value ≥ v, or -1 (index max+1 is always -1). */
  private readonly nextHour: number[];
  private readonly nextMinute: number[];
  private readonly nextSecond: number[];
  readonly hours: readonly number[];
  readonly minutes: readonly number[];
  readonly seconds: readonly number[];

  constructor(private readonly f: Fields) {
    const { values } = f;
    const flags = (vs: number[], size: number) => Array.from({ length: size }, (_, i) => vs.includes(i));
    const nextOf = (vs: number[], size: number) =>
      Array.from({ length: size + 1 }, (_, i) => vs.find((v) => v >= i) ?? -1);
    this.month = flags(values.month, 13);
    this.dom = flags(values.dayOfMonth, 32);
    this.dow = flags(values.dayOfWeek, 7);
    this.nextHour = nextOf(values.hour, 24);
    this.nextMinute = nextOf(values.minute, 60);
    this.nextSecond = nextOf(values.second, 60);
    this.hours = values.hour;
    this.minutes = values.minute;
    this.seconds = values.second;
  }

  // The day rule of Vixie cron (and crontab.guru): when day of month and day of week are both
  // restricted, a day matches if EITHER matches; a field written `*` or `*/n` does not count as
  // restricted, and then both must match (so `0 0 */2 * 1` is odd days that are Mondays).
  private dayMatches(d: number, dow: number): boolean {
    const byDom = this.dom[d]!;
    const byDow = this.dow[dow]!;
    return this.f.star.dayOfMonth || this.f.star.dayOfWeek ? byDom && byDow : byDom || byDow;
  }

  /**
   * See CronSchedule.longestGapDays. Walks one 400-year cycle from 2000-01-01 (a Saturday), a month
   * at a time where the month does not match. Remembered per day rule: only the month, day-of-month
   * and day-of-week fields decide it, and a few distinct rules cover almost every expression.
   */
  longestGapDays(): number {
    const { values, star } = this.f;
    const key = JSON.stringify([
      values.month,
      values.dayOfMonth,
      values.dayOfWeek,
      star.dayOfMonth,
      star.dayOfWeek,
    ]);
    let gap = gapByDayRule.get(key);
    if (gap === undefined) {
      gap = this.walkCycle();
      if (gapByDayRule.size >= GAP_CACHE_LIMIT) gapByDayRule.clear();
      gapByDayRule.set(key, gap);
    }
    return gap;
  }

  private walkCycle(): number {
    let first = -1;
    let last = -1;
    let longest = 0;
    let y = 2000;
    let m = 1;
    let d = 1;
    let dow = 6;
    for (let day = 0; day < GREGORIAN_CYCLE_DAYS;) {
      const monthDays = m === 2 && !isLeap(y) ? 28 : DAYS_IN_MONTH[m - 1]!;
      const step = this.month[m]! ? 1 : monthDays - d + 1;
      if (step === 1 && this.dayMatches(d, dow)) {
        if (first < 0) first = day;
        else longest = Math.max(longest, day - last);
        last = day;
      }
      day += step;
      dow = (dow + step) % 7;
      d += step;
      if (d > monthDays) {
        d = 1;
        if (++m > 12) {
          m = 1;
          y++;
        }
      }
    }
    if (first < 0) return Infinity;
    // The cycle repeats: the stretch from the last matching day round to the first one again.
    return Math.max(longest, first + GREGORIAN_CYCLE_DAYS - last);
  }

  /** The first matching time of day (seconds since midnight) at or after `sod`, or null. */
  private timeOfDayFrom(sod: number): number | null {
    const h = Math.floor(sod / 3600);
    const m = Math.floor((sod % 3600) / 60);
    if (this.nextHour[h] === h) {
      if (this.nextMinute[m] === m) {
        const s = this.nextSecond[sod % 60]!;
        if (s >= 0) return h * 3600 + m * 60 + s;
      }
      const m2 = this.nextMinute[m + 1]!;
      if (m2 >= 0) return h * 3600 + m2 * 60 + this.seconds[0]!;
    }
    const h2 = this.nextHour[h + 1]!;
    return h2 >= 0 ? h2 * 3600 + this.minutes[0]! * 60 + this.seconds[0]! : null;
  }

  /**
   * The first matching wall in [lo, hi], or null. Skips whole months and days, so a sparse schedule
   * costs at most a few hundred steps per year searched.
   */
  nextWall(lo: number, hi: number): number | null {
    let day = Math.floor(lo / DAY);
    let sod = lo - day * DAY;
    const lastDay = Math.floor(hi / DAY);
    const date = new Date(day * DAY * 1000);
    let y = date.getUTCFullYear();
    let m = date.getUTCMonth() + 1;
    let d = date.getUTCDate();
    let dow = date.getUTCDay();
    while (day <= lastDay) {
      const monthDays = m === 2 && !isLeap(y) ? 28 : DAYS_IN_MONTH[m - 1]!;
      const inMonth = this.month[m]!;
      if (inMonth && this.dayMatches(d, dow)) {
        const t = this.timeOfDayFrom(sod);
        if (t !== null) {
          const wall = day * DAY + t;
          return wall <= hi ? wall : null;
        }
      }
      const advance = inMonth ? 1 : monthDays - d + 1; // to the 1st of the next month
      day += advance;
      dow = (dow + advance) % 7;
      d += advance;
      sod = 0;
      if (d > monthDays) {
        d = 1;
        m = m === 12 ? 1 : m + 1;
        if (m === 1) y++;
      }
    }
    return null;
  }
}

const gapByDayRule = new Map<string, number>();
const GAP_CACHE_LIMIT = 1_000;

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** A stretch of time with one UTC offset: [start, end). `start` is -Infinity if no change is near. */
interface Segment {
  start: number;
  end: number;
  offset: number;
  /** The offset before `start` (equal to `offset` when start is -Infinity). */
  before: number;
}

/**
 * The segment holding instant `t`. Looks one year back for the last change (only a change within the
 * last few hours matters, see nextInstant) and one year ahead for the next; with none ahead, the
 * segment simply ends two years on and the caller carries on from there.
 */
function segmentAt(zone: string, t: number): Segment {
  const year = utcYear(t);
  let prev: Transition | undefined;
  for (const y of [year, year - 1]) {
    prev = transitionsInYear(zone, y).findLast((tr) => tr.at <= t);
    if (prev) break;
  }
  let next: Transition | undefined;
  for (const y of [year, year + 1]) {
    next = transitionsInYear(zone, y).find((tr) => tr.at > t);
    if (next) break;
  }
  const end = next ? next.at : yearStart(year + 2);
  if (!prev) {
    const offset = offsetAt(zone, t);
    return { start: -Infinity, end, offset, before: offset };
  }
  return { start: prev.at, end, offset: prev.after, before: prev.before };
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
