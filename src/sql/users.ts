// SQL for users. Every function takes a Queryable (pool or transaction client).
import type { Queryable } from '../db/pool.ts';

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

/** Moves to a new signing key version; the previous one stays valid for `graceSeconds`. */
export async function rotateSigningKey(db: Queryable, id: string, graceSeconds: number): Promise<UserRow> {
  const { rows } = await db.query<UserRow>(
    `UPDATE users
        SET signing_prev_version = signing_key_version,
            signing_prev_valid_until = now() + make_interval(secs => $2),
            signing_key_version = signing_key_version + 1
      WHERE id = $1
      RETURNING *`,
    [id, graceSeconds],
  );
  return rows[0]!;
}

/** Signing key versions valid now for many users at once (the scheduler signs with each). */
export async function signingVersionsFor(db: Queryable, userIds: string[]): Promise<Map<string, number[]>> {
  const { rows } = await db.query<{ id: string; versions: number[] }>(
    `SELECT id,
            CASE WHEN signing_prev_version IS NOT NULL AND signing_prev_valid_until > now()
                 THEN ARRAY[signing_key_version, signing_prev_version]
                 ELSE ARRAY[signing_key_version] END AS versions
       FROM users WHERE id = ANY($1::uuid[])`,
    [userIds],
  );
  return new Map(rows.map((r) => [r.id, r.versions]));
}
