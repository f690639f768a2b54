// Time zones: canonical spellings, caches that stay bounded whatever users type, and the weekly scan
// for offset changes checked against a daily one.
import { describe, expect, it } from 'vitest';
import {
  canonicalTimeZone,
  transitionsInYear,
  WEEKLY_SCAN_FROM_YEAR,
  zoneCacheSizes,
} from '../../src/schedules/zone.ts';

const DAY = 86_400;

describe('canonicalTimeZone', () => {
  it('answers the runtime’s spelling for any capitalisation, null for anything else', () => {
    expect(canonicalTimeZone('Europe/Berlin')).toBe('Europe/Berlin');
    expect(canonicalTimeZone('eUrOpE/bErLiN')).toBe('Europe/Berlin');
    // Whatever the runtime calls canonical (ICU maps some links: this one to America/Buenos_Aires).
    expect(canonicalTimeZone('america/argentina/buenos_aires')).toBe(
      canonicalTimeZone('America/Argentina/Buenos_Aires'),
    );
    expect(canonicalTimeZone('utc')).toBe('UTC');
    for (const bad of ['Mars/Olympus', '+02:00', 'GMT+2:00', '', 'Europe/Berlin\n', 'x'.repeat(65)])
      expect(canonicalTimeZone(bad), bad).toBeNull();
  });

  it('keeps its caches bounded: random spellings of one zone add no formatter and no transition entry', () => {
    const zone = 'America/New_York';
    transitionsInYear(canonicalTimeZone(zone)!, 2030);
    const before = zoneCacheSizes();
    for (let i = 0; i < 20_000; i++) {
      const spelled = [...zone]
        .map((c, j) => ((i >> (j % 12)) & 1 ? c.toUpperCase() : c.toLowerCase()))
        .join('');
      expect(canonicalTimeZone(spelled)).toBe(zone);
    }
    const after = zoneCacheSizes();
    expect(after.formatters).toBe(before.formatters);
    expect(after.transitions).toBe(before.transitions);
    expect(after.spellings).toBeLessThanOrEqual(2_000);
  });
});

describe('transitionsInYear', () => {
  // The weekly scan assumes no zone changes its offset twice within a week. Checked once for every
  // zone, 1900–2100 (zone.ts); here, every zone in years with odd changes: Brazil's 2000, Gaza's
  // 2054 (a two-week step misses both), and this decade.
  const zones = Intl.supportedValuesOf('timeZone');
  it.each([1916, 2000, 2026, 2054])('a weekly scan finds what a daily one finds, every zone, %i', (year) => {
    expect(year).toBeGreaterThanOrEqual(WEEKLY_SCAN_FROM_YEAR);
    for (const z of zones) {
      expect(transitionsInYear(z, year, 7 * DAY), `${z} ${year}`).toEqual(transitionsInYear(z, year, DAY));
    }
  });

  it('finds Berlin’s two changes of 2027 to the second', () => {
    expect(transitionsInYear('Europe/Berlin', 2027)).toEqual([
      { at: Date.UTC(2027, 2, 28, 1) / 1000, before: 3600, after: 7200 },
      { at: Date.UTC(2027, 9, 31, 1) / 1000, before: 7200, after: 3600 },
    ]);
  });
});
