// The window of a failover, simulated on one server, deterministically: the test database turns
// read-only for new sessions (what a connection that lands on a standby or on a primary being demoted
// gets), and the sessions open now are cut (a demotion restarts the old primary). Turning it writable
// again cuts nothing: a session opened while it was read-only stays read-only, so only a client that
// dropped such a session (or never kept one) recovers at once. The same SQLSTATE (25006) and GUC
// (transaction_read_only) as on a real standby; only "in recovery" differs.
import { asAdmin, type TestDb } from './db.ts';

/**
 * New sessions of `db` are read-only from now on; the sessions open now (only those of
 * `applicationName` when given) are terminated, and gone when this returns (the server side: a
 * client notices on its next turn of the event loop). Returns how many were cut.
 */
export async function makeReadOnly(db: TestDb, opts: { applicationName?: string } = {}): Promise<number> {
  return asAdmin(async (c) => {
    await c.query(`ALTER DATABASE ${db.name} SET default_transaction_read_only = on`);
    // The second argument waits (up to 5 s) until each backend has exited.
    const { rows } = await c.query<{ n: number }>(
      `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000))::int AS n
         FROM pg_stat_activity
        WHERE datname = $1 AND pid <> pg_backend_pid() AND ($2::text IS NULL OR application_name = $2)`,
      [db.name, opts.applicationName ?? null],
    );
    return rows[0]!.n;
  });
}

/** New sessions of `db` can write again; sessions opened while it was read-only are left as they are. */
export async function makeWritable(db: TestDb): Promise<void> {
  await asAdmin((c) => c.query(`ALTER DATABASE ${db.name} RESET default_transaction_read_only`));
}

/** Whether a session of `applicationName` on `db` ran LISTEN (then pings only) and waits: subscribed. */
export async function isListening(db: TestDb, applicationName: string): Promise<boolean> {
  return asAdmin(async (c) => {
    const { rows } = await c.query(
      `SELECT 1 FROM pg_stat_activity
        WHERE datname = $1 AND application_name = $2 AND state = 'idle'
          AND (query LIKE 'LISTEN %' OR query = 'SELECT 1')`,
      [db.name, applicationName],
    );
    return rows.length > 0;
  });
}

export { capturingLogger } from './logCapture.ts';
