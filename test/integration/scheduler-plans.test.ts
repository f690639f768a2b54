// The plans Postgres picks for the scheduler's fenced writes. A queue table's statistics are always
// stale: ANALYZE runs between bursts, when nothing is running, so the planner believes the partial
// index of running jobs is empty. Under load it is not (live leases plus the dead entries of every
// recent attempt until vacuum reaches a big table), and a write planned as a scan of it took 1–2 s
// per batch beside 1,000,000 finished jobs (the retention benchmark). Writes about known jobs must
// find them by primary key, whatever the statistics say; this pins that down for the generic plans
// that prepared statements settle on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createUser, insertDueJobs, succeededAttempt } from '../helpers/scheduler.ts';
import type { Queryable } from '../../src/db/pool.ts';
import { recordAttempts } from '../../src/sql/attempts.ts';
import { handBack, heartbeat, rescueExpired } from '../../src/sql/leases.ts';
import { claimDueJobs, type ClaimedJob } from '../../src/sql/scheduler.ts';
import { skipOccurrences } from '../../src/sql/schedules.ts';

let db: TestDb;
let client: pg.PoolClient;
let claimed: ClaimedJob[];

beforeAll(async () => {
  db = await createTestDb();
  const user = await createUser(db);
  await db.pool.query(
    `INSERT INTO jobs (user_id, method, url, fire_at, next_attempt_at, timeout_ms, retry_strategy, max_attempts,
                       base_delay_ms, max_delay_ms)
     SELECT $1, 'POST', 'http://127.0.0.1:9/hook', now() - interval '1 s', now() - interval '1 s', 5000,
            'linear', 3, 100, 1000
       FROM generate_series(1, 5000)`,
    [user.id],
  );
  // Statistics taken while nothing runs, as autovacuum takes them on a queue between bursts.
  await db.pool.query('ANALYZE jobs');
  claimed = await claimDueJobs(db.pool, { workerId: 'w1', batch: 50, perUserCap: 1000, leaseMs: 30_000 });
  client = await db.pool.connect();
  await client.query(`SET plan_cache_mode = force_generic_plan`);
});

afterAll(async () => {
  client?.release();
  await db?.drop();
});

/** The statement a call sends and its values, captured instead of run. */
async function queryOf(
  call: (q: Queryable) => Promise<unknown>,
): Promise<{ text: string; values: unknown[] }> {
  let sent = { text: '', values: [] as unknown[] };
  const capture = {
    query: (q: { text: string; values?: unknown[] } | string, values?: unknown[]) => {
      sent =
        typeof q === 'string' ? { text: q, values: values ?? [] } : { text: q.text, values: q.values ?? [] };
      return Promise.resolve({ rows: [], rowCount: 0 });
    },
  } as unknown as Queryable;
  await call(capture);
  return sent;
}

/** The statement a call sends, captured instead of run. */
const statementOf = async (call: (q: Queryable) => Promise<unknown>) => (await queryOf(call)).text;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/** Every node of the generic plan of `text` (what a prepared statement runs after its first executions). */
async function genericPlan(text: string): Promise<PlanNode[]> {
  const params = Math.max(...[...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  await client.query('DEALLOCATE ALL');
  await client.query(`PREPARE s AS ${text}`);
  // A generic plan does not depend on the values: NULLs are enough to see it.
  const { rows } = await client.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
    `EXPLAIN (FORMAT JSON) EXECUTE s(${Array.from({ length: params }, () => 'NULL').join(', ')})`,
  );
  const nodes: PlanNode[] = [];
  const walk = (n: PlanNode) => {
    nodes.push(n);
    n.Plans?.forEach(walk);
  };
  walk(rows[0]!['QUERY PLAN'][0]!.Plan);
  return nodes;
}

const lease = () => ({ id: claimed[0]!.id, leaseToken: claimed[0]!.lease_token });

describe('fenced writes find their jobs by primary key, not through the running-jobs index', () => {
  it('the claim took jobs, and the statistics still call the running index empty', async () => {
    expect(claimed).toHaveLength(50);
    const { rows } = await db.pool.query<{ plan: unknown }>(
      `EXPLAIN (FORMAT JSON) SELECT id FROM jobs WHERE status = 'running'`,
    );
    // The premise of this file: the planner estimates (almost) no running jobs.
    const estimate = JSON.stringify(rows[0]).match(/"Plan Rows":\s*(\d+)/)![1];
    expect(Number(estimate)).toBeLessThan(10);
  });

  const cases: [string, (q: Queryable) => Promise<unknown>][] = [
    [
      'recording attempts',
      (q) => recordAttempts(q, 'w1', [succeededAttempt(claimed[0]!.id, claimed[0]!.lease_token)]),
    ],
    ['heartbeats', (q) => heartbeat(q, [lease()], 30_000)],
    ['handing back at shutdown', (q) => handBack(q, [lease()])],
    [
      'rescuing expired leases',
      (q) =>
        rescueExpired(q, [{ id: claimed[0]!.id, attempt: 1, status: 'retrying', delayMs: 100, owner: 'w1' }]),
    ],
    ['skipping occurrences', (q) => skipOccurrences(q, [{ ...lease(), attempt: 1, reason: 'test' }])],
  ];
  for (const [name, call] of cases) {
    it(name, async () => {
      const nodes = await genericPlan(await statementOf(call));
      const onJobs = nodes.filter((n) => n['Relation Name'] === 'jobs' && n['Node Type'] !== 'ModifyTable');
      expect(onJobs.length).toBeGreaterThan(0);
      // Every read of jobs is a primary-key lookup: no running-index scan, no sequential scan.
      for (const n of onJobs) expect([n['Node Type'], n['Index Name']]).toEqual(['Index Scan', 'jobs_pkey']);
    });
  }
});

describe('tenant isolation in the claim: a capped user costs one row, whatever its backlog', () => {
  const readsOfJobs = (nodes: (PlanNode & { 'Actual Rows'?: number; 'Actual Loops'?: number })[]) =>
    nodes
      .filter((n) => n['Relation Name'] === 'jobs' && n['Node Type'] !== 'ModifyTable')
      .reduce((sum, n) => sum + (n['Actual Rows'] ?? 0) * (n['Actual Loops'] ?? 1), 0);

  it('the claim reads jobs only through indexes, in its generic plan', async () => {
    const statements = [
      await statementOf((q) => claimDueJobs(q, { workerId: 'w', batch: 10, perUserCap: 10, leaseMs: 1000 })),
    ];
    for (const text of statements) {
      const nodes = await genericPlan(text);
      const jobsReads = nodes.filter(
        (x) => x['Relation Name'] === 'jobs' && x['Node Type'] !== 'ModifyTable',
      );
      expect(jobsReads.length).toBeGreaterThan(0);
      for (const n of jobsReads) expect(n['Node Type']).not.toBe('Seq Scan');
      const indexes = nodes.map((n) => n['Index Name']).filter((i) => i?.startsWith('jobs'));
      for (const i of indexes) expect(['jobs_pkey', 'jobs_user_due_idx', 'jobs_running_idx']).toContain(i);
    }
  });

  it('beside 20,000 due jobs of a user at the cap, a claim of another user reads only that user and the running jobs', async () => {
    const capped = await createUser(db);
    const other = await createUser(db);
    const insert = (userId: string, n: number) =>
      insertDueJobs(db, userId, 'http://127.0.0.1:9/hook', n, { dueAgo: '1 min' });
    await insert(capped.id, 20_010);
    // The capped user's 10 running jobs, then its backlog is due before anything of the other user.
    await claimDueJobs(db.pool, { workerId: 'w1', batch: 10, perUserCap: 10, leaseMs: 30_000 });
    await db.pool.query(
      `UPDATE jobs SET status = 'cancelled', completed_at = now() WHERE user_id <> $1 AND status IN ('scheduled', 'retrying')`,
      [capped.id],
    );
    await insert(other.id, 5);
    await db.pool.query('ANALYZE jobs');
    const { text, values } = await queryOf((q) =>
      claimDueJobs(q, { workerId: 'w2', batch: 10, perUserCap: 10, leaseMs: 30_000 }),
    );
    await client.query('DEALLOCATE ALL');
    // Parameter types inferred as for the driver's own prepared statement (it sends none).
    await client.query(`PREPARE c AS ${text}`);
    for (const mode of ['force_custom_plan', 'force_generic_plan']) {
      await client.query(`SET plan_cache_mode = ${mode}`);
      await client.query('BEGIN');
      const { rows } = await client.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE c(${values.map((v) => client.escapeLiteral(String(v))).join(', ')})`,
      );
      const nodes: PlanNode[] = [];
      const walk = (n: PlanNode) => {
        nodes.push(n);
        n.Plans?.forEach(walk);
      };
      walk(rows[0]!['QUERY PLAN'][0]!.Plan);
      const { rows: got } = await client.query<{ user_id: string; n: number }>(
        `SELECT user_id, count(*)::int AS n FROM jobs WHERE lease_owner = 'w2' GROUP BY user_id`,
      );
      await client.query('ROLLBACK');
      // The other user's 5 jobs were claimed (nothing of the capped user)...
      expect(got).toEqual([{ user_id: other.id, n: 5 }]);
      // ...reading a few dozen rows of jobs (running counts, the 5 jobs twice, the lock), not 20,000.
      expect(readsOfJobs(nodes)).toBeLessThan(200);
    }
  });
});
