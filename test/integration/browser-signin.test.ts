// The sign-in page in a real browser (Debian's Chromium via playwright-core): GET shows a button and
// signs nobody in; clicking it shows the access token, which then works against the API.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import request from 'supertest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/http.ts';
import { startMailWorker, type Email } from '../../src/auth/mailer.ts';
import { Sealer } from '../../src/auth/crypto.ts';
import { silentLogger } from '../../src/logger.ts';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = fs.existsSync(CHROMIUM);

let db: TestDb;
let t: TestApp;
let server: http.Server;
let base: string;
let browser: Browser | undefined;
const sent: Email[] = [];

beforeAll(async () => {
  db = await createTestDb();
  server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t = await createTestApp(db, { PUBLIC_URL: base });
  server.on('request', t.app);
  await startMailWorker({
    boss: t.boss,
    transport: {
      send: (e) => {
        sent.push(e);
        return Promise.resolve();
      },
    },
    sealer: new Sealer(t.config.SECRETS_KEY, 'magic-link'),
    publicUrl: base,
    ttlSeconds: 900,
    log: silentLogger,
    metrics: t.metrics,
  });
  if (hasChromium) {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((r) => {
    server.close(() => r());
    server.closeAllConnections();
  });
  await t.close();
  await db.drop();
});

// CI installs chromium (.ci/run); a developer machine without it skips rather than fails.
describe.skipIf(!hasChromium && !process.env.CI)('sign-in in a real browser', () => {
  it('opening the link signs nobody in; clicking the button shows a working token', async () => {
    expect(browser, 'chromium must be installed in CI').toBeDefined();
    const res = await request(t.app).post('/v1/auth/magic-link').send({ email: 'browser@example.com' });
    expect(res.status).toBe(202);
    const mail = await waitFor(() => sent.find((m) => m.to === 'browser@example.com'), 'email');
    expect(mail.link.startsWith(`${base}/v1/auth/verify?token=`)).toBe(true);

    const page = await browser!.newPage();
    const cspErrors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && cspErrors.push(m.text()));
    await page.goto(mail.link);
    await expect(page.locator('#sign-in').textContent()).resolves.toBe('Sign in');
    const before = await db.pool.query(`SELECT used_at FROM magic_links WHERE email = 'browser@example.com'`);
    expect(before.rows[0].used_at).toBeNull();
    expect((await db.pool.query(`SELECT 1 FROM users WHERE email = 'browser@example.com'`)).rowCount).toBe(0);

    await page.click('#sign-in');
    const token = (await page.locator('#access-token').inputValue()).trim();
    expect(await page.locator('#email').textContent()).toBe('browser@example.com');
    expect(await page.locator('#curl-example').textContent()).toContain(`${base}/v1/me`);
    expect(Date.parse((await page.locator('#expires-at').getAttribute('datetime'))!)).toBeGreaterThan(
      Date.now(),
    );
    expect(cspErrors).toEqual([]);
    await page.close();

    const me = await request(t.app).get('/v1/me').set('Authorization', `Bearer ${token}`);
    expect(me.status).toBe(200);
    expect(me.body.email).toBe('browser@example.com');
  }, 60_000);
});
