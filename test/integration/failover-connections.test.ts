// Connection hygiene for a database failover (issue #27, item 2). While no writable primary can be
// reached, connections that land on a read-only node are refused or dropped, never kept: the API
// answers 503 with Retry-After, readiness says unready, the LISTEN connection keeps looking, pg-boss
// reports and carries on. Once the database can write again everything resumes at once, with no
// restart. The read-only window is simulated on this server (test/helpers/readOnly.ts).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, sessionFor, testConfig } from '../helpers/app.ts';
import { targets, waitFor } from '../helpers/http.ts';
import { createJob, createUser, startScheduler, waitForStatus } from '../helpers/scheduler.ts';
import { nextEvent } from '../helpers/events.ts';
import { capturingLogger, isListening, makeReadOnly, makeWritable } from '../helpers/readOnly.ts';
import { createPool, ReadOnlyDatabaseError, withTransaction, type Queryable } from '../../src/db/pool.ts';
import { Listener } from '../../src/db/listener.ts';
import { expectedMigration } from '../../src/db/schemaVersion.ts';
import { isDatabaseUnavailable } from '../../src/errors.ts';
import { databaseReady } from '../../src/http/routes/health.ts';
import { startBoss } from '../../src/queue/boss.ts';
import { buildApi } from '../../src/server.ts';
import { startMailWorker, type Email, type MailTransport } from '../../src/auth/mailer.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { silentLogger } from '../../src/logger.ts';

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});
afterEach(async () => {
  // Whatever a test left behind, the next one starts on a writable database.
  await makeWritable(db);
});
afterAll(async () => {
  await db.drop();
});

const READ_ONLY = 'default_transaction_read_only is on';
/** A write that any read-only session refuses (25006), whatever the data. */
const write = (q: Queryable) => q.query('UPDATE users SET email = email WHERE false');
const backendPid = async (q: Queryable) =>
  (await q.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;

describe('the pool', () => {
  it('refuses and closes a new connection to a read-only database (a 25006, so 503-class), and connects normally once it can write', async () => {
    const pool = createPool(db.url, { max: 2 });
    try {
      await write(pool);
      await makeReadOnly(db);
      await waitFor(() => pool.totalCount === 0, 'the pool to drop its cut connection');
      const err = await pool.query('SELECT 1').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ReadOnlyDatabaseError);
      expect((err as ReadOnlyDatabaseError).code).toBe('25006');
      expect((err as ReadOnlyDatabaseError).reason).toBe(READ_ONLY);
      expect(isDatabaseUnavailable(err)).toBe(true);
      expect(pool.totalCount).toBe(0);
      await makeWritable(db);
      await write(pool);
    } finally {
      await pool.end();
    }
  });

  it('withTransaction drops a client whose session turned read-only after its failed write: the next transaction gets a fresh connection', async () => {
    const pool = createPool(db.url, { max: 1 });
    try {
      // As a reload that fences the node would: a session already in the pool turns read-only.
      const c = await pool.connect();
      const fenced = await backendPid(c);
      await c.query('SET default_transaction_read_only = on');
      c.release();
      const err = await withTransaction(pool, write).catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('25006');
      const next = await withTransaction(pool, async (tx) => {
        await write(tx);
        return backendPid(tx);
      });
      expect(next).not.toBe(fenced);
    } finally {
      await pool.end();
    }
  });

  it('pool.query drops such a client too (pg-pool destroys a client whose query failed)', async () => {
    const pool = createPool(db.url, { max: 1 });
    try {
      const c = await pool.connect();
      const fenced = await backendPid(c);
      await c.query('SET default_transaction_read_only = on');
      c.release();
      expect(((await write(pool).catch((e: unknown) => e)) as { code?: string }).code).toBe('25006');
      await write(pool);
      expect(await backendPid(pool)).not.toBe(fenced);
    } finally {
      await pool.end();
    }
  });
});

describe('the API', () => {
  it('answers 503 service_unavailable with Retry-After while the database is read-only, and 201 on the very next create once it can write (no restart)', async () => {
    const t = await createTestApp(db);
    try {
      const { auth } = await sessionFor(db, t.config);
      // Far in the future: the scheduler test below must not find these due.
      const job = { request: { method: 'POST', url: 'http://127.0.0.1:9/never' }, delay_seconds: 86_400 };
      const create = () => request(t.app).post('/v1/jobs').set('Authorization', auth).send(job);
      const list = () => request(t.app).get('/v1/jobs').set('Authorization', auth);
      expect((await create()).status).toBe(201);

      await makeReadOnly(db);
      await waitFor(() => db.pool.totalCount === 0, 'the pool to drop its cut connections');
      const refused = await create();
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe('service_unavailable');
      expect(refused.headers['retry-after']).toBe('5');
      // Reads too: a read-only node may be a stale standby, and a connection kept for reads would
      // be handed to the next write after the failover.
      expect((await list()).status).toBe(503);

      await makeWritable(db);
      expect((await create()).status).toBe(201);
      expect((await list()).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('readiness', () => {
  it('is unready (public and detailed) while the database is read-only, and ready again right after', async () => {
    const t = await createTestApp(db);
    try {
      expect((await request(t.app).get('/readyz')).status).toBe(200);
      expect((await request(t.metricsApp).get('/readyz')).status).toBe(200);

      await makeReadOnly(db);
      await waitFor(() => db.pool.totalCount === 0, 'the pool to drop its cut connections');
      const pub = await request(t.app).get('/readyz');
      expect(pub.status).toBe(503);
      expect(pub.body).toEqual({ status: 'unavailable' });
      const ops = await request(t.metricsApp).get('/readyz');
      expect(ops.status).toBe(503);
      expect(ops.body.checks.database).toBe(`read-only: ${READ_ONLY}`);

      await makeWritable(db);
      expect((await request(t.app).get('/readyz')).body).toEqual({ status: 'ready' });
      expect((await request(t.metricsApp).get('/readyz')).body.checks.database).toBe('ok');
    } finally {
      await t.close();
    }
  });

  it('asks on every probe: a pooled session that turned read-only makes it unready too', async () => {
    const pool = createPool(db.url, { max: 1 });
    try {
      const check = databaseReady(pool, await expectedMigration());
      expect(await check.check()).toBeNull();
      const c = await pool.connect();
      await c.query('SET default_transaction_read_only = on');
      c.release();
      expect(await check.check()).toBe(`read-only: ${READ_ONLY}`);
      const again = await pool.connect();
      await again.query('RESET default_transaction_read_only');
      again.release();
      expect(await check.check()).toBeNull();
    } finally {
      await pool.end();
    }
  });
});

describe('the LISTEN connection', () => {
  it('keeps retrying while it lands on a read-only database (it would hear nothing there), then subscribes again once it can write', async () => {
    const { logger, lines } = capturingLogger();
    const got: string[] = [];
    let connects = 0;
    let losses = 0;
    const app = 'failover-listen';
    const l = new Listener(
      db.url,
      ['djs_failover'],
      (_c, p) => got.push(p),
      () => connects++,
      logger,
      {
        applicationName: app,
        onDisconnect: () => losses++,
      },
    );
    await l.start();
    try {
      expect(connects).toBe(1);
      expect(await makeReadOnly(db, { applicationName: app })).toBe(1);
      await waitFor(() => losses === 1, 'the loss to be reported');
      const refusals = () =>
        lines.filter(
          (x) => x.msg === 'LISTEN reconnect failed' && (x.err as { code?: string }).code === '25006',
        ).length;
      await waitFor(() => refusals() >= 2, 'two reconnects refused as read-only');
      expect(connects).toBe(1);

      await makeWritable(db);
      await waitFor(() => connects === 2, 'the reconnect to a writable database', 10_000);
      await db.pool.query(`SELECT pg_notify('djs_failover', 'after')`);
      await waitFor(() => got.includes('after'), 'a notification after the reconnect');
    } finally {
      await l.stop();
    }
  });
});

describe('the scheduler', () => {
  const { target, closeAll } = targets();
  afterAll(closeAll);

  it('resumes by itself: once the database can write again, it subscribes again and a job created then fires at once (NOTIFY, not the poll)', async () => {
    const hook = await target((_req, res) => void res.end('ok'));
    // A poll interval far beyond the deadlines below: only the LISTEN connection can wake it in time.
    const s = await startScheduler(db, { pollIntervalMs: 60_000 });
    try {
      const user = await createUser(db);
      const before = await createJob(db, user.id, { url: hook.url });
      expect((await waitForStatus(db, before.id)).status).toBe('succeeded');

      await makeReadOnly(db);
      // Its work fails meanwhile as a failover does (a reaper pass locks rows: a write), and must
      // leave nothing behind in its pool that would go on failing after the failover.
      const reap = await s.scheduler.reapOnce().catch((e: unknown) => e);
      expect(isDatabaseUnavailable(reap)).toBe(true);
      const claimed = nextEvent(s.events, 'claimed', undefined, 20_000);
      await makeWritable(db);
      // The reconnect makes the claimer look again; after that look it sleeps (nothing is due).
      await claimed;
      await waitFor(() => isListening(db, 'djs-scheduler-listen'), 'the scheduler to LISTEN again', 10_000);

      const after = await createJob(db, user.id, { url: hook.url });
      expect((await waitForStatus(db, after.id, ['succeeded', 'failed'], 10_000)).status).toBe('succeeded');
      expect(hook.requests).toHaveLength(2);
    } finally {
      await s.stop();
    }
  });
});

describe('pg-boss', () => {
  class Mailbox implements MailTransport {
    sent: Email[] = [];
    send(email: Email) {
      this.sent.push(email);
      return Promise.resolve();
    }
  }

  it('rides it out: its failures are logged, not fatal, and a sign-in email requested once the database can write is sent', async () => {
    const bossLog = capturingLogger();
    const boss = await startBoss(db.url, bossLog.logger, { supervise: false });
    try {
      const config = testConfig(db.url);
      const metrics = new Metrics();
      const { app, services } = buildApi({
        config,
        pool: db.pool,
        boss,
        log: silentLogger,
        metrics,
        readiness: [],
      });
      const mailbox = new Mailbox();
      await startMailWorker({
        boss,
        transport: mailbox,
        sealer: services.sealer,
        publicUrl: config.PUBLIC_URL,
        ttlSeconds: config.MAGIC_LINK_TTL_SECONDS,
        log: silentLogger,
        metrics,
      });
      const ask = (email: string) => request(app).post('/v1/auth/magic-link').send({ email });
      const mailTo = (email: string) =>
        waitFor(() => mailbox.sent.find((m) => m.to === email), `an email to ${email}`, 20_000);
      expect((await ask('before@example.com')).status).toBe(202);
      await mailTo('before@example.com');

      await makeReadOnly(db);
      await waitFor(() => db.pool.totalCount === 0, 'the pool to drop its cut connections');
      const refused = await ask('during@example.com');
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('5');
      // Its worker's fetches fail on read-only connections meanwhile: reported, and it goes on.
      await waitFor(
        () =>
          bossLog.lines.some(
            (x) => x.msg === 'pg-boss error' && (x.err as { code?: string }).code === '25006',
          ),
        'a pg-boss fetch refused as read-only',
      );

      await makeWritable(db);
      expect((await ask('after@example.com')).status).toBe(202);
      await mailTo('after@example.com');
      expect(mailbox.sent.map((m) => m.to)).not.toContain('during@example.com');
    } finally {
      await boss.stop({ graceful: false });
    }
  });
});
