import { describe, expect, it } from 'vitest';
import { parseCronSchedule } from '../../src/schedules/cron.ts';
import { MISFIRE_GRACE_MS, planNext, type PlanInput } from '../../src/schedules/planner.ts';

const every = (cron: string, tz = 'UTC') => {
  const r = parseCronSchedule(cron, tz);
  if (!r.ok) throw new Error(r.message);
  return r.schedule;
};
const d = (s: string) => new Date(s);
const base = (over: Partial<PlanInput>): PlanInput => ({
  schedule: every('*/5 * * * *'),
  startAt: null,
  endAt: null,
  misfire: 'run_once',
  plannedUntil: null,
  now: d('2027-01-01T10:02:00Z'),
  ...over,
});
const times = (p: ReturnType<typeof planNext>) =>
  p.occurrences.map((o) => [o.scheduledFor.toISOString(), o.dueAt.toISOString(), o.catchUp]);

describe('planNext', () => {
  it('a new schedule: the first fire time after now', () => {
    const p = planNext(base({}));
    expect(times(p)).toEqual([['2027-01-01T10:05:00.000Z', '2027-01-01T10:05:00.000Z', false]]);
    expect(p).toMatchObject({ plannedUntil: d('2027-01-01T10:05:00Z'), finished: false });
  });

  it('chains from the last planned time, not from now', () => {
    const p = planNext(base({ plannedUntil: d('2027-01-01T10:00:00Z'), now: d('2027-01-01T10:00:00.010Z') }));
    expect(times(p)).toEqual([['2027-01-01T10:05:00.000Z', '2027-01-01T10:05:00.000Z', false]]);
  });

  it('start_at: the first time is at or after it (start_at itself fires); end_at is exclusive and finishes', () => {
    const s = planNext(base({ startAt: d('2027-01-01T11:00:00Z') }));
    expect(times(s)[0]![0]).toBe('2027-01-01T11:00:00.000Z');
    const e = planNext(base({ plannedUntil: d('2027-01-01T10:55:00Z'), endAt: d('2027-01-01T11:00:00Z') }));
    expect(e).toEqual({ occurrences: [], plannedUntil: d('2027-01-01T10:55:00Z'), finished: true });
  });

  it('late by less than the grace is not a misfire: due at its time, so at once', () => {
    const now = d('2027-01-01T10:05:59Z');
    const p = planNext(base({ plannedUntil: d('2027-01-01T10:00:00Z'), now }));
    expect(times(p)).toEqual([['2027-01-01T10:05:00.000Z', '2027-01-01T10:05:00.000Z', false]]);
  });

  describe('misfire after an outage: planned up to 10:00, back at 10:32 (10:05 … 10:30 missed)', () => {
    const outage = { plannedUntil: d('2027-01-01T10:00:00Z'), now: d('2027-01-01T10:32:00Z') };
    it('skip: resume at the next future time', () => {
      const p = planNext(base({ ...outage, misfire: 'skip' }));
      expect(times(p)).toEqual([['2027-01-01T10:35:00.000Z', '2027-01-01T10:35:00.000Z', false]]);
    });
    it('run_once: one catch-up now, for the latest missed time, then future times', () => {
      const p = planNext(base({ ...outage, misfire: 'run_once' }));
      expect(times(p)).toEqual([
        ['2027-01-01T10:30:00.000Z', '2027-01-01T10:32:00.000Z', true],
        ['2027-01-01T10:35:00.000Z', '2027-01-01T10:35:00.000Z', false],
      ]);
      expect(p.plannedUntil).toEqual(d('2027-01-01T10:35:00Z'));
    });
    it('run_once when the claimed occurrence already was the catch-up: no second one', () => {
      const p = planNext(base({ ...outage, misfire: 'run_once', catchUpsDone: 1 }));
      expect(times(p)).toEqual([['2027-01-01T10:35:00.000Z', '2027-01-01T10:35:00.000Z', false]]);
    });
    it('run_all: every missed time now, then future times', () => {
      const p = planNext(base({ ...outage, misfire: 'run_all' }));
      expect(times(p).map((t) => t[0])).toEqual([
        '2027-01-01T10:05:00.000Z',
        '2027-01-01T10:10:00.000Z',
        '2027-01-01T10:15:00.000Z',
        '2027-01-01T10:20:00.000Z',
        '2027-01-01T10:25:00.000Z',
        '2027-01-01T10:30:00.000Z',
        '2027-01-01T10:35:00.000Z',
      ]);
      expect(
        p.occurrences.slice(0, 6).every((o) => o.catchUp && o.dueAt.getTime() === outage.now.getTime()),
      ).toBe(true);
    });
    it('run_all is capped at 100 catch-ups (the claimed one counts)', () => {
      const p = planNext(
        base({
          schedule: every('* * * * *'),
          plannedUntil: d('2027-01-01T00:00:00Z'),
          now: d('2027-01-01T10:00:30Z'),
          misfire: 'run_all',
          catchUpsDone: 1,
        }),
      );
      expect(p.occurrences.filter((o) => o.catchUp)).toHaveLength(99);
      expect(p.occurrences.at(-1)).toEqual({
        scheduledFor: d('2027-01-01T10:00:00Z'),
        dueAt: d('2027-01-01T10:00:00Z'),
        catchUp: false,
      });
    });
  });

  it('the grace is one minute', () => {
    expect(MISFIRE_GRACE_MS).toBe(60_000);
  });
});
