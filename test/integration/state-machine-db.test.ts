// The database's transition rule and src/jobs/stateMachine.ts must be the same table.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
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
});
