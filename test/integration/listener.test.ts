// The LISTEN connection on its own: notifications arrive, and after the database drops the
// connection it reconnects by itself and says so (the scheduler then looks for missed work).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { waitFor } from '../helpers/http.ts';
import { Listener } from '../../src/db/listener.ts';
import { silentLogger } from '../../src/logger.ts';

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  await db.drop();
});

describe('listener', () => {
  it('delivers notifications of its channels only, and reconnects after the connection is killed', async () => {
    const got: [string, string][] = [];
    let connects = 0;
    const l = new Listener(
      db.url,
      ['chan_a', 'chan_b'],
      (c, p) => got.push([c, p]),
      () => connects++,
      silentLogger,
    );
    await l.start();
    try {
      expect(connects).toBe(1);
      await db.pool.query(
        `SELECT pg_notify('chan_a', '1'), pg_notify('other', 'x'), pg_notify('chan_b', '2')`,
      );
      await waitFor(() => got.length === 2, 'two notifications');
      expect(got).toEqual([
        ['chan_a', '1'],
        ['chan_b', '2'],
      ]);
      await db.pool.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name = 'djs-scheduler-listen' AND datname = current_database()`,
      );
      await waitFor(() => connects === 2, 'the reconnect', 10_000);
      await db.pool.query(`SELECT pg_notify('chan_a', '3')`);
      await waitFor(() => got.length === 3, 'a notification after the reconnect');
      expect(got[2]).toEqual(['chan_a', '3']);
    } finally {
      await l.stop();
    }
  });
});
