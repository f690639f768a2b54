// Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over
// "<webhook-id>.<webhook-timestamp>.<body>" keyed by the base64 part of a `whsec_` secret.
import crypto from 'node:crypto';

function keyOf(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

/** One `v1,<base64>` signature. */
export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = crypto
    .createHmac('sha256', keyOf(secret))
    .update(`${id}.${timestampSeconds}.${body}`)
    .digest('base64');
  return `v1,${mac}`;
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

/** Headers the user may not set, because we set them. */
export const RESERVED_HEADERS = ['webhook-id', 'webhook-timestamp', 'webhook-signature', 'user-agent'];
