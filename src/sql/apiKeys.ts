// SQL for API keys. Every query is scoped to the owning user, except the lookup by hash that
// authenticates a request.
import type { Queryable } from '../db/pool.ts';
import { AUTH_CHANNEL } from './fragments.ts';
import { sql } from './sql.ts';

export interface ApiKeyRow {
  id: string;
  name: string;
  scopes: string[];
  prefix: string;
  last_four: string;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
}

const COLUMNS = sql`id, name, scopes, prefix, last_four, created_at, expires_at, last_used_at`;

export async function insertApiKey(
  db: Queryable,
  k: {
    userId: string;
    name: string;
    scopes: string[];
    hash: Buffer;
    prefix: string;
    lastFour: string;
    expiresAt: Date | null;
  },
): Promise<ApiKeyRow> {
  const { rows } = await db.query<ApiKeyRow>(
    sql`INSERT INTO api_keys (user_id, name, scopes, key_hash, prefix, last_four, expires_at)
        VALUES (${k.userId}, ${k.name}, ${k.scopes}, ${k.hash}, ${k.prefix}, ${k.lastFour}, ${k.expiresAt})
        RETURNING ${COLUMNS}`,
  );
  return rows[0]!;
}

/** The user's keys that still work (not revoked, not expired), newest first. */
export async function listApiKeys(db: Queryable, userId: string): Promise<ApiKeyRow[]> {
  const { rows } = await db.query<ApiKeyRow>(
    sql`SELECT ${COLUMNS} FROM api_keys
         WHERE user_id = ${userId} AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
         ORDER BY created_at DESC, id`,
  );
  return rows;
}

/** Keys the user holds that still work, counted (for the per-user limit). */
export async function countApiKeys(db: Queryable, userId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM api_keys
         WHERE user_id = ${userId} AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
  );
  return rows[0]!.n;
}

/** Revokes a key of this user; false when there is no such live key. */
export async function revokeApiKey(db: Queryable, userId: string, id: string): Promise<boolean> {
  // The NOTIFY is sent at commit, with the revocation: every API server drops the cached key then.
  const { rowCount } = await db.query(
    sql`WITH rev AS (
          UPDATE api_keys SET revoked_at = now()
           WHERE id = ${id} AND user_id = ${userId} AND revoked_at IS NULL
          RETURNING id
        )
        SELECT pg_notify(${AUTH_CHANNEL}, 'key:' || rev.id) FROM rev`,
  );
  return rowCount === 1;
}

export interface KeyPrincipal {
  key_id: string;
  key_hash: Buffer;
  scopes: string[];
  user_id: string;
  email: string;
  created_at: Date;
  expires_at: Date | null;
}

/**
 * Authenticates a request by key hash, in the one query the request makes anyway: the key must be
 * neither revoked nor expired (judged by the database clock, so revocation is immediate on every
 * replica). `stale` says last_used_at is over a minute old (or unset): only then is it written.
 */
export async function authenticateApiKey(
  db: Queryable,
  hash: Buffer,
): Promise<(KeyPrincipal & { stale: boolean }) | null> {
  const { rows } = await db.query<KeyPrincipal & { stale: boolean }>(
    sql`SELECT k.id AS key_id, k.key_hash, k.scopes, u.id AS user_id, u.email, u.created_at, k.expires_at,
               (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute') AS stale
          FROM api_keys k JOIN users u ON u.id = k.user_id
         WHERE k.key_hash = ${hash} AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())`.named(
      'djs_api_key_auth_v2',
    ),
  );
  return rows[0] ?? null;
}

/** Records a key's use; at most once a minute per key (the WHERE makes racing requests write once). */
export async function touchApiKey(db: Queryable, keyId: string): Promise<void> {
  await db.query(
    sql`UPDATE api_keys SET last_used_at = now()
         WHERE id = ${keyId} AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`.named(
      'djs_api_key_touch',
    ),
  );
}
