// The retention cleaner on a real database: what it deletes, what it keeps, and that two cleaners
// at once neither wait on each other nor delete anything twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createJob, createUser, forceJobState } from '../helpers/scheduler.ts';
import { Cleaner, DEFAULT_CLEANER_OPTIONS, type CleanerOptions } from '../../src/scheduler/cleaner.ts';
import { SchedulerEvents } from '../../src/scheduler/events.ts';
import { silentLogger } from '../../src/logger.ts';

let db: TestDb;
let userId: string;

beforeAll(async () => {
  db = await createTestDb();
  userId = (await createUser(db)).id;
});
afterAll(async () => {
  await db.drop();
});

/** A cleaner's deps; `deleted` hears of each batch that deleted something. */
const deps = (deleted?: (n: number) => void) => {
  const events = new SchedulerEvents();
  if (deleted) events.on('deleted', (e) => deleted(e.count));
  return { pool: db.pool, log: silentLogger, events };
};
const cleaner = (over: Partial<CleanerOptions> = {}) =>
  new Cleaner(deps(), { ...DEFAULT_CLEANER_OPTIONS, random: () => 0, ...over });

async function finishedJob(status: 'succeeded' | 'failed' | 'cancelled', finishedAgo: string) {
  const job = await createJob(db, userId, { url: 'https://example.com/' });
  await forceJobState(db, job.id, status, { finishedAgo });
  await db.pool.query(
    `INSERT INTO job_executions (job_id, attempt, outcome, finished_at) VALUES ($1, 1, 'failed', now())`,
    [job.id],
  );
  return job.id;
}

const exists = async (id: string) =>
  (await db.pool.query(`SELECT 1 FROM jobs WHERE id = $1`, [id])).rowCount === 1;
const executionCount = async (id: string) =>
  (
    await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM job_executions WHERE job_id = $1`, [
      id,
    ])
  ).rows[0]!.n;

describe('retention cleaner', () => {
  it('deletes finished jobs and their executions past retention per status; keeps the rest', async () => {
    const oldOk = await finishedJob('succeeded', '8 days');
    const newOk = await finishedJob('succeeded', '6 days');
    const oldCancelled = await finishedJob('cancelled', '8 days');
    const failed8 = await finishedJob('failed', '8 days'); // failed are kept 30 days
    const failed31 = await finishedJob('failed', '31 days');
    const live = await createJob(db, userId, {
      url: 'https://example.com/',
      fireAt: new Date(Date.now() - 40 * 86_400_000),
    });
    const running = await createJob(db, userId, { url: 'https://example.com/' });
    await forceJobState(db, running.id, 'running');

    const r = await cleaner().runOnce();
    expect(r).toEqual({ succeeded: 1, cancelled: 1, failed: 1 });
    expect(await exists(oldOk)).toBe(false);
    expect(await executionCount(oldOk)).toBe(0);
    expect(await exists(oldCancelled)).toBe(false);
    expect(await exists(failed31)).toBe(false);
    for (const id of [newOk, failed8, live.id, running.id]) expect(await exists(id)).toBe(true);
    expect(await executionCount(newOk)).toBe(1);
  });

  it('0 keeps forever', async () => {
    const ancient = await finishedJob('succeeded', '3650 days');
    const r = await cleaner({ retentionDays: { succeeded: 0, failed: 0, cancelled: 0 } }).runOnce();
    expect(r).toEqual({ succeeded: 0, cancelled: 0, failed: 0 });
    expect(await exists(ancient)).toBe(true);
    await cleaner().runOnce();
    expect(await exists(ancient)).toBe(false);
  });

  it('deletes in batches until done; two cleaners at once delete each row once', async () => {
    const ids = await Promise.all(Array.from({ length: 45 }, () => finishedJob('succeeded', '10 days')));
    const deleted: number[] = [];
    const mk = () =>
      new Cleaner(
        deps((n) => deleted.push(n)),
        { ...DEFAULT_CLEANER_OPTIONS, batchSize: 4, dutyCycle: 1, random: () => 0 },
      );
    const [a, b] = await Promise.all([mk().runOnce(), mk().runOnce()]);
    expect(a.succeeded + b.succeeded).toBe(45);
    expect(deleted.every((n) => n <= 4)).toBe(true);
    expect(deleted.length).toBeGreaterThanOrEqual(12);
    for (const id of ids) expect(await exists(id)).toBe(false);
  });

  it('a row locked by someone else is skipped, not waited for', async () => {
    const id = await finishedJob('succeeded', '10 days');
    const other = await finishedJob('succeeded', '10 days');
    const holder = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE`, [id]);
      const r = await cleaner().runOnce();
      expect(r.succeeded).toBe(1);
      expect(await exists(other)).toBe(false);
      await holder.query('COMMIT');
    } finally {
      holder.release();
    }
    expect(await exists(id)).toBe(true);
    await cleaner().runOnce();
    expect(await exists(id)).toBe(false);
  });

  it('start() runs passes on its interval; stop() ends it promptly', async () => {
    const id = await finishedJob('succeeded', '10 days');
    const passes: number[] = [];
    const c = new Cleaner(
      deps((n) => passes.push(n)),
      { ...DEFAULT_CLEANER_OPTIONS, intervalMs: 60_000, random: () => 0 },
    );
    c.start();
    const t0 = performance.now();
    try {
      while (!passes.length && performance.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
      expect(passes).toEqual([1]);
      expect(await exists(id)).toBe(false);
    } finally {
      const s = performance.now();
      await c.stop();
      expect(performance.now() - s).toBeLessThan(1000);
    }
  });
});
