// One tenant's poison results must never stall another tenant's: bodies Postgres `text` cannot hold
// (NUL, invalid UTF-8, gzip bytes) and statuses outside 100-599, fired through the real scheduler at
// real targets, in the same claim batch as another user's plain jobs.
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { targets, waitFor } from '../helpers/http.ts';
import {
  succeededAttempt,
  createJob,
  createUser,
  executionsOf,
  forceJobState,
  jobState,
  startScheduler,
  waitForStatus,
} from '../helpers/scheduler.ts';
import { Completer } from '../../src/scheduler/completer.ts';
import { silentLogger } from '../../src/logger.ts';
import type { AttemptRecord } from '../../src/sql/attempts.ts';

let db: TestDb;
const { target, closeAll } = targets();
const once = { strategy: 'linear' as const, max_attempts: 1, base_delay_ms: 0, max_delay_ms: 0 };
const twice = { strategy: 'linear' as const, max_attempts: 2, base_delay_ms: 50, max_delay_ms: 50 };

beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  await closeAll();
  await db.drop();
});

describe('poison results through the real scheduler', () => {
  it("another user's jobs in the same batch succeed; poison jobs end with their attempts recorded", async () => {
    const gz = zlib.gzipSync('{"compressed":true}');
    const nul = await target((_q, res) => void res.writeHead(200).end(Buffer.from('a\0b')));
    const badUtf8 = await target(
      (_q, res) => void res.writeHead(200).end(Buffer.from([0x61, 0xff, 0xfe, 0x62])),
    );
    const gzip = await target((_q, res) => void res.writeHead(200, { 'content-encoding': 'gzip' }).end(gz));
    const status999 = await target((_q, res) => void res.writeHead(999).end('weird'));
    const plain = await target((_q, res) => void res.writeHead(200).end('ok'));

    const mallory = (await createUser(db)).id;
    const alice = (await createUser(db)).id;
    // All due in the same second, so one claim takes poison and plain jobs together.
    const fireAt = new Date(Date.now() + 1500);
    const poison = await Promise.all([
      createJob(db, mallory, { url: nul.url, retry: once, fireAt }),
      createJob(db, mallory, { url: badUtf8.url, retry: once, fireAt }),
      createJob(db, mallory, { url: gzip.url, retry: once, fireAt }),
      createJob(db, mallory, { url: status999.url, retry: twice, fireAt }),
    ]);
    const plainJobs = await Promise.all(
      Array.from({ length: 20 }, () => createJob(db, alice, { url: plain.url, retry: once, fireAt })),
    );
    const sched = await startScheduler(db, { random: () => 0.5 });
    try {
      await waitFor(
        async () => {
          const { rows } = await db.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM jobs WHERE user_id = $1 AND status = 'succeeded'`,
            [alice],
          );
          return rows[0]!.n === 20;
        },
        "alice's 20 jobs to succeed",
        10_000,
      );
      for (const j of plainJobs) expect((await jobState(db, j.id)).status).toBe('succeeded');

      const [nulJob, utfJob, gzJob, weirdJob] = poison;
      for (const j of [nulJob, utfJob, gzJob]) await waitForStatus(db, j.id, ['succeeded'], 10_000);
      const stored = async (id: string) => {
        const ex = await executionsOf(db, id);
        expect(ex).toHaveLength(1);
        const { rows } = await db.pool.query<{ response_body_encoding: string }>(
          `SELECT response_body_encoding FROM job_executions WHERE job_id = $1`,
          [id],
        );
        return { ...ex[0]!, encoding: rows[0]!.response_body_encoding };
      };
      const n = await stored(nulJob.id);
      expect(n).toMatchObject({ outcome: 'succeeded', status_code: 200, encoding: 'base64' });
      expect(Buffer.from(n.response_body!, 'base64')).toEqual(Buffer.from('a\0b'));
      const u = await stored(utfJob.id);
      expect(u.encoding).toBe('base64');
      expect(Buffer.from(u.response_body!, 'base64')).toEqual(Buffer.from([0x61, 0xff, 0xfe, 0x62]));
      const g = await stored(gzJob.id);
      expect(g.encoding).toBe('base64');
      expect(zlib.gunzipSync(Buffer.from(g.response_body!, 'base64')).toString()).toBe('{"compressed":true}');

      // Status 999: an invalid response, retried like a 5xx, then failed; both attempts recorded.
      await waitForStatus(db, weirdJob.id, ['failed'], 10_000);
      const weird = await executionsOf(db, weirdJob.id);
      expect(weird.map((e) => [e.attempt, e.outcome, e.status_code])).toEqual([
        [1, 'failed', null],
        [2, 'failed', null],
      ]);
      expect(weird[0]!.error).toMatch(/invalid response: status code 999/);
      expect(status999.requests).toHaveLength(2);
      expect(await sched.metrics.resultFallbacks.get()).toMatchObject({ values: [{ value: 0 }] });
    } finally {
      await sched.stop(0);
    }
  });
});

describe('the completer never retries a deterministic failure', () => {
  it('splits a batch around records the database refuses; good ones are written, bad ones as fallback rows', async () => {
    const user = (await createUser(db)).id;
    const jobs = await Promise.all(
      Array.from({ length: 9 }, () => createJob(db, user, { url: 'http://127.0.0.1:9/', retry: once })),
    );
    // Claim them as a scheduler would, to hold real leases.
    const rows = await Promise.all(
      jobs.map(async ({ id }) => {
        const { leaseToken } = await forceJobState(db, id, 'running', { leaseOwner: 'w' });
        return { id, lease_token: leaseToken };
      }),
    );
    // Records that bypass the executor's cleaning: the database itself refuses them.
    const bad = new Map<string, Partial<AttemptRecord>>([
      [rows[1]!.id, { responseBody: 'a\0b' }], // 22021: NUL in text
      [rows[4]!.id, { statusCode: 999 }], // 23514: status_code check
      [rows[7]!.id, { error: 'x'.repeat(3000), newStatus: 'failed', outcome: 'failed', statusCode: 500 }],
    ]);
    const recorded = new Map<string, string>();
    let fallbacks = 0;
    const completer = new Completer(db.pool, 'w', silentLogger, {
      onRecorded: (rec, outcome) => recorded.set(rec.id, outcome),
      onFallback: () => fallbacks++,
    });
    for (const r of rows) completer.push({ ...succeededAttempt(r.id, r.lease_token), ...bad.get(r.id) });
    expect(await completer.drain(10_000)).toBe(true);
    completer.stop();

    expect(fallbacks).toBe(3);
    expect(recorded.size).toBe(9);
    expect(completer.pendingLeases()).toEqual([]);
    for (const r of rows) {
      const ex = await executionsOf(db, r.id);
      expect(ex).toHaveLength(1);
      const state = await jobState(db, r.id);
      if (bad.has(r.id)) {
        expect(ex[0]!.response_body).toBeNull();
        expect(ex[0]!.error).toMatch(/could not be stored as received \(database error 2\d{4}\)/);
        expect(state.status).toBe(r.id === rows[7]!.id ? 'failed' : 'succeeded');
      } else {
        expect(ex[0]).toMatchObject({
          outcome: 'succeeded',
          status_code: 200,
          response_body: 'fine',
          error: null,
        });
        expect(state.status).toBe('succeeded');
      }
    }
    expect((await executionsOf(db, rows[4]!.id))[0]!.status_code).toBeNull();
    expect((await executionsOf(db, rows[7]!.id))[0]!.status_code).toBe(500);
  });

  it('a transient failure (database unreachable) keeps the batch queued and retries it', async () => {
    const user = (await createUser(db)).id;
    const job = await createJob(db, user, { url: 'http://127.0.0.1:9/', retry: once });
    const { leaseToken } = await forceJobState(db, job.id, 'running', { leaseOwner: 'w' });
    // A pool whose first query fails like a lost connection, then works.
    let failures = 0;
    const flaky = {
      query: (...args: Parameters<TestDb['pool']['query']>) => {
        if (failures++ === 0)
          return Promise.reject(Object.assign(new Error('Connection terminated'), { code: 'ECONNRESET' }));
        return (db.pool.query as (...a: unknown[]) => unknown)(...args);
      },
    } as unknown as TestDb['pool'];
    let fallbacks = 0;
    const completer = new Completer(flaky, 'w', silentLogger, {
      onRecorded: () => {},
      onFallback: () => fallbacks++,
    });
    completer.push({
      id: job.id,
      leaseToken,
      round: 1,
      attempt: 1,
      newStatus: 'succeeded',
      retryDelayMs: null,
      outcome: 'succeeded',
      statusCode: 204,
      error: null,
      responseBody: '',
      responseEncoding: 'utf8',
      responseTruncated: false,
      startedAgoMs: 1,
      durationMs: 1,
    });
    expect(await completer.drain(10_000)).toBe(true);
    completer.stop();
    expect(failures).toBe(2);
    expect(fallbacks).toBe(0);
    expect((await jobState(db, job.id)).status).toBe('succeeded');
    expect((await executionsOf(db, job.id))[0]).toMatchObject({ outcome: 'succeeded', status_code: 204 });
  });
});
