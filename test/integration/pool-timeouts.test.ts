// A connection that stops answering (the database host died, a NAT or proxy dropped the flow) must not
// hang a query, or whatever waits on it, until the OS gives up on the socket: createPool's
// query_timeout fails the query and the dead connection is never handed out again. A loopback proxy
// that swallows everything on the connections open at the time stands in for the dead peer.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, withTransaction, type Pool } from '../../src/db/pool.ts';
import { isDatabaseUnavailable } from '../../src/errors.ts';
import { createTestDb, type TestDb } from '../helpers/db.ts';

let db: TestDb;

/** A TCP proxy to the test database; `silenceOpen()` makes the connections open now swallow everything. */
async function startProxy(target: URL) {
  const pairs = new Set<{ a: net.Socket; b: net.Socket; silent: boolean }>();
  let accepted = 0;
  const server = net.createServer((a) => {
    accepted++;
    const b = net.connect(Number(target.port || 5432), target.hostname);
    const pair = { a, b, silent: false };
    pairs.add(pair);
    a.on('data', (d) => pair.silent || b.write(d));
    b.on('data', (d) => pair.silent || a.write(d));
    const close = () => {
      a.destroy();
      b.destroy();
      pairs.delete(pair);
    };
    a.on('close', close).on('error', close);
    b.on('close', close).on('error', close);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    accepted: () => accepted,
    silenceOpen: () => pairs.forEach((p) => (p.silent = true)),
    close: async () => {
      pairs.forEach((p) => (p.a.destroy(), p.b.destroy()));
      await new Promise((r) => server.close(r));
    },
  };
}

beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  await db.drop();
});

describe('a connection that stops answering', () => {
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let pool: Pool;
  beforeAll(async () => {
    proxy = await startProxy(new URL(db.url));
    pool = createPool(proxy.url, { max: 1, queryTimeoutMs: 300 });
  });
  afterAll(async () => {
    await proxy.close();
    await pool.end();
  });

  it('fails the query after query_timeout (as database-unavailable), and the next query gets a new connection', async () => {
    expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    expect(proxy.accepted()).toBe(1);
    proxy.silenceOpen();
    const err = await pool.query('SELECT 2').catch((e: unknown) => e);
    expect((err as Error).message).toBe('Query read timeout');
    expect(isDatabaseUnavailable(err)).toBe(true);
    expect((await pool.query('SELECT 3 AS three')).rows[0].three).toBe(3);
    expect(proxy.accepted()).toBe(2);
  });

  it('in a transaction too: the timed-out client is dropped, not reused by the next transaction', async () => {
    const before = proxy.accepted();
    proxy.silenceOpen();
    const err = await withTransaction(pool, (c) => c.query('SELECT 1')).catch((e: unknown) => e);
    expect((err as Error).message).toBe('Query read timeout');
    const n = await withTransaction(
      pool,
      async (c) => (await c.query('SELECT 4 AS four')).rows[0].four as number,
    );
    expect(n).toBe(4);
    expect(proxy.accepted()).toBe(before + 1);
  });
});
