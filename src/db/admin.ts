// Cluster administration that no migration can do: CREATE DATABASE runs outside any transaction and
// from another database. `npm run dev` uses it to make its database on first start.
import pg from 'pg';

/** Creates the database `name` on the cluster of `adminUrl` (a maintenance database) unless it exists. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await c.end();
  }
}
