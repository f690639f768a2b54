import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { SignJWT } from 'jose';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';
import { startServer, waitFor, type TestServer } from '../helpers/http.ts';
import { ResendTransport, startMailWorker, type Email, type MailTransport } from '../../src/auth/mailer.ts';
import { Sealer } from '../../src/auth/crypto.ts';
import { silentLogger } from '../../src/logger.ts';

class MemoryTransport implements MailTransport {
  sent: Email[] = [];
  send(email: Email) {
    this.sent.push(email);
    return Promise.resolve();
  }
}

let db: TestDb;
let t: TestApp;
const mailbox = new MemoryTransport();

async function startWorker(app: TestApp, transport: MailTransport) {
  return startMailWorker({
    boss: app.boss,
    transport,
    sealer: new Sealer(app.config.SECRETS_KEY, 'magic-link'),
    publicUrl: app.config.PUBLIC_URL,
    ttlSeconds: app.config.MAGIC_LINK_TTL_SECONDS,
    log: silentLogger,
    metrics: app.metrics,
  });
}

const tokenFromLink = (link: string) => new URL(link).searchParams.get('token')!;

async function requestLinkFor(email: string, ip = '10.9.9.9'): Promise<string> {
  const before = mailbox.sent.length;
  const res = await request(t.app).post('/v1/auth/magic-link').set('X-Forwarded-For', ip).send({ email });
  expect(res.status).toBe(202);
  const mail = await waitFor(
    () => mailbox.sent.slice(before).find((m) => m.to === email.trim().toLowerCase()),
    `email to ${email}`,
  );
  return tokenFromLink(mail.link);
}

beforeAll(async () => {
  db = await createTestDb();
  // Trust the test's X-Forwarded-For so per-IP limits can be exercised from one client.
  t = await createTestApp(db, {
    TRUST_PROXY: 'true',
    MAGIC_LINK_RATE_PER_EMAIL_PER_HOUR: '5',
    MAGIC_LINK_RATE_PER_IP_PER_HOUR: '12',
  });
  await startWorker(t, mailbox);
});
afterAll(async () => {
  await t.close();
  await db.drop();
});

describe('magic-link sign-in', () => {
  it('sends a link, stores only its hash, and exchanges it once for a session', async () => {
    const token = await requestLinkFor('  Alice@Example.COM ');
    const { rows } = await db.pool.query(
      `SELECT email, token_hash FROM magic_links WHERE email = 'alice@example.com'`,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].token_hash.equals(crypto.createHash('sha256').update(token).digest())).toBe(true);
    expect(JSON.stringify(rows)).not.toContain(token);

    const res = await request(t.app).post('/v1/auth/session').send({ token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', user: { email: 'alice@example.com' } });
    expect(new Date(res.body.expires_at).getTime()).toBeGreaterThan(Date.now());
    const me = await request(t.app).get('/v1/me').set('Authorization', `Bearer ${res.body.access_token}`);
    expect(me.status).toBe(200);
    expect(me.body).toEqual({
      id: res.body.user.id,
      email: 'alice@example.com',
      created_at: expect.any(String),
      credential: { kind: 'session' },
    });

    const again = await request(t.app).post('/v1/auth/session').send({ token });
    expect(again.status).toBe(401);
    expect(again.body.error.code).toBe('invalid_token');
  });

  it('the queued email job never holds the token in plaintext', async () => {
    const token = await requestLinkFor('queue-check@example.com');
    const { rows } = await db.pool.query(
      `SELECT data::text AS data FROM pgboss.job WHERE name = 'magic-link-email'`,
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(r.data).not.toContain(token);
  });

  it('answers the same for known and unknown emails (no enumeration)', async () => {
    await requestLinkFor('known@example.com');
    const s = await request(t.app)
      .post('/v1/auth/session')
      .send({ token: await requestLinkFor('known@example.com') });
    expect(s.status).toBe(200);
    const known = await request(t.app)
      .post('/v1/auth/magic-link')
      .set('X-Forwarded-For', '10.1.1.2')
      .send({ email: 'known@example.com' });
    const unknown = await request(t.app)
      .post('/v1/auth/magic-link')
      .set('X-Forwarded-For', '10.1.1.3')
      .send({ email: 'nobody-here@example.com' });
    expect(known.status).toBe(202);
    expect(unknown.status).toBe(202);
    expect(known.body).toEqual(unknown.body);
    expect(known.body).toEqual({ status: 'sent' });
  });

  it('rejects malformed emails, wrong content types and broken JSON with precise codes', async () => {
    const bad = await request(t.app).post('/v1/auth/magic-link').send({ email: 'not-an-email' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    expect(bad.body.error.details[0].path).toBe('email');
    const extra = await request(t.app)
      .post('/v1/auth/magic-link')
      .send({ email: 'a@example.com', admin: true });
    expect(extra.status).toBe(400);
    const form = await request(t.app).post('/v1/auth/magic-link').type('form').send('email=a@example.com');
    expect(form.status).toBe(415);
    const broken = await request(t.app)
      .post('/v1/auth/magic-link')
      .set('Content-Type', 'application/json')
      .send('{"email":');
    expect(broken.status).toBe(400);
    expect(broken.body.error.code).toBe('malformed_json');
  });

  it('rate-limits per email with Retry-After', async () => {
    const email = 'limited@example.com';
    for (let i = 0; i < 5; i++) {
      const r = await request(t.app)
        .post('/v1/auth/magic-link')
        .set('X-Forwarded-For', `10.2.0.${i}`)
        .send({ email });
      expect(r.status).toBe(202);
    }
    const res = await request(t.app)
      .post('/v1/auth/magic-link')
      .set('X-Forwarded-For', '10.2.0.99')
      .send({ email });
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('rate_limited');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(3000);
  });

  it('rate-limits per client IP', async () => {
    const ip = '10.3.3.3';
    for (let i = 0; i < 12; i++) {
      const r = await request(t.app)
        .post('/v1/auth/magic-link')
        .set('X-Forwarded-For', ip)
        .send({ email: `ip${i}@example.com` });
      expect(r.status).toBe(202);
    }
    const res = await request(t.app)
      .post('/v1/auth/magic-link')
      .set('X-Forwarded-For', ip)
      .send({ email: 'ip-last@example.com' });
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBeTruthy();
  });

  it('a newer link revokes older unused ones; expired links are refused', async () => {
    const first = await requestLinkFor('bob@example.com');
    const second = await requestLinkFor('bob@example.com');
    expect((await request(t.app).post('/v1/auth/session').send({ token: first })).status).toBe(401);
    const third = await requestLinkFor('carol@example.com');
    await db.pool.query(
      `UPDATE magic_links SET created_at = now() - interval '1 hour', expires_at = now() - interval '1 second' WHERE email = 'carol@example.com'`,
    );
    const expired = await request(t.app).post('/v1/auth/session').send({ token: third });
    expect(expired.status).toBe(401);
    expect(expired.body.error.code).toBe('invalid_token');
    expect((await request(t.app).post('/v1/auth/session').send({ token: second })).status).toBe(200);
  });

  it('a link signs in only the email it was sent to', async () => {
    const dave = await requestLinkFor('dave@example.com');
    await requestLinkFor('erin@example.com');
    const res = await request(t.app).post('/v1/auth/session').send({ token: dave });
    expect(res.body.user.email).toBe('dave@example.com');
    const unknown = await request(t.app)
      .post('/v1/auth/session')
      .send({ token: crypto.randomBytes(32).toString('base64url') });
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.code).toBe('invalid_token');
  });

  it('GET on the link page has no side effect; the button POST signs in with a cookie and opens the console', async () => {
    const token = await requestLinkFor('page@example.com');
    const page = await request(t.app).get(`/v1/auth/verify?token=${token}`);
    expect(page.status).toBe(200);
    // Origin only, never the token in the URL; `no-referrer` would make our own form post `Origin: null`.
    expect(page.headers['referrer-policy']).toBe('strict-origin');
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect(page.text).toContain('method="post"');
    // It names the account before the button: a link someone else sent (login CSRF) shows their email.
    expect(page.text).toMatch(
      /signs you in as <strong id="account">page@example\.com<\/strong>[\s\S]*<button/,
    );
    expect(page.text).toContain('Sign in as page@example.com</button>');
    const { rows } = await db.pool.query(`SELECT used_at FROM magic_links WHERE email = 'page@example.com'`);
    expect(rows[0].used_at).toBeNull();
    const done = await request(t.app).post('/v1/auth/verify').type('form').send({ token });
    // Into the console with the session in an HttpOnly cookie; the token is in no URL and no page.
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe('/');
    const cookie = String(done.headers['set-cookie']);
    expect(cookie).toMatch(/^djs_session=[\w.-]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
    const accessToken = /^djs_session=([\w.-]+);/.exec(cookie)![1]!;
    expect(done.text).not.toContain(accessToken);
    expect((await request(t.app).get('/v1/me').set('Authorization', `Bearer ${accessToken}`)).status).toBe(
      200,
    );
    const reused = await request(t.app).post('/v1/auth/verify').type('form').send({ token });
    expect(reused.status).toBe(401);
    // A used (or unknown) link's page says so at once, and names no one.
    const again = await request(t.app).get(`/v1/auth/verify?token=${token}`);
    expect(again.status).toBe(401);
    expect(again.text).toContain('cannot be used');
    expect(again.text).not.toContain('page@example.com');
  });
});

describe('client IP for the per-IP limit', () => {
  const storedIps = async (emailPrefix: string) =>
    (
      await db.pool.query<{ ip: string | null }>(
        `SELECT requested_ip::text AS ip FROM magic_links WHERE email LIKE $1 || '%' ORDER BY id`,
        [emailPrefix],
      )
    ).rows.map((r) => r.ip);

  it.each(['not-an-ip', '999.1.1.1', '10.1.2.3:8080', '[2001:db8::1]', '127.1'])(
    'X-Forwarded-For: %s → 202, stored without an IP, and the link works',
    async (xff) => {
      const email = `bad-ip-${crypto.randomUUID()}@example.com`;
      const token = await requestLinkFor(email, xff);
      expect(await storedIps(email)).toEqual([null]);
      expect((await request(t.app).post('/v1/auth/session').send({ token })).status).toBe(200);
    },
  );

  it('two IPv6 addresses in one /64 share a per-IP limit; the next /64 has its own', async () => {
    const sameNet = (i: number) => `2001:db8:77:1:${(0x1000 + i * 0x111).toString(16)}::${i + 1}`;
    for (let i = 0; i < 12; i++) {
      const r = await request(t.app)
        .post('/v1/auth/magic-link')
        .set('X-Forwarded-For', sameNet(i))
        .send({ email: `v6-${i}@example.com` });
      expect(r.status).toBe(202);
    }
    const refused = await request(t.app)
      .post('/v1/auth/magic-link')
      .set('X-Forwarded-For', '2001:db8:77:1:ffff:ffff:ffff:ffff')
      .send({ email: 'v6-last@example.com' });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate_limited');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(3000);
    const otherNet = await request(t.app)
      .post('/v1/auth/magic-link')
      .set('X-Forwarded-For', '2001:db8:77:2::1')
      .send({ email: 'v6-other-net@example.com' });
    expect(otherNet.status).toBe(202);
    // Stored exactly as counted: the /64 network, never the full address.
    expect(new Set(await storedIps('v6-'))).toEqual(new Set(['2001:db8:77:1::/64', '2001:db8:77:2::/64']));
  });

  it('an IPv4-mapped IPv6 address counts as its IPv4 address', async () => {
    for (let i = 0; i < 12; i++) {
      const r = await request(t.app)
        .post('/v1/auth/magic-link')
        .set('X-Forwarded-For', i % 2 ? '10.5.5.5' : '::ffff:10.5.5.5')
        .send({ email: `mapped-${i}@example.com` });
      expect(r.status).toBe(202);
    }
    const refused = await request(t.app)
      .post('/v1/auth/magic-link')
      .set('X-Forwarded-For', '::ffff:a05:505')
      .send({ email: 'mapped-last@example.com' });
    expect(refused.status).toBe(429);
    expect(new Set(await storedIps('mapped-'))).toEqual(new Set(['10.5.5.5/32']));
  });
});

describe('login CSRF on the sign-in form (POST /v1/auth/verify)', () => {
  // PUBLIC_URL of the test app is http://localhost:3000.
  let n = 0;
  /** A fresh link, each from its own client IP so these tests stay clear of the per-IP limit. */
  const freshLink = async () => {
    n += 1;
    const email = `csrf-${n}@example.com`;
    return { email, token: await requestLinkFor(email, `10.44.0.${n}`) };
  };
  const usedAt = async (email: string) =>
    (await db.pool.query(`SELECT used_at FROM magic_links WHERE email = $1`, [email])).rows[0].used_at;
  const postForm = (token: string, headers: Record<string, string>) => {
    const req = request(t.app).post('/v1/auth/verify').type('form');
    for (const [k, v] of Object.entries(headers)) req.set(k, v);
    return req.send({ token });
  };

  /** The POST opened the console (303 to /) with a session cookie for `email`. */
  const expectSignedIn = async (res: request.Response, email: string) => {
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/');
    const token = /^djs_session=([\w.-]+);/.exec(String(res.headers['set-cookie']))?.[1];
    expect(token).toBeDefined();
    const me = await request(t.app).get('/v1/me').set('Authorization', `Bearer ${token}`);
    expect(me.body.email).toBe(email);
  };

  const refused: [string, Record<string, string>][] = [
    ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site', { 'Sec-Fetch-Site': 'same-site' }],
    [
      'Sec-Fetch-Site: cross-site with our Origin',
      { 'Sec-Fetch-Site': 'cross-site', Origin: 'http://localhost:3000' },
    ],
    ['an unknown Sec-Fetch-Site value', { 'Sec-Fetch-Site': 'same-origin, cross-site' }],
    ['a mismatched Origin', { Origin: 'https://evil.example' }],
    ['an Origin on another port', { Origin: 'http://localhost:3001' }],
    ['Origin: null', { Origin: 'null' }],
  ];
  it.each(refused)('%s → 403 page, and the link still signs in from our own page', async (_name, headers) => {
    const { email, token } = await freshLink();
    const res = await postForm(token, headers);
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.text).toContain('<h1>Sign-in refused</h1>');
    expect(res.text).toContain('data-reason="cross-site"');
    expect(res.text).not.toContain(token);
    expect(await usedAt(email)).toBeNull();
    expect((await db.pool.query(`SELECT 1 FROM users WHERE email = $1`, [email])).rowCount).toBe(0);

    const ok = await postForm(token, { 'Sec-Fetch-Site': 'same-origin', Origin: 'http://localhost:3000' });
    await expectSignedIn(ok, email);
    expect(await usedAt(email)).not.toBeNull();
  });

  const allowed: [string, Record<string, string>][] = [
    ['Sec-Fetch-Site: same-origin', { 'Sec-Fetch-Site': 'same-origin' }],
    ['Sec-Fetch-Site: none', { 'Sec-Fetch-Site': 'none' }],
    // Sec-Fetch-Site decides when present; browsers send `Origin: null` under some referrer policies.
    ['Sec-Fetch-Site: same-origin with Origin: null', { 'Sec-Fetch-Site': 'same-origin', Origin: 'null' }],
    ['our Origin without Sec-Fetch-Site', { Origin: 'http://localhost:3000' }],
    ['neither header (a non-browser client)', {}],
  ];
  it.each(allowed)('%s → signs in', async (_name, headers) => {
    const { email, token } = await freshLink();
    await expectSignedIn(await postForm(token, headers), email);
  });
});

/** A session-shaped JWT signed with jose; each override makes it wrong in one way. */
function forge(
  sub: string,
  o: { key?: Uint8Array; alg?: string; iss?: string; aud?: string; iat?: number; exp?: number | string } = {},
) {
  return new SignJWT({ tv: 0 })
    .setProtectedHeader({ alg: o.alg ?? 'HS256' })
    .setSubject(sub)
    .setIssuer(o.iss ?? t.config.JWT_ISSUER)
    .setAudience(o.aud ?? t.config.JWT_AUDIENCE)
    .setIssuedAt(o.iat)
    .setJti('j')
    .setExpirationTime(o.exp ?? '10m')
    .sign(o.key ?? t.config.JWT_SECRET);
}

describe('session tokens (auth matrix)', () => {
  const cases: [string, (good: string, userId: string) => Promise<string> | string][] = [
    [
      'alg none',
      (_g, sub) => {
        const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
        const now = Math.floor(Date.now() / 1000);
        return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ sub, tv: 0, iss: t.config.JWT_ISSUER, aud: t.config.JWT_AUDIENCE, iat: now, exp: now + 600, jti: 'x' })}.`;
      },
    ],
    ['wrong key', (_g, sub) => forge(sub, { key: crypto.randomBytes(32) })],
    ['wrong audience', (_g, sub) => forge(sub, { aud: 'someone-else' })],
    ['wrong issuer', (_g, sub) => forge(sub, { iss: 'evil' })],
    [
      'expired',
      (_g, sub) =>
        forge(sub, { iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 }),
    ],
    [
      'HS512 instead of HS256',
      (_g, sub) =>
        forge(sub, { alg: 'HS512', key: Buffer.concat([t.config.JWT_SECRET, t.config.JWT_SECRET]) }),
    ],
    [
      'tampered payload',
      (good) => {
        const [h, p, s] = good.split('.');
        const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
        payload.sub = crypto.randomUUID();
        return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
      },
    ],
    ['garbage', () => 'not.a.jwt'],
  ];
  it.each(cases)('%s → 401 unauthorized with WWW-Authenticate', async (_name, forge) => {
    const s = await sessionFor(db, t.config);
    expect((await request(t.app).get('/v1/me').set('Authorization', s.auth)).status).toBe(200);
    const forged = await forge(s.token, s.user.id);
    const res = await request(t.app).get('/v1/me').set('Authorization', `Bearer ${forged}`);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('missing or non-bearer Authorization → 401', async () => {
    expect((await request(t.app).get('/v1/me')).status).toBe(401);
    expect((await request(t.app).get('/v1/me').set('Authorization', 'Basic abc')).status).toBe(401);
  });

  it('logout revokes every session issued before it', async () => {
    const a = await sessionFor(db, t.config, 'multi@example.com');
    const b = await sessionFor(db, t.config, 'multi@example.com');
    expect((await request(t.app).post('/v1/auth/logout').set('Authorization', a.auth)).status).toBe(204);
    expect((await request(t.app).get('/v1/me').set('Authorization', a.auth)).status).toBe(401);
    expect((await request(t.app).get('/v1/me').set('Authorization', b.auth)).status).toBe(401);
    const c = await sessionFor(db, t.config, 'multi@example.com');
    expect((await request(t.app).get('/v1/me').set('Authorization', c.auth)).status).toBe(200);
  });
});

describe('email delivery through the Resend SDK', () => {
  let resend: TestServer;
  let failuresLeft = 2;
  beforeAll(async () => {
    resend = await startServer((_req, res) => {
      if (failuresLeft-- > 0) {
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify({ name: 'internal_server_error', message: 'boom', statusCode: 500 }));
        return;
      }
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ id: crypto.randomUUID() }));
    });
  });
  afterAll(() => resend.close());

  it('sends through the SDK, retries failures with backoff, and the link works', async () => {
    const db2 = await createTestDb();
    const t2 = await createTestApp(db2, { RESEND_API_KEY: 're_test_123', RESEND_BASE_URL: resend.url });
    try {
      await startWorker(t2, new ResendTransport('re_test_123', t2.config.MAIL_FROM, resend.url));
      const res = await request(t2.app).post('/v1/auth/magic-link').send({ email: 'resend@example.com' });
      expect(res.status).toBe(202);
      const ok = await waitFor(
        () => resend.requests.length >= 3 && resend.requests[2],
        'third Resend call',
        25_000,
      );
      expect(resend.requests.slice(0, 3).map((r) => r.url)).toEqual(['/emails', '/emails', '/emails']);
      expect(ok.headers.authorization).toBe('Bearer re_test_123');
      const sent = JSON.parse(ok.body);
      expect(sent.to).toBe('resend@example.com');
      expect(sent.subject).toMatch(/sign-in link/i);
      const link = /https?:\/\/\S+\/v1\/auth\/verify\?token=[A-Za-z0-9_%-]+/.exec(sent.text)![0];
      const session = await request(t2.app)
        .post('/v1/auth/session')
        .send({ token: decodeURIComponent(tokenFromLink(link)) });
      expect(session.status).toBe(200);
      await waitFor(async () => (await t2.metrics.mailSent.get()).values[0]?.value === 1, 'mail sent metric');
      expect((await t2.metrics.mailFailed.get()).values[0]!.value).toBe(2);
    } finally {
      await t2.close();
      await db2.drop();
    }
  }, 40_000);
});
