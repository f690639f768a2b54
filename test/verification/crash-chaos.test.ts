// Crash chaos: three scheduler processes drain 5,000 jobs while a controller SIGKILLs one about once
// a second and starts a replacement. The verdicts are invariants, not timings: every job ends
// terminal, no job ever had two overlapping requests, duplicates are bounded by what the kills could
// cause, and every job a killed process held was rescued by a reaper.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { startServer, type Recorded, type TestServer } from '../helpers/http.ts';
import { createUser } from '../helpers/scheduler.ts';
import { killAll, spawnScheduler, type SchedulerProcess } from '../helpers/processes.ts';

const JOBS = 5000;
const CONCURRENCY = 5;
const HOLD_MS = 20;

let db: TestDb;
let receiver: TestServer;

beforeAll(async () => {
  db = await createTestDb();
  receiver = await startServer((_req, res) => {
    setTimeout(() => res.writeHead(204).end(), HOLD_MS);
  });
});
afterAll(async () => {
  await killAll();
  await receiver.close();
  await db.drop();
});

// Deterministic randomness: the same run of kills for the same seed.
function rng(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

describe('crash chaos', () => {
  it('3 schedulers, one SIGKILLed about every second: all jobs end, no overlap, bounded duplicates, kills rescued', async () => {
    const users = await Promise.all([createUser(db), createUser(db), createUser(db)]);
    for (const u of users) {
      await db.pool.query(
        `INSERT INTO jobs (user_id, method, url, body, fire_at, next_attempt_at, timeout_ms, retry_strategy, max_attempts, base_delay_ms, max_delay_ms)
         SELECT $1, 'POST', $2, '{}', now(), now(), 5000, 'linear', 10, 50, 500 FROM generate_series(1, $3::int)`,
        [u.id, `${receiver.url}/hook`, Math.ceil(JOBS / 3)],
      );
    }
    const total = Math.ceil(JOBS / 3) * 3;
    const env = {
      SCHEDULER_CONCURRENCY: String(CONCURRENCY),
      SCHEDULER_BATCH_SIZE: String(CONCURRENCY),
      SCHEDULER_LEASE_MS: '2000',
      SCHEDULER_HEARTBEAT_INTERVAL_MS: '500',
      SCHEDULER_REAPER_INTERVAL_MS: '250',
      SCHEDULER_POLL_INTERVAL_MS: '500',
    };
    let n = 0;
    const procs: SchedulerProcess[] = [0, 1, 2].map(() => spawnScheduler(db.url, `chaos-${n++}`, env));
    const random = rng(42);
    const kills: { workerId: string; orphaned: string[] }[] = [];
    const terminal = async () =>
      (
        await db.pool.query(
          `SELECT count(*)::int AS n FROM jobs WHERE status IN ('succeeded','failed','cancelled')`,
        )
      ).rows[0].n as number;

    const started = performance.now();
    while ((await terminal()) < total) {
      if (performance.now() - started > 120_000)
        throw new Error(`drain did not finish: ${await terminal()}/${total}`);
      await new Promise((r) => setTimeout(r, 700 + random() * 600));
      if ((await terminal()) >= total) break;
      const i = Math.floor(random() * procs.length);
      const victim = procs[i]!;
      victim.child.kill('SIGKILL');
      await victim.exited;
      // The process is dead: what it still holds is exactly what it had in flight.
      const { rows } = await db.pool.query<{ id: string }>(
        `SELECT id FROM jobs WHERE status = 'running' AND lease_owner = $1`,
        [victim.workerId],
      );
      kills.push({ workerId: victim.workerId, orphaned: rows.map((r) => r.id) });
      procs[i] = spawnScheduler(db.url, `chaos-${n++}`, env);
    }
    const drainSeconds = (performance.now() - started) / 1000;
    await Promise.all(
      procs.map((p) => {
        p.child.kill('SIGTERM');
        return p.exited;
      }),
    );

    // 1. Every job ended, and ended well (the receiver never fails).
    const { rows: statuses } = await db.pool.query(
      `SELECT status, count(*)::int AS n FROM jobs GROUP BY status`,
    );
    expect(Object.fromEntries(statuses.map((r) => [r.status, r.n]))).toEqual({ succeeded: total });

    // 2. No job had two overlapping requests.
    const byJob = new Map<string, Recorded[]>();
    for (const r of receiver.requests) {
      const id = String(r.headers['webhook-id']);
      byJob.set(id, [...(byJob.get(id) ?? []), r]);
    }
    let overlaps = 0;
    for (const rs of byJob.values()) {
      rs.sort((a, b) => a.start - b.start);
      for (let k = 1; k < rs.length; k++) if (rs[k]!.start < rs[k - 1]!.end) overlaps++;
    }
    expect(overlaps).toBe(0);
    expect(byJob.size).toBe(total);

    // 3. Duplicates only from kills: each kill can repeat at most its in-flight requests.
    const duplicates = receiver.requests.length - total;
    expect(kills.length).toBeGreaterThanOrEqual(3);
    expect(duplicates).toBeLessThanOrEqual(kills.length * CONCURRENCY);

    // 4. Every job a killed process held was rescued by a reaper (a `lost` attempt of that worker).
    const orphaned = kills.flatMap((k) => k.orphaned.map((id) => [id, k.workerId] as const));
    const { rows: lost } = await db.pool.query<{ job_id: string; worker_id: string }>(
      `SELECT job_id, worker_id FROM job_executions WHERE outcome = 'lost'`,
    );
    const lostSet = new Set(lost.map((l) => `${l.job_id}/${l.worker_id}`));
    for (const [id, worker] of orphaned)
      expect(lostSet.has(`${id}/${worker}`), `${id} held by ${worker}`).toBe(true);

    console.log(
      `[chaos] jobs=${total} kills=${kills.length} orphaned=${orphaned.length} requests=${receiver.requests.length} ` +
        `duplicates=${duplicates} (bound ${kills.length * CONCURRENCY}) overlaps=${overlaps} drain=${drainSeconds.toFixed(1)}s`,
    );
  }, 180_000);
});
