// Targets that fight back: hang, trickle, flood, reset, redirect. Deadlines hold within ±100 ms,
// memory stays flat, redirects are never followed, and every attempt is recorded.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { targets } from '../helpers/http.ts';
import {
  createJob,
  createUser,
  executionsOf,
  startScheduler,
  waitForStatus,
  type TestScheduler,
} from '../helpers/scheduler.ts';

let db: TestDb;
let sched: TestScheduler;
let userId: string;
const { target, closeAll } = targets();
let resetServer: net.Server;

const once = { strategy: 'linear' as const, max_attempts: 1, base_delay_ms: 0, max_delay_ms: 0 };
const finished = (id: string) => waitForStatus(db, id, undefined, 30_000);

beforeAll(async () => {
  db = await createTestDb();
  userId = (await createUser(db)).id;
  sched = await startScheduler(db, { concurrency: 100, batchSize: 50, random: () => 0.5 });
});
afterAll(async () => {
  await sched.stop(0);
  await closeAll();
  await new Promise<void>((r) => (resetServer ? resetServer.close(() => r()) : r()));
  await db.drop();
});

describe('hostile targets', () => {
  it('hang, and trickle at 1 and 10 bytes/s: deadlines enforced within 100 ms', async () => {
    const hang = await target(() => {});
    // Every byte resets an idle timer; only a deadline on the whole attempt stops a trickle.
    const trickle = (everyMs: number) =>
      target((_q, res) => {
        res.writeHead(200);
        const t = setInterval(() => res.write('.'), everyMs);
        res.on('close', () => clearInterval(t));
      });
    const [slow, fast] = await Promise.all([trickle(1000), trickle(100)]);
    const jobs = await Promise.all([
      createJob(db, userId, { url: hang.url, timeoutMs: 1000, retry: once }),
      createJob(db, userId, { url: hang.url, timeoutMs: 2000, retry: once }),
      createJob(db, userId, { url: slow.url, timeoutMs: 1500, retry: once }),
      createJob(db, userId, { url: slow.url, timeoutMs: 2500, retry: once }),
      createJob(db, userId, { url: fast.url, timeoutMs: 1200, retry: once }),
    ]);
    for (const j of jobs) await finished(j.id);
    for (const j of jobs) {
      const [ex] = await executionsOf(db, j.id);
      expect(ex!.outcome).toBe('timeout');
      expect(
        ex!.duration_ms! - j.timeout_ms,
        `job with ${j.timeout_ms} ms timeout took ${ex!.duration_ms}`,
      ).toBeGreaterThanOrEqual(0);
      expect(ex!.duration_ms! - j.timeout_ms).toBeLessThanOrEqual(100);
    }
  });

  it('twenty targets each offering 50 MiB: bodies capped, memory flat', async () => {
    const chunk = Buffer.alloc(256 * 1024, 'z');
    const flood = await target((_q, res) => {
      res.writeHead(200, { 'content-length': String(50 * 1024 * 1024) });
      let sent = 0;
      res.on('error', () => {});
      const pump = () => {
        while (sent < 50 * 1024 * 1024 && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const before = process.memoryUsage().rss;
    const jobs = await Promise.all(
      Array.from({ length: 20 }, () => createJob(db, userId, { url: flood.url, retry: once })),
    );
    for (const j of jobs) await finished(j.id);
    const grownMiB = (process.memoryUsage().rss - before) / 1024 / 1024;
    for (const j of jobs) {
      const [ex] = await executionsOf(db, j.id);
      expect(ex).toMatchObject({ outcome: 'succeeded', status_code: 200, response_truncated: true });
      expect(ex!.response_body).toHaveLength(8192);
    }
    // 1 GiB was offered; what we hold is bounded by the cap and socket buffers.
    expect(grownMiB).toBeLessThan(64);
    console.log(`[hostile] 20 x 50 MiB offered, RSS grew ${grownMiB.toFixed(1)} MiB`);
  });

  it('a target that resets connections: network_error on every attempt, each one recorded', async () => {
    resetServer = net.createServer((s) => s.once('data', () => s.resetAndDestroy()));
    await new Promise<void>((r) => resetServer.listen(0, '127.0.0.1', r));
    const port = (resetServer.address() as AddressInfo).port;
    const job = await createJob(db, userId, {
      url: `http://127.0.0.1:${port}/`,
      retry: { strategy: 'linear', max_attempts: 3, base_delay_ms: 20, max_delay_ms: 20 },
    });
    const end = await finished(job.id);
    const ex = await executionsOf(db, job.id);
    expect(ex.map((e) => [e.attempt, e.outcome])).toEqual([
      [1, 'network_error'],
      [2, 'network_error'],
      [3, 'network_error'],
    ]);
    expect(ex[0]!.error).toMatch(/ECONNRESET|other side closed|socket/i);
    expect(end).toMatchObject({ status: 'failed', attempts: 3 });
  });

  it.each([302, 307])(
    'a %i redirect is not followed nor retried; its Location is stored without query',
    async (code) => {
      const inside = await target((_q, res) => void res.writeHead(200).end('secret'));
      const redirector = await target(
        (_q, res) => void res.writeHead(code, { location: `${inside.url}/admin?token=s3cret#frag` }).end(),
      );
      const job = await createJob(db, userId, { url: redirector.url });
      const end = await finished(job.id);
      const ex = await executionsOf(db, job.id);
      expect(ex).toHaveLength(1);
      expect(ex[0]).toMatchObject({ outcome: 'failed', status_code: code });
      // Stored without its query string or fragment (they often carry tokens).
      expect(ex[0]!.error).toBe(`redirect to ${inside.url}/admin not followed`);
      expect(inside.requests).toHaveLength(0);
      expect(end).toMatchObject({ status: 'failed', attempts: 1 });
    },
  );
});
