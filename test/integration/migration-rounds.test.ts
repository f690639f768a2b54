// Migration 0010 (rounds of attempts) on a database that already holds re-driven jobs: the rounds it
// infers for existing executions and jobs, and its Down, which restores the schema before it.
import fs from 'node:fs';
import crypto from 'node:crypto';
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { withDatabase } from '../../src/db/embedded.ts';
import { MIGRATIONS_DIR, MIGRATIONS_TABLE } from '../../src/db/schemaVersion.ts';
import { asAdmin } from '../helpers/db.ts';

const ROUNDS = '0010_execution_rounds';
const files = fs
  .readdirSync(MIGRATIONS_DIR)
  .filter((f) => f.endsWith('.sql'))
  .sort();
const before = files.filter((f) => f < ROUNDS).length;
const fromRounds = files.length - before;

const name = `${inject('dbPrefix')}m${crypto.randomBytes(5).toString('hex')}`;
let url: string;
let client: pg.Client;

const migrate = (direction: 'up' | 'down', count?: number) =>
  runner({
    databaseUrl: url,
    dir: MIGRATIONS_DIR,
    direction,
    ...(count === undefined ? {} : { count }),
    migrationsTable: MIGRATIONS_TABLE,
    singleTransaction: true,
    checkOrder: true,
    log: () => {},
  });

beforeAll(async () => {
  await asAdmin((c) => c.query(`CREATE DATABASE ${name}`));
  url = withDatabase(inject('adminUrl'), name);
  await migrate('up', before);
  client = new pg.Client({ connectionString: url });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await asAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
});

/** A job as it stood before rounds, with its executions' (attempt, outcome) in write order. */
async function oldJob(
  userId: string,
  state: { status: string; attempts: number },
  executions: [number, string][],
): Promise<string> {
  const running = state.status === 'running';
  const terminal = ['succeeded', 'failed', 'cancelled'].includes(state.status);
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO jobs (user_id, method, url, fire_at, next_attempt_at, timeout_ms, retry_strategy, max_attempts,
                       base_delay_ms, max_delay_ms, status, attempts, lease_token, lease_owner, lease_expires_at,
                       completed_at)
     VALUES ($1, 'POST', 'https://example.com/', now(), now(), 1000, 'linear', 3, 0, 0, $2, $3,
             CASE WHEN $4 THEN gen_random_uuid() END, CASE WHEN $4 THEN 'w' END,
             CASE WHEN $4 THEN now() + interval '1 minute' END, CASE WHEN $5 THEN now() END)
     RETURNING id`,
    [userId, state.status, state.attempts, running, terminal],
  );
  const id = rows[0]!.id;
  for (const [attempt, outcome] of executions) {
    await client.query(`INSERT INTO job_executions (job_id, attempt, outcome) VALUES ($1, $2, $3)`, [
      id,
      attempt,
      outcome,
    ]);
  }
  return id;
}

describe(`migration ${ROUNDS}`, () => {
  it('infers rounds from attempt numbers going down; a job re-driven since is in the next round', async () => {
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO users (email) VALUES ('old@example.com') RETURNING id`,
    );
    const u = rows[0]!.id;
    const jobs = {
      // failed 3 times, re-driven, succeeded
      redrivenSucceeded: await oldJob(u, { status: 'succeeded', attempts: 1 }, [
        [1, 'failed'],
        [2, 'failed'],
        [3, 'failed'],
        [1, 'succeeded'],
      ]),
      // re-driven twice
      twice: await oldJob(u, { status: 'succeeded', attempts: 1 }, [
        [1, 'failed'],
        [2, 'failed'],
        [1, 'failed'],
        [2, 'failed'],
        [1, 'succeeded'],
      ]),
      // re-driven, not run yet; and re-driven, its first attempt running
      redrivenWaiting: await oldJob(u, { status: 'scheduled', attempts: 0 }, [
        [1, 'failed'],
        [2, 'failed'],
      ]),
      redrivenRunning: await oldJob(u, { status: 'running', attempts: 1 }, [[1, 'failed']]),
      // never re-driven: a lost attempt, then a late superseded result of it after attempt 2 began
      lateResult: await oldJob(u, { status: 'retrying', attempts: 2 }, [
        [1, 'lost'],
        [2, 'failed'],
        [1, 'superseded'],
      ]),
      secondAttemptRunning: await oldJob(u, { status: 'running', attempts: 2 }, [[1, 'failed']]),
      fresh: await oldJob(u, { status: 'scheduled', attempts: 0 }, []),
    };

    await migrate('up');

    const rounds = async (id: string) => ({
      job: (await client.query(`SELECT round FROM jobs WHERE id = $1`, [id])).rows[0].round as number,
      executions: (
        await client.query(`SELECT round, attempt FROM job_executions WHERE job_id = $1 ORDER BY id`, [id])
      ).rows.map((r) => `${r.round}.${r.attempt}`),
    });
    expect(await rounds(jobs.redrivenSucceeded)).toEqual({
      job: 2,
      executions: ['1.1', '1.2', '1.3', '2.1'],
    });
    expect(await rounds(jobs.twice)).toEqual({ job: 3, executions: ['1.1', '1.2', '2.1', '2.2', '3.1'] });
    expect(await rounds(jobs.redrivenWaiting)).toEqual({ job: 2, executions: ['1.1', '1.2'] });
    expect(await rounds(jobs.redrivenRunning)).toEqual({ job: 2, executions: ['1.1'] });
    expect(await rounds(jobs.lateResult)).toEqual({ job: 1, executions: ['1.1', '1.2', '1.1'] });
    expect(await rounds(jobs.secondAttemptRunning)).toEqual({ job: 1, executions: ['1.1'] });
    expect(await rounds(jobs.fresh)).toEqual({ job: 1, executions: [] });
  });

  it('Down restores the schema before it, and Up applies again', async () => {
    const shape = async () =>
      (
        await client.query(
          `SELECT table_name || '.' || column_name AS c FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name IN ('jobs', 'job_executions')
           UNION ALL
           SELECT indexname || ': ' || indexdef FROM pg_indexes WHERE tablename = 'job_executions'
           UNION ALL
           SELECT conname || ': ' || pg_get_constraintdef(oid) FROM pg_constraint
            WHERE conrelid IN ('jobs'::regclass, 'job_executions'::regclass)
           ORDER BY 1`,
        )
      ).rows.map((r) => r.c as string);
    await migrate('down', fromRounds);
    const without = await shape();
    expect(without.some((c) => c.includes('round'))).toBe(false);
    expect(without).toContain(
      'job_executions_job_attempt_idx: CREATE INDEX job_executions_job_attempt_idx ON public.job_executions USING btree (job_id, attempt, id)',
    );
    await migrate('up');
    expect((await shape()).filter((c) => c.includes('round')).length).toBeGreaterThan(0);
    await migrate('down', fromRounds);
    expect(await shape()).toEqual(without);
  });
});
