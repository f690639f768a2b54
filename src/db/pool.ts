// The pg Pool factory and the transaction helper. Everything that runs SQL takes a Queryable, so a
// repository function works the same on the pool and inside a transaction.
import pg from 'pg';

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

/** What pg's client rejects a query with when its query_timeout passes without an answer. */
export const QUERY_READ_TIMEOUT = 'Query read timeout';

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
    // A query that got no answer leaves the connection unusable: never hand it out again.
    if ((err as Error).message === QUERY_READ_TIMEOUT) broken ??= err as Error;
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
