// The pg Pool factory and the transaction helper. Everything that runs SQL takes a Queryable, so a
// repository function works the same on the pool and inside a transaction.
import pg from 'pg';
import { isDatabaseUnavailable, SQLSTATE } from '../errors.ts';

export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;
export type Pool = pg.Pool;

// timestamptz/int8 parsing: keep bigint counters as strings only where they could overflow; our
// counters (attempts, counts) fit in a JS number, so COUNT(*) returns a number.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

const openPools = new Set<pg.Pool>();

/** Pools not yet ended; the test harness fails a file that leaks one. */
export function openPoolCount(): number {
  return openPools.size;
}

/**
 * Why a session cannot write, or null on a writable primary: a standby (in recovery: what a
 * connection gets when it lands on the wrong node during a failover) or a session whose transactions
 * are read-only (default_transaction_read_only, as a node being fenced or demoted can be).
 * Connection-level SQL, so it lives here rather than in src/sql/ (which this layer cannot import).
 */
export async function readOnlyReason(db: Queryable): Promise<string | null> {
  const { rows } = await db.query<{ in_recovery: boolean; read_only: string }>(
    `SELECT pg_is_in_recovery() AS in_recovery, current_setting('transaction_read_only') AS read_only`,
  );
  if (rows[0]?.in_recovery) return 'in recovery (a standby)';
  if (rows[0]?.read_only === 'on') return 'default_transaction_read_only is on';
  return null;
}

/**
 * A new connection that landed on a node that cannot write. It carries SQLSTATE 25006 (what a write
 * there would have raised), so everything treats it as a failover: 503 in the API, backoff in loops.
 */
export class ReadOnlyDatabaseError extends Error {
  readonly code = SQLSTATE.READ_ONLY_SQL_TRANSACTION;
  constructor(readonly reason: string) {
    super(`the database is read-only: ${reason}`);
    this.name = 'ReadOnlyDatabaseError';
  }
}

/** Rejects with ReadOnlyDatabaseError unless the session can write. */
export async function requireWritable(db: Queryable): Promise<void> {
  const why = await readOnlyReason(db);
  if (why) throw new ReadOnlyDatabaseError(why);
}

/** Creates a pool; `applicationName` shows in pg_stat_activity, which helps when several processes share a database. */
export function createPool(
  connectionString: string,
  opts: { max?: number; applicationName?: string; statementTimeoutMs?: number; queryTimeoutMs?: number } = {},
): pg.Pool {
  const statementTimeoutMs = opts.statementTimeoutMs ?? 30000;
  const pool = new pg.Pool({
    connectionString,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'dist-job-scheduler',
    // A dead server must not hang requests: fail fast and let callers report 503 / back off.
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30000,
    statement_timeout: statementTimeoutMs,
    // The server ends a statement at statement_timeout; an answer that never comes (the peer died,
    // a NAT or proxy dropped the connection) would otherwise hang the query, and whatever waits on
    // it (a claim loop, creates queued behind a shared insert), until the OS gives up on the socket.
    // A bit later than the server's own timeout, the query fails and the connection is dropped.
    query_timeout: opts.queryTimeoutMs ?? (statementTimeoutMs > 0 ? statementTimeoutMs + 5000 : undefined),
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    // Every statement of ours is short OLTP work, for which JIT compilation only costs: the claim's
    // per-user LATERAL has a pessimistic cost estimate (far above jit_above_cost), and compiling it
    // took ~29 ms of a 0.3 ms claim on PostgreSQL 15 (measured). Off per session, whatever the server says.
    options: '-c jit=off',
    // Every new connection must reach a writable primary. During a failover the address (a proxy, a
    // Kubernetes -rw Service) can briefly lead to a standby or to the old primary being demoted; such
    // a connection would serve stale reads and fail every write, and as an idle pooled client it
    // would go on doing so after the failover. Refused here, it is closed and the checkout fails with
    // a 25006 (503, or a backoff). One query per new connection, not per checkout: a session cannot
    // turn read-only without a restart that closes it (except by a reload; withTransaction and
    // pool.query drop such a client on its first failed write).
    verify: (client, done) => {
      requireWritable(client).then(
        () => done(),
        (err: unknown) => done(err as Error),
      );
    },
  });
  // An idle client losing its connection (database restart) emits here; without a listener Node crashes.
  pool.on('error', () => {});
  openPools.add(pool);
  const end = pool.end.bind(pool);
  pool.end = async () => {
    openPools.delete(pool);
    if (!pool.ended) await end();
  };
  return pool;
}

/** The first row a query returns, or null. */
export async function queryOne<T extends pg.QueryResultRow>(
  db: Queryable,
  text: string,
  values: unknown[],
): Promise<T | null> {
  const { rows } = await db.query<T>(text, values);
  return rows[0] ?? null;
}

/** Runs `fn` in a transaction on one client; commits on success, rolls back on any throw. */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  // A checked-out client whose connection dies between two queries (a database restart while `fn`
  // runs JavaScript) emits 'error' with no query to fail: without a listener Node would crash. The
  // next query fails anyway; the broken client is destroyed on release instead of reused.
  let broken: Error | undefined;
  const onError = (err: Error) => (broken = err);
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    // A connection that failed this way must never be handed out again: a query that got no answer
    // leaves it unusable, and one on a read-only node (25006: a standby, a demoted primary) or on a
    // server shutting down fails the same way for whoever gets it next. (pool.query needs no help:
    // pg-pool destroys a client whose query failed.)
    if (isDatabaseUnavailable(err)) broken ??= err as Error;
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

/**
 * Runs `fn` on one connection: in a transaction of its own when `db` is the pool, on the caller's
 * client otherwise. For a write whose answer a second statement reads: once the write is done, no
 * second checkout (which a busy pool can refuse) can turn a committed change into an error.
 */
export async function onOneConnection<T>(db: Queryable, fn: (c: Queryable) => Promise<T>): Promise<T> {
  return db instanceof pg.Pool ? withTransaction(db, fn) : fn(db);
}
