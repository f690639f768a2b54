// SQL for magic links. Only the SHA-256 of a token is ever written or compared.
import type { Queryable } from '../db/pool.ts';
import { sql } from './sql.ts';

/** Serialises link requests for one email inside the caller's transaction (rate limit + revoke). */
export async function lockEmail(db: Queryable, email: string): Promise<void> {
  await db.query(sql`SELECT pg_advisory_xact_lock(hashtextextended('magic-link:' || ${email}, 0))`);
}

/**
 * Requests in the last hour by this email and by this client, with the age of the oldest of each (for
 * Retry-After). `ipKey` is a rateLimitKey (src/lib/clientIp.ts): an IPv4 address or an IPv6 /64 such as
 * `2001:db8:1:2::/64`, exactly as replaceLink stored it, so inet equality (address and prefix length)
 * counts every request of that client; null counts nothing.
 */
export async function recentRequestCounts(
  db: Queryable,
  email: string,
  ipKey: string | null,
): Promise<{ byEmail: number; byIp: number; emailRetryAfterS: number; ipRetryAfterS: number }> {
  const { rows } = await db.query<{ by_email: number; by_ip: number; email_retry: number; ip_retry: number }>(
    sql`WITH by_email AS (
          SELECT created_at FROM magic_links WHERE email = ${email} AND created_at > now() - interval '1 hour'
        ), by_ip AS (
          SELECT created_at FROM magic_links
           WHERE requested_ip = ${ipKey}::inet AND created_at > now() - interval '1 hour'
        )
        SELECT (SELECT count(*) FROM by_email) AS by_email,
               (SELECT count(*) FROM by_ip) AS by_ip,
               coalesce((SELECT extract(epoch FROM min(created_at) + interval '1 hour' - now())::float8
                           FROM by_email), 0) AS email_retry,
               coalesce((SELECT extract(epoch FROM min(created_at) + interval '1 hour' - now())::float8
                           FROM by_ip), 0) AS ip_retry`,
  );
  const r = rows[0]!;
  return { byEmail: r.by_email, byIp: r.by_ip, emailRetryAfterS: r.email_retry, ipRetryAfterS: r.ip_retry };
}

/** Revokes unused links of this email, then stores the new one with the client's rate-limit key. */
export async function replaceLink(
  db: Queryable,
  link: { email: string; tokenHash: Buffer; ipKey: string | null; ttlSeconds: number },
): Promise<void> {
  await db.query(
    sql`UPDATE magic_links SET revoked_at = now()
         WHERE email = ${link.email} AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()`,
  );
  await db.query(
    sql`INSERT INTO magic_links (email, token_hash, requested_ip, expires_at)
        VALUES (${link.email}, ${link.tokenHash}, ${link.ipKey}::inet, now() + make_interval(secs => ${link.ttlSeconds}))`,
  );
}

/** The email of a usable link (unused, unrevoked, unexpired), without using it up; null otherwise. */
export async function peekLink(db: Queryable, tokenHash: Buffer): Promise<string | null> {
  const { rows } = await db.query<{ email: string }>(
    sql`SELECT email FROM magic_links
         WHERE token_hash = ${tokenHash} AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()`,
  );
  return rows[0]?.email ?? null;
}

/**
 * Consumes a link atomically: exactly one caller gets its email, and only while it is unused,
 * unrevoked and unexpired.
 */
export async function consumeLink(db: Queryable, tokenHash: Buffer): Promise<string | null> {
  const { rows } = await db.query<{ email: string }>(
    sql`UPDATE magic_links SET used_at = now()
         WHERE token_hash = ${tokenHash} AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
         RETURNING email`,
  );
  return rows[0]?.email ?? null;
}
