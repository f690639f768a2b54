/// <reference lib="dom" />
// The web console in a real browser (Debian's Chromium via playwright-core), driven as a user would:
// sign in through the emailed link, create a job to a local receiver and watch it succeed, read a
// failing job's attempts and re-drive it, cancel a running job, create/pause/delete a schedule,
// create an API key and use it from Node, revoke it and see it refused, and check that another
// site's form cannot act with the session cookie. Every page passes axe-core (no serious or critical
// violations) and is photographed into test-results/console/.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { startServer, targets, waitFor, type TestServer } from '../helpers/http.ts';
import { startScheduler, type TestScheduler } from '../helpers/scheduler.ts';
import type { Email } from '../../src/auth/mailer.ts';
import { hasChromium, launchChromium, startMailbox } from '../helpers/browser.ts';
import { escapeHtml } from '../../src/http/pages.ts';
import { NAV, PAGES } from '../../src/contract/consolePages.ts';

const SHOTS = path.join('test-results', 'console');
const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const EMAIL = 'console-user@example.com';

let db: TestDb;
let t: TestApp;
let sched: TestScheduler;
let server: http.Server;
let base: string;
let attacker: TestServer;
let browser: Browser | undefined;
let context: BrowserContext;
let page: Page;
let sent: Email[] = [];
const tgt = targets();
/** Page problems the browser reported: CSP violations, uncaught errors. */
const problems: string[] = [];

beforeAll(async () => {
  db = await createTestDb();
  server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t = await createTestApp(db, { PUBLIC_URL: base, JOB_CREATE_RATE_PER_MINUTE: '1000' });
  server.on('request', t.app);
  sched = await startScheduler(db);
  sent = await startMailbox(t, base);
  // Another site: its page posts a form to our API (the browser would attach cookies if it could).
  attacker = await startServer((req, res) => {
    const q = new URL(req.url ?? '/', 'http://attacker.test').searchParams;
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      .end(
        `<!doctype html><form method="post" action="${escapeHtml(q.get('action') ?? '')}">` +
          `<input type="hidden" name="x" value="1"><button type="submit" id="win">Win a prize</button></form>`,
      );
  });
  fs.mkdirSync(SHOTS, { recursive: true });
  if (hasChromium) {
    browser = await launchChromium(['--host-resolver-rules=MAP attacker.test 127.0.0.1']);
    // Berlin: local times differ from UTC, so the console's conversions are visible.
    context = await browser.newContext({
      timezoneId: 'Europe/Berlin',
      locale: 'en-GB',
      viewport: { width: 1280, height: 900 },
    });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    page = await context.newPage();
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      // The browser logs every 4xx as an error: the 401 of GET /v1/me before signing in and the 400s
      // of the validation steps are expected (and shown in the page). CSP violations, 5xx and script
      // errors are problems.
      if (m.type() === 'error' && !/status of 40[01] /.test(m.text())) problems.push(m.text());
    });
    page.on('dialog', (d) => void d.accept());
  }
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await sched?.stop();
  await tgt.closeAll();
  await attacker?.close();
  await new Promise<void>((r) => {
    server.close(() => r());
    server.closeAllConnections();
  });
  await t?.close();
  await db?.drop();
});

/** axe-core on the current page: no serious or critical violation; then a screenshot. */
async function check(name: string, p: Page = page): Promise<void> {
  await p.evaluate(AXE);
  const violations = await p.evaluate(async () => {
    const r = await (
      window as unknown as {
        axe: {
          run(): Promise<{ violations: { id: string; impact: string; nodes: { target: unknown }[] }[] }>;
        };
      }
    ).axe.run();
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      targets: v.nodes.map((n) => n.target).slice(0, 3),
    }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad, `${name}: ${JSON.stringify(bad)}`).toEqual([]);
  await p.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

const chip = (p: Page = page) => p.locator('h1 .chip');
const jobIdFromUrl = () => /\/jobs\/([0-9a-f-]{36})$/.exec(page.url())![1]!;

/** Fills the job form's request part. */
async function fillJob(f: { name: string; url: string; attempts?: string; base?: string; timeout?: string }) {
  await page.goto(`${base}/jobs/new`);
  await page.fill('#job-name', f.name);
  await page.fill('#job-url', f.url);
  await page.fill('#job-body', '{"hello":"world"}');
  if (f.attempts) await page.fill('#job-attempts', f.attempts);
  if (f.base) await page.fill('#job-base', f.base);
  if (f.timeout) await page.fill('#job-timeout', f.timeout);
}
async function submitJob(): Promise<string> {
  await page.click('button:has-text("Create job")');
  await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
  return jobIdFromUrl();
}

// CI installs chromium (.ci/run); a developer machine without it skips rather than fails.
describe.skipIf(!hasChromium && !process.env.CI)('the console in a real browser', () => {
  it('signs in through the emailed link and lands on an empty jobs list that says what to do', async () => {
    expect(browser, 'chromium must be installed in CI').toBeDefined();
    await page.goto(`${base}/`);
    await page.waitForURL(`${base}/sign-in`);
    await check('sign-in');
    await page.fill('#email', EMAIL);
    await page.click('button:has-text("Email me a sign-in link")');
    await page.getByText('Check your email').waitFor();
    const mail = await waitFor(() => sent.find((m) => m.to === EMAIL), 'the sign-in email');
    await page.goto(mail.link);
    await page.click('#sign-in');
    await page.waitForURL(`${base}/jobs`);
    await expect(page.locator('.who').textContent()).resolves.toContain(EMAIL);
    await page.getByText('No jobs yet.').waitFor();
    await check('jobs-empty');
  }, 60_000);

  it('routes, titles and lists every page of the table as declared; any other path is not found', async () => {
    const nav = page.locator('nav[aria-label="Main"] a');
    await expect
      .poll(() =>
        nav.evaluateAll((as) => as.map((a) => ({ href: a.getAttribute('href'), label: a.textContent }))),
      )
      .toEqual(NAV);
    const sampleId = '3f6c1a52-8d0e-4b7a-9c55-2e1f0a7b9d14'; // no such job or schedule: the page says so
    const logged = problems.length;
    for (const [id, p] of Object.entries(PAGES)) {
      await page.goto(`${base}${p.path.replace(/:\w+/g, sampleId)}`);
      // Signed in, the home page and the sign-in page hand over to the jobs list.
      const shown = id === 'home' || id === 'signIn' ? PAGES.jobs : p;
      if (shown !== p) await page.waitForURL(`${base}/jobs`);
      await expect.poll(() => page.title(), { message: p.path }).toBe(`${shown.title} — dist-job-scheduler`);
      // The view renders with the title: a path the router cannot show says so at once.
      expect(await page.locator('main').textContent(), p.path).not.toContain('There is no page at');
    }
    // The server answers only the table's paths; a link inside the app may still lead elsewhere.
    await page.evaluate(() => {
      history.pushState(null, '', '/jobs/x/y');
      dispatchEvent(new PopStateEvent('popstate'));
    });
    await page.getByText('There is no page at /jobs/x/y').waitFor();
    await expect.poll(() => page.title()).toBe('Not found — dist-job-scheduler');
    // The browser logs the 404s of the sample job and schedule; anything else stays a problem.
    expect(problems.splice(logged).filter((m) => !/status of 404 /.test(m))).toEqual([]);
  }, 60_000);

  it('shows the API validation messages next to their fields', async () => {
    await fillJob({ name: 'bad', url: 'ftp://example.com/x', attempts: '99' });
    await page.fill('#job-headers', 'content-type: application/json\nHost: evil');
    await page.click('button:has-text("Create job")');
    await expect(page.locator('#job-url-error').textContent()).resolves.toMatch(/http/i);
    await expect(page.locator('#job-attempts-error').textContent()).resolves.toMatch(/25/);
    await expect(page.locator('#job-headers-error').textContent()).resolves.toMatch(
      /Host: this header is set by the scheduler/,
    );
    expect(await page.locator('#job-url').getAttribute('aria-invalid')).toBe('true');
    // Focus lands on the first field to fix.
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('job-url');
    expect(page.url()).toBe(`${base}/jobs/new`);
    await check('job-form-errors');
    expect((await db.pool.query(`SELECT 1 FROM jobs WHERE name = 'bad'`)).rowCount).toBe(0);
  }, 60_000);

  it('creates a job to a local receiver and watches it succeed, signed', async () => {
    const receiver = await tgt.target(
      (_req, res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks'),
    );
    await fillJob({ name: 'ping receiver', url: `${receiver.url}/hook` });
    // The retry preview comes from the same backoff code the scheduler runs.
    await expect(page.locator('.retry-plan li').nth(1).textContent()).resolves.toContain(
      '1 s after attempt 1 fails',
    );
    await check('job-new');
    await submitJob();
    await expect.poll(() => chip().textContent(), { timeout: 15_000 }).toBe('succeeded');
    await expect(page.locator('.attempt').first().textContent()).resolves.toMatch(
      /Attempt 1.*succeeded.*HTTP 200/,
    );
    await page.getByText('Response body').click();
    await expect(page.locator('.attempt pre.body').textContent()).resolves.toBe('thanks');
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]!.headers['webhook-signature']).toMatch(/^v1,/);
    expect(receiver.requests[0]!.body).toBe('{"hello":"world"}');
    await check('job-succeeded');
  }, 60_000);

  it("shows a failing job's attempts, re-drives it, and it succeeds", async () => {
    let healthy = false;
    const flaky = await tgt.target((_req, res) => {
      if (healthy) res.writeHead(200).end('ok now');
      else res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"maintenance"}');
    });
    await fillJob({ name: 'flaky target', url: `${flaky.url}/hook`, attempts: '2', base: '100' });
    await page.fill('#job-headers', 'content-type: application/json\nAuthorization: Bearer s3cret-value');
    await submitJob();
    await expect.poll(() => chip().textContent(), { timeout: 15_000 }).toBe('failed');
    const attempts = page.locator('.attempt');
    await expect.poll(() => attempts.count()).toBe(2);
    await expect(attempts.nth(0).textContent()).resolves.toMatch(/Attempt 1.*failed.*HTTP 503/);
    await expect(attempts.nth(1).textContent()).resolves.toMatch(/Attempt 2.*failed.*HTTP 503/);
    // The credential header is masked until asked for.
    // Why it failed: the failed attempts' response bodies are open.
    await expect(attempts.nth(0).locator('pre.body').textContent()).resolves.toBe('{"error":"maintenance"}');
    const auth = page.locator('table.kv tr', { hasText: 'Authorization' });
    expect(await auth.textContent()).not.toContain('s3cret-value');
    await check('job-failed');
    await auth.getByRole('button', { name: /Show value of Authorization/ }).click();
    expect(await auth.textContent()).toContain('s3cret-value');

    healthy = true;
    await page.click('button:has-text("Re-drive")');
    await expect.poll(() => chip().textContent(), { timeout: 15_000 }).toBe('succeeded');
    await expect.poll(() => attempts.count()).toBe(3);
    // In the order they happened; the re-drive starts round 2 and counts attempts afresh.
    await expect(attempts.nth(0).textContent()).resolves.toMatch(/^Round 1, attempt 1.*failed.*HTTP 503/);
    await expect(attempts.nth(2).textContent()).resolves.toMatch(
      /Re-driven: round 2.*Round 2, attempt 1.*succeeded.*HTTP 200/,
    );

    // Clone: a new-job form filled from this one.
    await page.click('button:has-text("Clone")');
    await page.waitForURL(/\/jobs\/new\?clone=/);
    await expect.poll(() => page.inputValue('#job-name')).toBe('flaky target (copy)');
    expect(await page.inputValue('#job-url')).toBe(`${flaky.url}/hook`);
    expect(await page.inputValue('#job-headers')).toContain('Authorization: Bearer s3cret-value');
    expect(await page.inputValue('#job-attempts')).toBe('2');
  }, 60_000);

  it('cancels a running job: the request in flight is aborted', async () => {
    let aborted = false;
    const hang = await tgt.target((req) => {
      req.socket.on('close', () => (aborted = true)); // never answers
    });
    await fillJob({ name: 'slow target', url: `${hang.url}/slow`, timeout: '60000' });
    const id = await submitJob();
    await expect.poll(() => chip().textContent(), { timeout: 15_000 }).toBe('running');
    await page.click('button:has-text("Cancel job")');
    await expect.poll(() => chip().textContent(), { timeout: 15_000 }).toBe('cancelled');
    await waitFor(() => aborted, 'the aborted request');
    const { rows } = await db.pool.query(`SELECT status FROM jobs WHERE id = $1`, [id]);
    expect(rows[0].status).toBe('cancelled');
  }, 60_000);

  it('takes "fire at" in local time and stores it in UTC; the list filters by status and name', async () => {
    await fillJob({ name: 'berlin morning', url: 'http://127.0.0.1:9/never' });
    await page.check('input[value="at"]');
    await page.fill('#job-fire-at', '2027-01-15T10:00:00');
    await expect(page.locator('#job-fire-at-hint').textContent()).resolves.toContain(
      '2027-01-15 09:00:00.000 UTC',
    );
    const id = await submitJob();
    const { rows } = await db.pool.query(`SELECT fire_at FROM jobs WHERE id = $1`, [id]);
    expect((rows[0].fire_at as Date).toISOString()).toBe('2027-01-15T09:00:00.000Z');
    // Shown in the browser's zone, UTC on hover.
    const fire = page.locator('dd time').first();
    expect(await fire.getAttribute('title')).toBe('2027-01-15 09:00:00.000 UTC');
    expect(await fire.textContent()).toMatch(/15 Jan 2027.*10:00:00 CET/);
    await check('job-scheduled');

    await page.goto(`${base}/jobs`);
    await expect
      .poll(() => page.locator('button.chip-filter', { hasText: 'succeeded' }).textContent())
      .toContain('2');
    await page.locator('button.chip-filter', { hasText: 'scheduled' }).click();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    await page.locator('button.chip-filter', { hasText: 'all' }).click();
    await page.fill('#f-name', 'FLAKY');
    await page.press('#f-name', 'Enter');
    await expect
      .poll(() => page.locator('tbody tr').allTextContents())
      .toEqual([expect.stringContaining('flaky target')]);
    expect(page.url()).toContain('name=FLAKY');
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(4);
    await check('jobs');
  }, 60_000);

  it('jobs list: a multi-status link presses its chips, chips toggle, an untouched date field keeps its filter', async () => {
    const from = '2020-01-01T08:00:30.250Z'; // seconds and milliseconds: 09:00:30.250 in Berlin
    await page.goto(`${base}/jobs?status=succeeded,failed&from=${from}`);
    const pressed = () => page.locator('button.chip-filter[aria-pressed="true"]').allTextContents();
    const param = (name: string) => new URL(page.url()).searchParams.get(name);
    await expect
      .poll(pressed)
      .toEqual([expect.stringMatching(/^succeeded /), expect.stringMatching(/^failed /)]);
    // The list asked the API for both: every row is one of them.
    await expect.poll(() => page.locator('button.chip-filter .count').first().textContent()).not.toBe('…');
    for (const s of await page.locator('tbody .chip').allTextContents())
      expect(['succeeded', 'failed']).toContain(s);
    expect(await page.inputValue('#f-from')).toMatch(/^2020-01-01T09:00:30\.25/);

    // Focusing the date field and leaving it untouched (which applies the filters) changes nothing.
    await page.focus('#f-from');
    await page.focus('#f-to');
    await page.focus('#f-name');
    await page.press('#f-name', 'Enter');
    expect(param('from')).toBe(from);
    expect(param('status')).toBe('succeeded,failed');

    await page.locator('button.chip-filter', { hasText: 'failed' }).click();
    await expect.poll(() => param('status')).toBe('succeeded');
    await expect.poll(pressed).toEqual([expect.stringMatching(/^succeeded /)]);
    await page.locator('button.chip-filter', { hasText: 'scheduled' }).click();
    await expect.poll(() => param('status')).toBe('scheduled,succeeded');
    await expect
      .poll(pressed)
      .toEqual([expect.stringMatching(/^scheduled /), expect.stringMatching(/^succeeded /)]);
    expect(param('from')).toBe(from);
    await check('jobs-multi-status');
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(pressed).toEqual([expect.stringMatching(/^all /)]);
  }, 60_000);

  it("another site's form cannot act with the session cookie", async () => {
    const { rows } = await db.pool.query(`SELECT id FROM jobs WHERE name = 'berlin morning'`);
    const id = rows[0].id as string;
    const evil = await context.newPage();
    const action = `${base}/v1/jobs/${id}/cancel`;
    await evil.goto(
      `${attacker.url.replace('127.0.0.1', 'attacker.test')}/?action=${encodeURIComponent(action)}`,
    );
    const [res] = await Promise.all([evil.waitForResponse((r) => r.url() === action), evil.click('#win')]);
    // SameSite=Strict keeps the cookie off the request (401); were it sent, the CSRF rule answers 403.
    expect([401, 403]).toContain(res.status());
    await evil.close();
    const after = await db.pool.query(`SELECT status FROM jobs WHERE id = $1`, [id]);
    expect(after.rows[0].status).toBe('scheduled');
  }, 60_000);

  it('creates a schedule with a live preview, pauses it, and deletes it', async () => {
    const receiver = await tgt.target((_req, res) => void res.writeHead(200).end());
    await page.goto(`${base}/schedules`);
    await page.getByText('No schedules yet.').waitFor();
    await check('schedules-empty');
    await page.click('text=New schedule');
    await page.fill('#s-cron', '30 9 * * 1-5');
    await page.fill('#s-tz', 'America/New_York');
    await expect.poll(() => page.locator('#schedule-preview li').count()).toBe(5);
    await expect(page.locator('#schedule-preview li').first().textContent()).resolves.toMatch(
      /09:30:00-0[45]:00 \(America\/New_York\)/,
    );
    await page.fill('#s-cron', '61 * * * *');
    await expect.poll(() => page.locator('#schedule-preview .field-error').count()).toBe(1);
    await page.fill('#s-cron', '30 9 * * 1-5');
    await page.fill('#schedule-name', 'standup ping');
    await page.fill('#schedule-url', `${receiver.url}/standup`);
    await check('schedule-new');
    await page.click('button:has-text("Create schedule")');
    await page.waitForURL(/\/schedules\/[0-9a-f-]{36}$/);
    await expect(chip().textContent()).resolves.toBe('active');
    // Its first occurrence is an ordinary job, planned at once.
    await expect.poll(() => page.locator('table tbody tr').count(), { timeout: 10_000 }).toBe(1);
    await check('schedule');
    // Edit: the form comes filled; the change shows on the schedule's page.
    await page.click('text=Edit');
    await expect.poll(() => page.inputValue('#s-cron')).toBe('30 9 * * 1-5');
    await page.fill('#s-cron', '45 8 * * 1-5');
    await page.click('button:has-text("Save changes")');
    await page.waitForURL(/\/schedules\/[0-9a-f-]{36}$/);
    await expect
      .poll(() => page.locator('dl.facts').textContent())
      .toContain('45 8 * * 1-5 in America/New_York');
    await page.click('button:has-text("Pause")');
    await expect.poll(() => chip().textContent()).toBe('paused');
    await page.getByText('Paused: nothing fires until you resume.').waitFor();
    await page.click('button:has-text("Delete")');
    await page.waitForURL(`${base}/schedules`);
    await page.getByText('No schedules yet.').waitFor();
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM schedules`);
    expect(rows[0].n).toBe(0);
  }, 60_000);

  it('creates an API key shown once, which works from Node; revoked, it is refused', async () => {
    await page.goto(`${base}/api-keys`);
    await page.getByText('No API keys yet.').waitFor();
    await page.fill('#key-name', 'node backend');
    await page.click('button:has-text("Create key")');
    const key = (await page.locator('#new-key').textContent())!;
    expect(key).toMatch(/^djs_/);
    await page.click('button:has-text("Copy key")');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
    await check('api-keys');
    const create = () =>
      fetch(`${base}/v1/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'from node',
          request: { method: 'POST', url: 'http://127.0.0.1:9/x' },
          delay_seconds: 3600,
        }),
      });
    expect((await create()).status).toBe(201);
    // Shown once: a reload lists it by prefix only.
    await page.reload();
    await expect(page.locator('tbody').textContent()).resolves.not.toContain(key);
    await expect
      .poll(() => page.locator('tbody tr').first().textContent())
      .toMatch(/node backend.*djs_.*jobs:read, jobs:write.*ago/);
    await page.getByRole('button', { name: 'Revoke node backend' }).click();
    await page.getByText('No API keys yet.').waitFor();
    const refused = await create();
    expect(refused.status).toBe(401);
  }, 60_000);

  it('shows the signing secret masked, with a verification snippet, and rotates it', async () => {
    await page.goto(`${base}/signing-secret`);
    await page.getByRole('button', { name: 'Show signing secret' }).waitFor();
    expect(await page.locator('main').textContent()).not.toMatch(/whsec_[A-Za-z0-9+/=]{20,}/);
    await expect(page.locator('pre.snippet').textContent()).resolves.toContain("from 'standardwebhooks'");
    await check('signing-secret');
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByText('Previous secret, still signing until').waitFor();
  }, 60_000);

  it('works in a narrow window and by keyboard', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(`${base}/jobs`);
    await page.locator('tbody tr').first().waitFor();
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await check('jobs-narrow');
    await page.setViewportSize({ width: 1280, height: 900 });
    // The skip link comes first and moves focus to the page's main region.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    // The main navigation follows it; a new page gets its own title and takes focus to its content.
    await page.reload();
    await page.locator('tbody tr').first().waitFor();
    for (let i = 0; i < 4; i++) await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Schedules');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/schedules`);
    await expect.poll(() => page.title()).toBe('Schedules — dist-job-scheduler');
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('main');
  }, 60_000);

  it('signs out: the cookie is cleared and the session is over', async () => {
    const [cookie] = await context.cookies(base);
    await page.goto(`${base}/jobs`);
    await page.click('button:has-text("Sign out")');
    await page.waitForURL(`${base}/sign-in`);
    expect(await context.cookies(base)).toEqual([]);
    const me = await fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${cookie!.value}` } });
    expect(me.status).toBe(401);
    expect(problems, problems.join('\n')).toEqual([]);
  }, 60_000);
});
