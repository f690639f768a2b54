// SQL for users. Every function takes a Queryable (pool or transaction client).
import type { Queryable } from '../db/pool.ts';
import { AUTH_CHANNEL, signingVersions } from './fragments.ts';
import { raw, sql } from './sql.ts';

export interface UserRow {
  id: string;
  email: string;
  token_version: number;
  signing_key_version: number;
  signing_prev_version: number | null;
  signing_prev_valid_until: Date | null;
  created_at: Date;
}

/** Named, not `*`: a prepared statement keeps its result type when a migration adds a column. */
const USER_COLUMNS = sql`id, email, token_version, signing_key_version, signing_prev_version, signing_prev_valid_until,
  created_at`;

/**
 * Serialises one user's quota-checked creations of one kind until the transaction ends: the count
 * and the insert that follows it then see every earlier creation, so concurrent requests cannot all
 * pass a "fewer than N" check (an advisory lock, so nothing else of the user waits on it).
 */
export async function lockUserQuota(db: Queryable, userId: string, kind: 'schedules' | 'api_keys') {
  await db.query(sql`SELECT pg_advisory_xact_lock(hashtextextended(${kind} || ':quota:' || ${userId}, 0))`);
}

/** Returns the user with this (normalised) email, creating it on first sign-in. */
export async function upsertUserByEmail(db: Queryable, email: string): Promise<UserRow> {
  const { rows } = await db.query<UserRow>(
    sql`INSERT INTO users (email) VALUES (${email})
        ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email
        RETURNING ${USER_COLUMNS}`,
  );
  return rows[0]!;
}

export async function findUserById(db: Queryable, id: string): Promise<UserRow | null> {
  // Prepared: every request with a session token runs it. Named columns keep it valid across a
  // migration that adds one (see JOB_COLUMNS in jobRows.ts).
  const { rows } = await db.query<UserRow>(
    sql`SELECT ${USER_COLUMNS} FROM users WHERE id = ${id}::uuid`.named('djs_user_by_id'),
  );
  return rows[0] ?? null;
}

/** Invalidates every session token issued so far for this user. */
export async function bumpTokenVersion(db: Queryable, id: string): Promise<void> {
  // The NOTIFY is sent at commit: every API server drops the user's cached sessions then.
  await db.query(
    sql`WITH u AS (UPDATE users SET token_version = token_version + 1 WHERE id = ${id} RETURNING id)
        SELECT pg_notify(${AUTH_CHANNEL}, 'user:' || u.id) FROM u`,
  );
}

/** The signing key versions that sign now (newest first; the previous one only within its grace). */
export interface SigningKeys {
  id: string;
  versions: number[];
  previous_valid_until: Date | null;
}

// Validity is judged on the database clock, like every other deadline.
const SIGNING_KEYS = sql`id, ${raw(signingVersions('users'))} AS versions, signing_prev_valid_until AS previous_valid_until`;

export async function signingKeys(db: Queryable, id: string): Promise<SigningKeys | null> {
  const { rows } = await db.query<SigningKeys>(sql`SELECT ${SIGNING_KEYS} FROM users WHERE id = ${id}`);
  return rows[0] ?? null;
}

/** Moves to a new signing key version; the previous one stays valid for `graceSeconds`. */
export async function rotateSigningKey(
  db: Queryable,
  id: string,
  graceSeconds: number,
): Promise<SigningKeys> {
  const { rows } = await db.query<SigningKeys>(
    sql`UPDATE users
           SET signing_prev_version = signing_key_version,
               signing_prev_valid_until = now() + make_interval(secs => ${graceSeconds}),
               signing_key_version = signing_key_version + 1
         WHERE id = ${id}
         RETURNING ${SIGNING_KEYS}`,
  );
  return rows[0]!;
}
