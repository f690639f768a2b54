// SQL for users. Every function takes a Queryable (pool or transaction client).
import type { Queryable } from '../db/pool.ts';
import { signingVersions } from './fragments.ts';

export interface UserRow {
  id: string;
  email: string;
  token_version: number;
  signing_key_version: number;
  signing_prev_version: number | null;
  signing_prev_valid_until: Date | null;
  created_at: Date;
}

/** Returns the user with this (normalised) email, creating it on first sign-in. */
export async function upsertUserByEmail(db: Queryable, email: string): Promise<UserRow> {
  const { rows } = await db.query<UserRow>(
    `INSERT INTO users (email) VALUES ($1)
     ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email
     RETURNING *`,
    [email],
  );
  return rows[0]!;
}

export async function findUserById(db: Queryable, id: string): Promise<UserRow | null> {
  const { rows } = await db.query<UserRow>(`SELECT * FROM users WHERE id = $1::uuid`, [id]);
  return rows[0] ?? null;
}

/** Invalidates every session token issued so far for this user. */
export async function bumpTokenVersion(db: Queryable, id: string): Promise<void> {
  await db.query(`UPDATE users SET token_version = token_version + 1 WHERE id = $1`, [id]);
}

/** The signing key versions that sign now (newest first; the previous one only within its grace). */
export interface SigningKeys {
  id: string;
  versions: number[];
  previous_valid_until: Date | null;
}

// Validity is judged on the database clock, like every other deadline.
const SIGNING_KEYS = `id, ${signingVersions('users')} AS versions, signing_prev_valid_until AS previous_valid_until`;

export async function signingKeys(db: Queryable, id: string): Promise<SigningKeys | null> {
  const { rows } = await db.query<SigningKeys>(`SELECT ${SIGNING_KEYS} FROM users WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/** Moves to a new signing key version; the previous one stays valid for `graceSeconds`. */
export async function rotateSigningKey(
  db: Queryable,
  id: string,
  graceSeconds: number,
): Promise<SigningKeys> {
  const { rows } = await db.query<SigningKeys>(
    `UPDATE users
        SET signing_prev_version = signing_key_version,
            signing_prev_valid_until = now() + make_interval(secs => $2),
            signing_key_version = signing_key_version + 1
      WHERE id = $1
      RETURNING ${SIGNING_KEYS}`,
    [id, graceSeconds],
  );
  return rows[0]!;
}
