// The console's jobs-list filters (web/src/filters.ts, time.ts): pure, so checked here without a page.
// Browser behaviour around them is in test/integration/browser-console.test.ts.
import { describe, expect, it } from 'vitest';
import { dateFilter, statusesOf, toggleStatus } from '../../web/src/filters.ts';
import { inputStep, isoToLocalInput, localInputToIso } from '../../web/src/time.ts';

// The browser's zone is the process's here: one with a half-hour offset, so local ≠ UTC.
process.env.TZ = 'Asia/Kolkata';

const ALL = ['scheduled', 'running', 'retrying', 'succeeded', 'failed', 'cancelled'] as const;

describe('status chips', () => {
  it('a list from the URL presses each status it names; unknown names are ignored', () => {
    expect([...statusesOf('failed,retrying', ALL)]).toEqual(['retrying', 'failed']);
    expect([...statusesOf('failed, bogus', ALL)]).toEqual(['failed']);
    expect(statusesOf('', ALL).size).toBe(0);
  });

  it('a click toggles one status and keeps the others, in a fixed order', () => {
    expect(toggleStatus('', 'failed', ALL)).toBe('failed');
    expect(toggleStatus('failed', 'retrying', ALL)).toBe('retrying,failed');
    expect(toggleStatus('failed,retrying', 'failed', ALL)).toBe('retrying');
    expect(toggleStatus('failed', 'failed', ALL)).toBe('');
    // Every status pressed is the same as none: the "all" chip.
    expect(toggleStatus('scheduled,running,retrying,succeeded,failed', 'cancelled', ALL)).toBe('');
  });
});

describe('date fields', () => {
  it('show seconds and milliseconds when the instant has them, so the value reads back unchanged', () => {
    for (const iso of ['2026-12-01T08:00:00.000Z', '2026-12-01T08:00:30.000Z', '2026-12-01T08:00:30.250Z']) {
      const value = isoToLocalInput(iso);
      expect(localInputToIso(value)).toBe(iso);
    }
    expect(isoToLocalInput('2026-12-01T08:00:00Z')).toBe('2026-12-01T13:30');
    expect(isoToLocalInput('2026-12-01T08:00:30Z')).toMatch(/T\d{2}:\d{2}:30$/);
    expect(isoToLocalInput('2026-12-01T08:00:30.25Z')).toMatch(/T\d{2}:\d{2}:30\.250$/);
    expect(isoToLocalInput('')).toBe('');
    expect(isoToLocalInput('garbage')).toBe('');
  });

  it('get the step their value needs (the default 60 s would make seconds invalid)', () => {
    expect(inputStep('2026-12-01T09:00')).toBeUndefined();
    expect(inputStep('2026-12-01T09:00:30')).toBe(1);
    expect(inputStep('2026-12-01T09:00:30.250')).toBe(0.001);
  });

  it("an untouched field keeps the URL's value exactly; an edited one gives its instant", () => {
    const current = '2026-12-01T09:00:30+01:00';
    expect(dateFilter(isoToLocalInput(current), current)).toBe(current);
    const edited = '2026-12-02T10:15';
    expect(dateFilter(edited, current)).toBe(new Date(edited).toISOString());
    expect(dateFilter('', current)).toBe('');
    expect(dateFilter('', '')).toBe('');
  });
});
