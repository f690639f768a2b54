import { describe, expect, it } from 'vitest';
import { parseCronSchedule } from '../../src/schedules/cron.ts';
import {
  MISFIRE_GRACE_MS,
  MISFIRE_MIN_GRACE_MS,
  MISSED_COUNT_LIMIT,
  RUN_ALL_CAP,
  planNext,
  type MisfirePolicy,
  type PlanInput,
} from '../../src/schedules/planner.ts';

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
const iso = (t: Date) => t.toISOString().replace('.000Z', 'Z');

/**
 * The claim of a first firing at `plannedUntil`, then the claims of the catch-ups it plans, one after
 * another (each 1 ms after the previous, as a claimer chains them), until a plain occurrence is
 * planned: the claimed one's fate, the catch-ups in the order they were created, the skipped count.
 */
function afterClaim(input: PlanInput) {
  let plan = planNext({ ...input, claimed: 'first_firing' });
  const fate = plan.claimed;
  const catchUps: string[] = fate === 'catch_up' ? [iso(input.plannedUntil!)] : [];
  let skipped = plan.skipped;
  let now = input.now.getTime();
  while (plan.occurrences[0]?.catchUp) {
    const at = plan.occurrences[0];
    expect(plan.occurrences).toHaveLength(1); // one catch-up exists at a time
    expect(at.dueAt.getTime()).toBe(now); // due at once
    catchUps.push(iso(at.scheduledFor));
    now += 1;
    plan = planNext({ ...input, plannedUntil: at.scheduledFor, now: new Date(now), claimed: 'catch_up' });
    expect(plan.claimed).toBe('run');
    skipped += plan.skipped;
  }
  const next = plan.occurrences.map((o) => [iso(o.scheduledFor), o.catchUp]);
  return { fate, catchUps, skipped, next, finished: plan.finished };
}

describe('planNext', () => {
  it('a new schedule: the first fire time after now', () => {
    const p = planNext(base({}));
    expect(times(p)).toEqual([['2027-01-01T10:05:00.000Z', '2027-01-01T10:05:00.000Z', false]]);
    expect(p).toMatchObject({
      plannedUntil: d('2027-01-01T10:05:00Z'),
      finished: false,
      claimed: 'run',
      skipped: 0,
    });
  });

  it('chains from the last planned time, not from now', () => {
    const p = planNext(base({ plannedUntil: d('2027-01-01T10:00:00Z'), now: d('2027-01-01T10:00:00.010Z') }));
    expect(times(p)).toEqual([['2027-01-01T10:05:00.000Z', '2027-01-01T10:05:00.000Z', false]]);
  });

  it('start_at: the first time is at or after it (start_at itself fires); end_at is exclusive and finishes', () => {
    const s = planNext(base({ startAt: d('2027-01-01T11:00:00Z') }));
    expect(times(s)[0]![0]).toBe('2027-01-01T11:00:00.000Z');
    const e = planNext(base({ plannedUntil: d('2027-01-01T10:55:00Z'), endAt: d('2027-01-01T11:00:00Z') }));
    expect(e).toEqual({
      occurrences: [],
      plannedUntil: d('2027-01-01T10:55:00Z'),
      finished: true,
      claimed: 'run',
      skipped: 0,
      missed: 0,
    });
  });

  it('a passed time within its grace is not missed: planned due at its time, so at once (a repaired plan)', () => {
    const now = d('2027-01-01T10:05:59Z');
    const p = planNext(base({ plannedUntil: d('2027-01-01T10:00:00Z'), now }));
    expect(times(p)).toEqual([['2027-01-01T10:05:00.000Z', '2027-01-01T10:05:00.000Z', false]]);
    expect(p.claimed).toBe('run');
  });

  describe('the grace is the gap to the next fire time, at least 5 s and at most 60 s', () => {
    const claim = (cron: string, lateMs: number, misfire: MisfirePolicy = 'run_once') => {
      const t = d('2027-01-01T10:00:00Z');
      return planNext(
        base({
          schedule: every(cron),
          plannedUntil: t,
          now: new Date(t.getTime() + lateMs),
          misfire,
          claimed: 'first_firing',
        }),
      );
    };
    it('every second: the least grace, 5 s (a scheduler a moment behind fires late, not never)', () => {
      expect(claim('* * * * * *', 999)).toMatchObject({ claimed: 'run', skipped: 0, missed: 0 });
      expect(claim('* * * * * *', 1000)).toMatchObject({ claimed: 'run', skipped: 0, missed: 0 });
      expect(claim('* * * * * *', MISFIRE_MIN_GRACE_MS)).toMatchObject({ claimed: 'run', missed: 0 });
      // 10:00:00 to 10:00:05 are missed: the claimed one gets its own row, five more are counted.
      expect(claim('* * * * * *', MISFIRE_MIN_GRACE_MS + 1, 'skip')).toMatchObject({
        claimed: 'skip',
        skipped: 5,
        missed: 6,
      });
    });
    it('every 10 s: until the next time is due (the gap is between the least and the most grace)', () => {
      expect(claim('*/10 * * * * *', 9_999)).toMatchObject({ claimed: 'run', missed: 0 });
      expect(claim('*/10 * * * * *', 10_000, 'skip')).toMatchObject({ claimed: 'skip', missed: 2 });
    });
    it('every minute: on time for 59.999 s, missed once the next minute is due', () => {
      expect(claim('* * * * *', 59_999)).toMatchObject({ claimed: 'run', missed: 0 });
      expect(claim('* * * * *', 60_000, 'skip')).toMatchObject({ claimed: 'skip', missed: 2 });
    });
    it('hourly: 60 s of grace, then the claimed one alone is missed (run_once: it is the catch-up)', () => {
      expect(claim('0 * * * *', MISFIRE_GRACE_MS)).toMatchObject({ claimed: 'run', missed: 0 });
      const late = claim('0 * * * *', MISFIRE_GRACE_MS + 1);
      expect(late).toMatchObject({ claimed: 'catch_up', skipped: 0, missed: 1 });
      expect(times(late)).toEqual([['2027-01-01T11:00:00.000Z', '2027-01-01T11:00:00.000Z', false]]);
      expect(claim('0 * * * *', MISFIRE_GRACE_MS + 1, 'skip')).toMatchObject({ claimed: 'skip', skipped: 0 });
    });
    it('the last fire time before end_at has no next one: the 60 s grace alone', () => {
      const p = planNext(
        base({
          schedule: every('* * * * * *'),
          endAt: d('2027-01-01T10:00:01Z'),
          plannedUntil: d('2027-01-01T10:00:00Z'),
          now: d('2027-01-01T10:00:30Z'),
          claimed: 'first_firing',
        }),
      );
      expect(p).toMatchObject({ claimed: 'run', finished: true, occurrences: [] });
    });
  });

  // A 150 s outage: the pending occurrence was due at 10:00:00, the first claim comes at 10:02:30.5.
  describe('after a 150 s outage', () => {
    const outage = (cron: string, misfire: MisfirePolicy) =>
      afterClaim(
        base({
          schedule: every(cron),
          misfire,
          plannedUntil: d('2027-01-01T10:00:00Z'),
          now: d('2027-01-01T10:02:30.500Z'),
        }),
      );

    describe('every second (10:00:00 … 10:02:30 missed: 151 times)', () => {
      it('skip: nothing runs, every missed time is counted, next at 10:02:31', () => {
        expect(outage('* * * * * *', 'skip')).toEqual({
          fate: 'skip',
          catchUps: [],
          skipped: 150, // the claimed one is recorded as a skipped occurrence: 151 in all
          next: [['2027-01-01T10:02:31Z', false]],
          finished: false,
        });
      });
      it('run_once: exactly one run, for the latest missed time (10:02:30); the rest counted', () => {
        expect(outage('* * * * * *', 'run_once')).toEqual({
          fate: 'skip',
          catchUps: ['2027-01-01T10:02:30Z'],
          skipped: 149,
          next: [['2027-01-01T10:02:31Z', false]],
          finished: false,
        });
      });
      it('run_all: the latest 100 missed times, one after another in time order; the 51 older counted', () => {
        const r = outage('* * * * * *', 'run_all');
        expect(r.fate).toBe('skip');
        expect(r.catchUps).toHaveLength(RUN_ALL_CAP);
        expect(r.catchUps[0]).toBe('2027-01-01T10:00:51Z');
        expect(r.catchUps.at(-1)).toBe('2027-01-01T10:02:30Z');
        expect([...r.catchUps].sort()).toEqual(r.catchUps);
        expect(r.skipped).toBe(50);
        expect(r.next).toEqual([['2027-01-01T10:02:31Z', false]]);
      });
    });

    describe('every minute (10:00, 10:01, 10:02 missed)', () => {
      it('skip: nothing runs, all three counted (the claimed one as its occurrence), next at 10:03', () => {
        expect(outage('* * * * *', 'skip')).toEqual({
          fate: 'skip',
          catchUps: [],
          skipped: 2,
          next: [['2027-01-01T10:03:00Z', false]],
          finished: false,
        });
      });
      it('run_once: exactly one run, for 10:02 (the latest), none for 10:00 and 10:01', () => {
        expect(outage('* * * * *', 'run_once')).toEqual({
          fate: 'skip',
          catchUps: ['2027-01-01T10:02:00Z'],
          skipped: 1,
          next: [['2027-01-01T10:03:00Z', false]],
          finished: false,
        });
      });
      it('run_all: 10:00 (the claimed one), 10:01, 10:02 in order, then 10:03', () => {
        expect(outage('* * * * *', 'run_all')).toEqual({
          fate: 'catch_up',
          catchUps: ['2027-01-01T10:00:00Z', '2027-01-01T10:01:00Z', '2027-01-01T10:02:00Z'],
          skipped: 0,
          next: [['2027-01-01T10:03:00Z', false]],
          finished: false,
        });
      });
    });
  });

  it('run_all over a long outage: the latest 100 in order, then future times; older ones counted', () => {
    const r = afterClaim(
      base({
        schedule: every('* * * * *'),
        plannedUntil: d('2027-01-01T00:00:00Z'),
        now: d('2027-01-01T10:00:30Z'),
        misfire: 'run_all',
      }),
    );
    // 00:00 … 10:00 is 601 fire times: 100 run (08:21 … 10:00), 501 do not (the claimed 00:00 included).
    expect(r.fate).toBe('skip');
    expect(r.catchUps).toHaveLength(100);
    expect([r.catchUps[0], r.catchUps.at(-1)]).toEqual(['2027-01-01T08:21:00Z', '2027-01-01T10:00:00Z']);
    expect(r.skipped).toBe(500);
    expect(r.next).toEqual([['2027-01-01T10:01:00Z', false]]);
  });

  it('a miss longer than the count limit: still the latest times (found backwards), counted up to the limit', () => {
    const input = base({
      schedule: every('* * * * * *'),
      plannedUntil: d('2027-01-01T00:00:00Z'),
      now: d('2027-01-02T00:00:00.500Z'), // a day: 86,401 missed seconds
      misfire: 'run_all',
      claimed: 'first_firing',
    });
    const all = planNext(input);
    const once = planNext({ ...input, misfire: 'run_once' });
    const skip = planNext({ ...input, misfire: 'skip' });
    expect(times(once)).toEqual([['2027-01-02T00:00:00.000Z', '2027-01-02T00:00:00.500Z', true]]);
    expect(times(all)).toEqual([['2027-01-01T23:58:21.000Z', '2027-01-02T00:00:00.500Z', true]]);
    expect(skip.occurrences.map((o) => iso(o.scheduledFor))).toEqual(['2027-01-02T00:00:01Z']);
    for (const p of [all, once, skip]) {
      expect(p.claimed).toBe('skip');
      expect(p.missed).toBeGreaterThanOrEqual(MISSED_COUNT_LIMIT);
      expect(p.missed).toBeLessThanOrEqual(MISSED_COUNT_LIMIT + RUN_ALL_CAP);
    }
  });

  it('a miss that reaches end_at: missed times stop there, and the schedule finishes', () => {
    const r = afterClaim(
      base({
        schedule: every('* * * * *'),
        endAt: d('2027-01-01T10:02:00Z'),
        plannedUntil: d('2027-01-01T10:00:00Z'),
        now: d('2027-01-01T10:05:00Z'),
        misfire: 'run_once',
      }),
    );
    expect(r).toEqual({
      fate: 'skip',
      catchUps: ['2027-01-01T10:01:00Z'],
      skipped: 0,
      next: [],
      finished: true,
    });
  });

  it('repair after an outage (nothing claimed; the pending occurrence was cancelled): the policy applies', () => {
    const p = planNext(
      base({
        schedule: every('* * * * *'),
        misfire: 'run_once',
        plannedUntil: d('2027-01-01T10:00:00Z'),
        now: d('2027-01-01T10:03:30Z'),
      }),
    );
    // 10:01, 10:02 and 10:03 missed; the one catch-up for 10:03; 10:00 (cancelled by the user) is no miss.
    expect(times(p)).toEqual([['2027-01-01T10:03:00.000Z', '2027-01-01T10:03:30.000Z', true]]);
    expect(p).toMatchObject({ claimed: 'run', skipped: 2 });
  });

  it("after run_once's catch-up, planning goes on as after any claim", () => {
    // The catch-up for 10:02 claimed at 10:03:00.2: 10:03 passed within its grace, due at its time.
    const p = planNext(
      base({
        schedule: every('* * * * *'),
        plannedUntil: d('2027-01-01T10:02:00Z'),
        now: d('2027-01-01T10:03:00.200Z'),
        claimed: 'catch_up',
      }),
    );
    expect(times(p)).toEqual([['2027-01-01T10:03:00.000Z', '2027-01-01T10:03:00.000Z', false]]);
  });

  it('the grace is one minute at most', () => {
    expect(MISFIRE_GRACE_MS).toBe(60_000);
  });
});
