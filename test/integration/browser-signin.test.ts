/// <reference lib="dom" />
// The sign-in page in a real browser (Debian's Chromium via playwright-core): GET shows a button and
// signs nobody in; clicking it opens the console, signed in by an HttpOnly cookie that page script
// cannot read and that no URL or storage holds. The same
// browser checks the login-CSRF defence: another site's form is refused, both when the browser sends
// Sec-Fetch-Site (localhost, HTTPS) and when it does not (plain HTTP under a real name).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import request from 'supertest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { anotherApi, createTestApp, type TestApp } from '../helpers/app.ts';
import { startServer, waitFor, type TestServer } from '../helpers/http.ts';
import { escapeHtml } from '../../src/http/pages.ts';
import type { Email } from '../../src/auth/mailer.ts';
import { hasChromium, launchChromium, startMailbox } from '../helpers/browser.ts';

let db: TestDb;
let t: TestApp;
let server: http.Server;
let base: string;
/** The same server under a name that is not localhost: Chromium sends no Sec-Fetch-Site over plain HTTP there. */
let plainBase: string;
let attacker: TestServer;
let browser: Browser | undefined;
let sent: Email[] = [];
/** The fetch-metadata headers of every sign-in form POST the server received. */
const verifyPosts: { host?: string; origin?: string; site?: string }[] = [];

beforeAll(async () => {
  db = await createTestDb();
  server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  plainBase = `http://signin.test:${(server.address() as AddressInfo).port}`;
  t = await createTestApp(db, { PUBLIC_URL: base });
  // The deployment at plainBase: same database and queue, its own PUBLIC_URL (the expected Origin).
  const { app: plainApp } = anotherApi(db, t, { config: { PUBLIC_URL: plainBase } });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.method === 'POST' && req.url === '/v1/auth/verify') {
      verifyPosts.push({
        host: req.headers.host,
        origin: req.headers.origin,
        site: req.headers['sec-fetch-site'],
      });
    }
    const app = req.headers.host?.startsWith('signin.test:') ? plainApp : t.app;
    app(req, res);
  });
  // A third-party page that posts a sign-in token (in the attack, the attacker's own) to `target`.
  attacker = await startServer((req, res) => {
    const q = new URL(req.url ?? '/', 'http://attacker.test').searchParams;
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      .end(
        `<!doctype html><form method="post" action="${escapeHtml(q.get('target') ?? '')}/v1/auth/verify">` +
          `<input type="hidden" name="token" value="${escapeHtml(q.get('token') ?? '')}">` +
          `<button type="submit" id="win">Win a prize</button></form>`,
      );
  });
  sent = await startMailbox(t, base);
  if (hasChromium) {
    browser = await launchChromium([
      '--host-resolver-rules=MAP signin.test 127.0.0.1, MAP attacker.test 127.0.0.1',
    ]);
  }
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await attacker.close();
  await new Promise<void>((r) => {
    server.close(() => r());
    server.closeAllConnections();
  });
  await t.close();
  await db.drop();
});

/** Requests a link through the API and returns the token from the email. */
async function tokenFor(email: string): Promise<string> {
  const res = await request(t.app).post('/v1/auth/magic-link').send({ email });
  expect(res.status).toBe(202);
  const mail = await waitFor(() => sent.find((m) => m.to === email), `email to ${email}`);
  return new URL(mail.link).searchParams.get('token')!;
}

/** Clicks a form's submit button; the status of the POST it sends to `url`. */
async function submit(page: Page, button: string, url: string): Promise<number> {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url() === url && r.request().method() === 'POST'),
    page.click(button),
  ]);
  return res.status();
}

const usedAt = async (email: string) =>
  (await db.pool.query(`SELECT used_at FROM magic_links WHERE email = $1`, [email])).rows[0].used_at;

// CI installs chromium (.ci/run); a developer machine without it skips rather than fails.
describe.skipIf(!hasChromium && !process.env.CI)('sign-in in a real browser', () => {
  it('opening the link signs nobody in; clicking the button opens the console, signed in by an HttpOnly cookie', async () => {
    expect(browser, 'chromium must be installed in CI').toBeDefined();
    const res = await request(t.app).post('/v1/auth/magic-link').send({ email: 'browser@example.com' });
    expect(res.status).toBe(202);
    const mail = await waitFor(() => sent.find((m) => m.to === 'browser@example.com'), 'email');
    expect(mail.link.startsWith(`${base}/v1/auth/verify?token=`)).toBe(true);

    const context = await browser!.newContext();
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    await page.goto(mail.link);
    await expect(page.locator('#sign-in').textContent()).resolves.toBe('Sign in as browser@example.com');
    const before = await db.pool.query(`SELECT used_at FROM magic_links WHERE email = 'browser@example.com'`);
    expect(before.rows[0].used_at).toBeNull();
    expect((await db.pool.query(`SELECT 1 FROM users WHERE email = 'browser@example.com'`)).rowCount).toBe(0);

    await page.click('#sign-in');
    await page.waitForURL(`${base}/jobs`);
    await expect(page.locator('.who').textContent()).resolves.toContain('browser@example.com');
    const [cookie] = await context.cookies(base);
    expect(cookie).toMatchObject({ name: 'djs_session', httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(cookie!.expires * 1000).toBeGreaterThan(Date.now());
    // Page script sees no token anywhere: not in document.cookie, storage, the URL or the page.
    const visible = await page.evaluate(() => ({
      cookie: document.cookie,
      storage: JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }),
      url: location.href,
      html: document.documentElement.outerHTML,
    }));
    for (const v of Object.values(visible)) expect(v).not.toContain(cookie!.value);
    // Only the favicon-less 401 of GET /v1/me before signing in may be logged; no CSP violation.
    expect(consoleErrors.filter((e) => !e.includes('401'))).toEqual([]);
    await context.close();

    const me = await request(t.app).get('/v1/me').set('Authorization', `Bearer ${cookie!.value}`);
    expect(me.status).toBe(200);
    expect(me.body.email).toBe('browser@example.com');
  }, 60_000);
  it('another site posting a sign-in form is refused (Sec-Fetch-Site), and the link still works', async () => {
    expect(browser, 'chromium must be installed in CI').toBeDefined();
    const email = 'csrf-victim@example.com';
    const token = await tokenFor(email);
    const page = await browser!.newPage();
    await page.goto(
      `${attacker.url.replace('127.0.0.1', 'attacker.test')}/?${new URLSearchParams({ target: base, token }).toString()}`,
    );
    expect(await submit(page, '#win', `${base}/v1/auth/verify`)).toBe(403);
    expect(verifyPosts.at(-1)).toMatchObject({ site: 'cross-site' });
    await expect(page.locator('#error').getAttribute('data-reason')).resolves.toBe('cross-site');
    expect(await usedAt(email)).toBeNull();

    await page.goto(`${base}/v1/auth/verify?token=${token}`);
    // The page names the account the link signs into before the button (login CSRF).
    await expect(page.locator('#account').textContent()).resolves.toBe(email);
    expect(await submit(page, '#sign-in', `${base}/v1/auth/verify`)).toBe(303);
    await expect(page.locator('.who').textContent()).resolves.toContain(email);
    expect(verifyPosts.at(-1)).toMatchObject({ site: 'same-origin' });
    await page.close();
  }, 60_000);

  it('over plain HTTP under a real name (no Sec-Fetch-Site) our page signs in by Origin; another site is refused', async () => {
    expect(browser, 'chromium must be installed in CI').toBeDefined();
    const email = 'plain-http@example.com';
    const token = await tokenFor(email);
    const page = await browser!.newPage();
    await page.goto(
      `${attacker.url.replace('127.0.0.1', 'attacker.test')}/?${new URLSearchParams({ target: plainBase, token }).toString()}`,
    );
    expect(await submit(page, '#win', `${plainBase}/v1/auth/verify`)).toBe(403);
    // What this test is about: the browser sent no Sec-Fetch-Site, so the Origin check decided.
    expect(verifyPosts.at(-1)).toEqual({
      host: new URL(plainBase).host,
      origin: expect.any(String),
      site: undefined,
    });
    expect(await usedAt(email)).toBeNull();

    // Our confirm page's Referrer-Policy must let the browser send its real Origin (not `null`).
    await page.goto(`${plainBase}/v1/auth/verify?token=${token}`);
    expect(await submit(page, '#sign-in', `${plainBase}/v1/auth/verify`)).toBe(303);
    await expect(page.locator('.who').textContent()).resolves.toContain(email);
    expect(verifyPosts.at(-1)).toEqual({ host: new URL(plainBase).host, origin: plainBase, site: undefined });
    await page.close();
  }, 60_000);
});
