// The zone-less calendar of a cron expression: which wall-clock times ("walls": local date and time
// counted as if they were UTC, in seconds) match its fields, searched field by field, and how long
// its day rule can go without a matching day. Pure; cron.ts maps walls onto instants in a zone.

import { DAYS_IN_MONTH, type Fields } from './cronFields.ts';

const DAY = 86_400;
const GREGORIAN_CYCLE_DAYS = 146_097; // 400 years: dates and weekdays repeat exactly

/** Which wall-clock times match the fields, on a zone-less calendar. */
export class Calendar {
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
