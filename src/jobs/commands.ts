// The owner-scoped commands on an existing job: cancel it, re-drive it once it failed.
import type { Pool } from '../db/pool.ts';
import { fail, isUuid, notFound } from '../errors.ts';
import * as jobsSql from '../sql/jobs.ts';
import type { Admission } from './admission.ts';
import { jobJson } from './representation.ts';

export class JobCommands {
  constructor(
    private readonly pool: Pool,
    private readonly admission: Admission,
  ) {}

  /**
   * Cancels a live job. Whichever commits first wins: a result written before the cancel makes it a
   * 409 (`before` is read under the row lock, so it is the committed status); a cancel before the
   * result wins, and `attempt_in_flight` says an attempt was running then: its request may already
   * have reached the target (its execution is recorded as `cancelled`, whatever the target answered).
   */
  async cancel(userId: string, id: string) {
    if (!isUuid(id)) throw notFound('job');
    const r = await jobsSql.cancelJob(this.pool, userId, id);
    if (!r) throw notFound('job');
    if (r.before === 'succeeded' || r.before === 'failed') {
      throw fail(
        'job_finished',
        `the job already ${r.before === 'succeeded' ? 'succeeded' : 'failed'}; it cannot be cancelled`,
      );
    }
    return { ...jobJson(r.job), attempt_in_flight: r.before === 'running' };
  }

  /** Re-drives a failed job: it becomes active again, so it counts like a create (rate and quota). */
  async redrive(userId: string, id: string) {
    if (!isUuid(id)) throw notFound('job');
    const notFailed = (status: string) =>
      fail('job_not_failed', `only a failed job can be re-driven; this one is ${status}`);
    const before = await jobsSql.jobStatus(this.pool, userId, id);
    if (!before) throw notFound('job');
    if (before !== 'failed') throw notFailed(before);
    await this.admission.admitOne(userId);
    const row = await jobsSql.redriveJob(this.pool, userId, id);
    if (!row) {
      // Changed under us (re-driven by a concurrent request, or deleted by retention).
      const status = await jobsSql.jobStatus(this.pool, userId, id);
      if (!status) throw notFound('job');
      throw notFailed(status);
    }
    this.admission.admitted(userId);
    return jobJson(row);
  }
}
