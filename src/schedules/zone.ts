// UTC offsets and offset changes (DST transitions) of an IANA time zone, read from Intl: the runtime
// ships the tz database, so we keep none of our own. Pure apart from memoisation (same answers, just
// cached). Times are whole seconds since the epoch; offsets are seconds east of UTC.

const DAY = 86_400;

/** An offset change: from `at` on, the zone is `after` seconds east of UTC instead of `before`. */
export interface Transition {
  at: number;
  before: number;
  after: number;
}

// Caches are keyed by the zone's canonical spelling only: Intl accepts any capitalisation
// ("eUrOpE/bErLiN"), and a cache keyed by what users type would grow without bound. Canonical names
// are a fixed set (about 600), so the formatter cache is bounded by it; the map from spellings to
// canonical names is bounded explicitly.
const formatters = new Map<string, Intl.DateTimeFormat>();
const spellings = new Map<string, string | null>();
const SPELLING_CACHE_LIMIT = 2_000;

/**
 * The runtime's canonical spelling of a time zone name ("europe/berlin" → "Europe/Berlin"), or null
 * for a name it does not know. Offset strings such as "+02:00" are refused even though Intl accepts
 * them: a fixed offset has no DST rules, and a stored zone should be a name a person recognises.
 */
export function canonicalTimeZone(name: string): string | null {
  const known = spellings.get(name);
  if (known !== undefined) return known;
  let canonical: string | null = null;
  if (/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(name) && name.length <= 64) {
    try {
      // `longOffset` prints just "GMT+02:00" for the zone name: one format call gives the offset,
      // about 5 times faster than luxon's IANAZone.offset (formatToParts plus date arithmetic).
      const f = new Intl.DateTimeFormat('en-US', { timeZone: name, timeZoneName: 'longOffset' });
      canonical = f.resolvedOptions().timeZone;
      if (!formatters.has(canonical)) formatters.set(canonical, f);
    } catch {
      canonical = null;
    }
  }
  // Dropping every spelling when full keeps memory bounded without an LRU; they are cheap to redo.
  if (spellings.size >= SPELLING_CACHE_LIMIT) spellings.clear();
  spellings.set(name, canonical);
  return canonical;
}

function formatter(zone: string): Intl.DateTimeFormat {
  const f = formatters.get(zone);
  if (f) return f;
  const canonical = canonicalTimeZone(zone);
  if (canonical === null) throw new RangeError(`unknown time zone: ${zone}`);
  return formatters.get(canonical)!;
}

/** Seconds east of UTC in `zone` at the instant `at` (seconds). */
export function offsetAt(zone: string, at: number): number {
  const m = /GMT(?:([+-])(\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(formatter(zone).format(at * 1000));
  if (!m) throw new Error(`cannot read the UTC offset of ${zone}`);
  if (!m[1]) return 0;
  const seconds = Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4] ?? 0);
  return m[1] === '-' ? -seconds : seconds;
}

const transitionCache = new Map<string, readonly Transition[]>();
// About 600 zones × 150 years; an entry is a short array (two changes a year at most, mostly none).
const TRANSITION_CACHE_LIMIT = 100_000;
/**
 * From this year on, offsets are compared a week apart (see transitionsInYear). Checked against a
 * one-day step for every zone the runtime knows (418), 1900–2100: the same changes to the second
 * (test/unit/zone.test.ts keeps checking a sample); a two-week step already missed some (Brazil
 * 2000, Gaza 2054). Earlier years keep the one-day step.
 */
export const WEEKLY_SCAN_FROM_YEAR = 1900;

/**
 * The offset changes with `at` in (Jan 1 `year`, Jan 1 `year`+1] UTC — half-open that way so a change
 * exactly at midnight UTC on Jan 1 belongs to one year only. Found by comparing offsets `step` apart
 * and bisecting to the second where they differ. This assumes a zone never changes its offset twice
 * within one step: a week from 1900 on (checked, see WEEKLY_SCAN_FROM_YEAR), a day before. The week makes a year cost ~75
 * offset reads instead of ~400: cold years are what a cron search over decades mostly pays for.
 */
export function transitionsInYear(zone: string, year: number, step = scanStep(year)): readonly Transition[] {
  const key = `${zone}\u0000${year}`;
  const cached = step === scanStep(year) ? transitionCache.get(key) : undefined;
  if (cached) return cached;
  const start = Date.UTC(year, 0, 1) / 1000;
  const end = Date.UTC(year + 1, 0, 1) / 1000;
  const found: Transition[] = [];
  let a = start;
  let oa = offsetAt(zone, a);
  while (a < end) {
    const b = Math.min(a + step, end);
    const ob = offsetAt(zone, b);
    if (ob !== oa) {
      let lo = a;
      let hi = b;
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (offsetAt(zone, mid) === oa) lo = mid;
        else hi = mid;
      }
      found.push({ at: hi, before: oa, after: ob });
    }
    a = b;
    oa = ob;
  }
  if (step !== scanStep(year)) return found; // a check of the method, not cached
  // The cache only saves work; dropping it all when it grows keeps memory bounded without an LRU.
  if (transitionCache.size >= TRANSITION_CACHE_LIMIT) transitionCache.clear();
  transitionCache.set(key, found);
  return found;
}

/** How many entries each cache holds (tests check that they stay bounded). */
export function zoneCacheSizes() {
  return { formatters: formatters.size, spellings: spellings.size, transitions: transitionCache.size };
}

const scanStep = (year: number) => (year >= WEEKLY_SCAN_FROM_YEAR ? 7 * DAY : DAY);

/** The UTC year whose transition list (see transitionsInYear) covers the instant `at`. */
export function utcYear(at: number): number {
  return new Date(at * 1000).getUTCFullYear();
}

/** The start of `year` in UTC, in seconds. */
export function yearStart(year: number): number {
  return Date.UTC(year, 0, 1) / 1000;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** ISO-8601 local time with the offset, e.g. "2027-03-28T03:30:00+02:00" (never "Z": the offset is the point). */
export function formatLocal(at: number, offset: number): string {
  const wall = new Date((at + offset) * 1000);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  // Offsets with seconds only exist before ~1900 (local mean time); RFC 3339 has no room for them.
  const zone = `${sign}${pad(Math.floor(abs / 3600))}:${pad(Math.floor((abs % 3600) / 60))}`;
  return (
    `${pad(wall.getUTCFullYear(), 4)}-${pad(wall.getUTCMonth() + 1)}-${pad(wall.getUTCDate())}` +
    `T${pad(wall.getUTCHours())}:${pad(wall.getUTCMinutes())}:${pad(wall.getUTCSeconds())}${zone}`
  );
}

/** The instant `at` as local time in `zone`, e.g. "2027-10-31T02:30:00+01:00"; sub-seconds are dropped. */
export function describeLocal(at: Date, zone: string): string {
  const seconds = Math.floor(at.getTime() / 1000);
  return formatLocal(seconds, offsetAt(zone, seconds));
}

/** A stretch of time with one UTC offset: [start, end). `start` is -Infinity if no change is near. */
export interface Segment {
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
export function segmentAt(zone: string, t: number): Segment {
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
