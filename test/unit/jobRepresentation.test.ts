// jobAsSeenBy: a schedule occurrence's request template (header values, body) is shown only to a
// credential that may read schedules; everything else about the job, and one-off jobs, never change.
import { describe, expect, it } from 'vitest';
import { jobAsSeenBy, jobJson, REDACTED } from '../../src/jobs/representation.ts';
import type { JobRow } from '../../src/sql/jobRows.ts';

const SCHEDULE_ID = '8b1d2c3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e';
const at = new Date('2026-11-24T09:00:00.000Z');
const row = (over: Partial<JobRow> = {}): JobRow => ({
  id: '3f6c1a52-8d0e-4b7a-9c55-2e1f0a7b9d14',
  seq: 7,
  user_id: '5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d',
  name: 'nightly report',
  method: 'POST',
  url: 'https://example.com/hook?tenant=acme',
  headers: { authorization: 'Bearer s3cret', 'content-type': 'application/json' },
  body: '{"token":"body-s3cret"}',
  fire_at: at,
  next_attempt_at: at,
  timeout_ms: 30_000,
  status: 'scheduled',
  attempts: 0,
  round: 1,
  idempotency_key: null,
  request_hash: null,
  created_at: at,
  updated_at: at,
  completed_at: null,
  schedule_id: null,
  scheduled_for: null,
  catch_up: false,
  trace_parent: null,
  retry_strategy: 'exponential',
  max_attempts: 5,
  base_delay_ms: 1000,
  max_delay_ms: 3_600_000,
  ...over,
});
const occurrence = (over: Partial<JobRow> = {}) =>
  jobJson(row({ schedule_id: SCHEDULE_ID, scheduled_for: at, ...over }));

describe('jobJson', () => {
  it('says redacted: false on every job it builds', () => {
    expect(jobJson(row()).redacted).toBe(false);
    expect(occurrence().redacted).toBe(false);
  });
});

describe('jobAsSeenBy', () => {
  it('withholds an occurrence template from a credential that may not read schedules', () => {
    const full = occurrence();
    const seen = jobAsSeenBy(full, false);
    expect(seen.request).toEqual({
      method: 'POST',
      url: 'https://example.com/hook?tenant=acme',
      headers: { authorization: REDACTED, 'content-type': REDACTED },
      body: null,
    });
    expect(REDACTED).toBe('[redacted]');
    expect(seen.redacted).toBe(true);
    // Everything else is the job as it is: status, times, attempts, schedule_id.
    const { request: _r1, redacted: _d1, ...rest } = seen;
    const { request: _r2, redacted: _d2, ...fullRest } = full;
    expect(rest).toEqual(fullRest);
    expect(seen.schedule_id).toBe(SCHEDULE_ID);
    expect(JSON.stringify(seen)).not.toContain('s3cret');
  });

  it('never changes the job it was given', () => {
    const full = occurrence();
    const before = structuredClone(full);
    jobAsSeenBy(full, false);
    expect(full).toEqual(before);
  });

  it('shows an occurrence in full to a credential that may read schedules (the same object)', () => {
    const full = occurrence();
    expect(jobAsSeenBy(full, true)).toBe(full);
  });

  it('never touches a one-off job, whoever asks', () => {
    const oneOff = jobJson(row());
    expect(jobAsSeenBy(oneOff, false)).toBe(oneOff);
    expect(jobAsSeenBy(oneOff, true)).toBe(oneOff);
  });

  it('marks an occurrence without headers or body too: the client cannot tell empty from withheld otherwise', () => {
    const seen = jobAsSeenBy(occurrence({ headers: {}, body: null }), false);
    expect(seen.request).toMatchObject({ headers: {}, body: null });
    expect(seen.redacted).toBe(true);
  });

  it('keeps header names that are Object.prototype names as plain own keys', () => {
    const headers = JSON.parse('{"__proto__":"p-s3cret","constructor":"c-s3cret","x":"y"}') as Record<
      string,
      string
    >;
    const seen = jobAsSeenBy(occurrence({ headers }), false);
    expect(Object.keys(seen.request.headers)).toEqual(['__proto__', 'constructor', 'x']);
    expect(Object.getPrototypeOf(seen.request.headers)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(seen.request.headers))).toEqual(
      JSON.parse(`{"__proto__":"${REDACTED}","constructor":"${REDACTED}","x":"${REDACTED}"}`),
    );
    expect(JSON.stringify(seen)).not.toContain('s3cret');
  });
});
