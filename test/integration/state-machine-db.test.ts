// The database's transition rule and src/jobs/stateMachine.ts must be the same table.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createJob, createUser } from '../helpers/scheduler.ts';
import { canTransition, JOB_STATUSES } from '../../src/jobs/stateMachine.ts';

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});
afterAll(() => db.drop());

describe('state machine in the database', () => {
  it('allows exactly the transitions the pure module allows, for all 36 pairs', async () => {
    const { rows } = await db.pool.query<{ f: string; t: string; ok: boolean }>(
      `SELECT f, t, job_transition_allowed(f, t) AS ok FROM unnest($1::text[]) f, unnest($1::text[]) t`,
      [JOB_STATUSES],
    );
    expect(rows).toHaveLength(36);
    for (const r of rows) {
      const expected = r.f === r.t || canTransition(r.f as never, r.t as never);
      expect(r.ok, `${r.f} -> ${r.t}`).toBe(expected);
    }
  });

  // The scheduler's fenced writes match on id + lease token alone (holdsLease), which is sound only
  // if a token implies a running job: the lease is all of token, owner and expiry, or none of them.
  it('a lease is token, owner and expiry together, and only on a running job', async () => {
    const user = await createUser(db);
    const job = await createJob(db, user.id, { url: 'http://127.0.0.1:9/', delaySeconds: 3600 });
    const refused = async (set: string) => {
      const err = await db.pool.query(`UPDATE jobs SET ${set} WHERE id = $1`, [job.id]).then(
        () => null,
        (e: { constraint?: string }) => e,
      );
      return err?.constraint;
    };
    expect(await refused(`lease_token = gen_random_uuid()`)).toBe('jobs_lease_iff_running');
    expect(await refused(`lease_token = gen_random_uuid(), lease_expires_at = now()`)).toBe(
      'jobs_lease_iff_running',
    );
    expect(
      await refused(`lease_token = gen_random_uuid(), lease_owner = 'w', lease_expires_at = now()`),
    ).toBe('jobs_lease_iff_running');
    expect(await refused(`status = 'running', lease_token = gen_random_uuid(), lease_owner = 'w'`)).toBe(
      'jobs_lease_iff_running',
    );
    // The complete lease on a running job is accepted.
    expect(
      await refused(
        `status = 'running', lease_token = gen_random_uuid(), lease_owner = 'w', lease_expires_at = now()`,
      ),
    ).toBeUndefined();
  });
});
