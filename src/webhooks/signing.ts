// Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over
// "<webhook-id>.<webhook-timestamp>.<body>" keyed by the base64 part of a `whsec_` secret.
import crypto from 'node:crypto';

// HMAC-SHA256 by its definition, H((K⊕opad) ‖ H((K⊕ipad) ‖ m)), with the two keyed hash states
// prepared once per secret and copied per message. Node's createHmac imports the key into a
// KeyObject on every call, which cost more than the hashing itself at thousands of signatures/s.
const BLOCK = 64;
interface Pads {
  inner: crypto.Hash;
  outer: crypto.Hash;
}
const padCache = new Map<string, Pads>();
function padsOf(secret: string): Pads {
  let pads = padCache.get(secret);
  if (!pads) {
    if (padCache.size >= 10_000) padCache.clear();
    let key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
    if (key.length > BLOCK) key = crypto.createHash('sha256').update(key).digest();
    const ipad = Buffer.alloc(BLOCK, 0x36);
    const opad = Buffer.alloc(BLOCK, 0x5c);
    for (let i = 0; i < key.length; i++) {
      ipad[i]! ^= key[i]!;
      opad[i]! ^= key[i]!;
    }
    pads = {
      inner: crypto.createHash('sha256').update(ipad),
      outer: crypto.createHash('sha256').update(opad),
    };
    padCache.set(secret, pads);
  }
  return pads;
}

/** HMAC-SHA256 of `message` under a `whsec_` (or plain base64) secret. */
export function hmacSha256(secret: string, message: string): Buffer {
  const { inner, outer } = padsOf(secret);
  const innerDigest = inner.copy().update(message, 'utf8').digest();
  return outer.copy().update(innerDigest).digest();
}

/** One `v1,<base64>` signature. */
export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  return `v1,${hmacSha256(secret, `${id}.${timestampSeconds}.${body}`).toString('base64')}`;
}

/** The three headers for a delivery, signed with every secret given (old and new during rotation). */
export function webhookHeaders(
  secrets: string[],
  id: string,
  timestampSeconds: number,
  body: string,
): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': secrets.map((s) => sign(s, id, timestampSeconds, body)).join(' '),
  };
}

/**
 * Receiver-side check: true when any signature in the header matches and the timestamp is within
 * `toleranceSeconds` of `nowSeconds`. Exported for receivers and our tests.
 */
export function verifyWebhook(
  secret: string,
  headers: { id: string; timestamp: string; signature: string },
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const ts = Number(headers.timestamp);
  if (!Number.isInteger(ts) || Math.abs(nowSeconds - ts) > toleranceSeconds) return false;
  const expected = Buffer.from(sign(secret, headers.id, ts, body));
  return headers.signature.split(' ').some((candidate) => {
    const c = Buffer.from(candidate);
    return c.length === expected.length && crypto.timingSafeEqual(c, expected);
  });
}

/** Headers the user may not set, because we set them (`traceparent`/`tracestate`: W3C trace context). */
export const RESERVED_HEADERS = [
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'user-agent',
  'traceparent',
  'tracestate',
];
