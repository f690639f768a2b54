import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sign, verifyWebhook, webhookHeaders } from '../../src/webhooks/signing.ts';
import { Sealer, generateToken, hashToken } from '../../src/auth/crypto.ts';
import { deriveSigningSecret } from '../../src/webhooks/secrets.ts';

// The Standard Webhooks reference test vector.
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TS = 1614265330;
const BODY = '{"test": 2432232314}';

describe('webhook signatures', () => {
  it('matches the Standard Webhooks test vector', () => {
    expect(sign(SECRET, ID, TS, BODY)).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });
  it('a receiver verifies our headers, and rejects tampering and stale timestamps', () => {
    const h = webhookHeaders([SECRET], ID, TS, BODY);
    const hdrs = {
      id: h['webhook-id']!,
      timestamp: h['webhook-timestamp']!,
      signature: h['webhook-signature']!,
    };
    expect(verifyWebhook(SECRET, hdrs, BODY, TS + 10)).toBe(true);
    expect(verifyWebhook(SECRET, hdrs, `${BODY} `, TS)).toBe(false);
    expect(verifyWebhook(SECRET, { ...hdrs, id: 'other' }, BODY, TS)).toBe(false);
    expect(verifyWebhook(SECRET, hdrs, BODY, TS + 3600)).toBe(false);
    expect(verifyWebhook('whsec_' + crypto.randomBytes(24).toString('base64'), hdrs, BODY, TS)).toBe(false);
  });
  it('during rotation both old and new secrets verify', () => {
    const other = 'whsec_' + crypto.randomBytes(32).toString('base64');
    const h = webhookHeaders([other, SECRET], ID, TS, BODY);
    const hdrs = { id: ID, timestamp: String(TS), signature: h['webhook-signature']! };
    expect(h['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(verifyWebhook(SECRET, hdrs, BODY, TS)).toBe(true);
    expect(verifyWebhook(other, hdrs, BODY, TS)).toBe(true);
  });
});

describe('secrets', () => {
  const master = crypto.randomBytes(32);
  it('signing secrets are derived per user and version, in whsec_ format', () => {
    const a1 = deriveSigningSecret(master, 'user-a', 1);
    expect(a1).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(deriveSigningSecret(master, 'user-a', 1)).toBe(a1);
    expect(deriveSigningSecret(master, 'user-a', 2)).not.toBe(a1);
    expect(deriveSigningSecret(master, 'user-b', 1)).not.toBe(a1);
    expect(deriveSigningSecret(crypto.randomBytes(32), 'user-a', 1)).not.toBe(a1);
  });
  it('sealed payloads round-trip and reject tampering or another key', () => {
    const s = new Sealer(master, 'magic-link');
    const sealed = s.seal('secret-token');
    expect(sealed).not.toContain('secret-token');
    expect(s.open(sealed)).toBe('secret-token');
    const raw = Buffer.from(sealed, 'base64url');
    raw[raw.length - 1]! ^= 1;
    expect(() => s.open(raw.toString('base64url'))).toThrow();
    expect(() => new Sealer(crypto.randomBytes(32), 'magic-link').open(sealed)).toThrow();
  });
  it('sign-in tokens carry 256 bits and only their hash is stored', () => {
    const t = generateToken();
    expect(Buffer.from(t, 'base64url')).toHaveLength(32);
    expect(hashToken(t)).toHaveLength(32);
    expect(hashToken(t).equals(hashToken(t))).toBe(true);
    expect(generateToken()).not.toBe(t);
  });
});

describe('HMAC implementation', () => {
  it('equals crypto.createHmac for keys of every length class and many messages', async () => {
    const { hmacSha256 } = await import('../../src/webhooks/signing.ts');
    for (const len of [1, 16, 32, 63, 64, 65, 100]) {
      const key = crypto.randomBytes(len);
      const secret = `whsec_${key.toString('base64')}`;
      for (const msg of ['', 'a', 'x'.repeat(1000), 'ünïcødé ✓']) {
        expect(hmacSha256(secret, msg).equals(crypto.createHmac('sha256', key).update(msg).digest())).toBe(
          true,
        );
        expect(hmacSha256(secret, msg).equals(crypto.createHmac('sha256', key).update(msg).digest())).toBe(
          true,
        ); // reuse
      }
    }
  });
});

describe('session tokens', () => {
  it('a cached verification still honours expiry, and a forged variant of a cached token fails', async () => {
    const { SessionTokens } = await import('../../src/auth/jwt.ts');
    const key = crypto.randomBytes(32);
    const tokens = new SessionTokens(key, 'iss', 'aud', 60);
    const { token } = await tokens.issue('3b241101-e2bb-4255-8caf-4136c566a962', 0);
    expect(await tokens.verify(token)).not.toBeNull();
    expect(await tokens.verify(token)).not.toBeNull(); // from the cache
    const [h, p] = token.split('.');
    expect(await tokens.verify(`${h}.${p}.${'A'.repeat(43)}`)).toBeNull();
    const short = new SessionTokens(key, 'iss', 'aud', 60);
    const claims = await short.verify(token);
    claims!.expiresAt = new Date(Date.now() - 1); // as if time had passed
    expect(await short.verify(token)).toBeNull();
  });
});
