// What the scheduler's services report as they work. Tests wait on these (as graphile-worker's tests
// wait on its `events`) instead of polling metrics or sleeping; operators can log them.
import { EventEmitter } from 'node:events';
import type { CleanerResult } from './cleaner.ts';

export interface SchedulerEventMap {
  /** After every claim query: how many jobs it took. */
  claimed: [{ count: number }];
  /** After every heartbeat: leases still held, and leases found lost (their requests are aborted). */
  heartbeat: [{ held: number; lost: number }];
  /** After every reaper pass: jobs whose expired lease it took back. */
  reaped: [{ rescued: number }];
  /** After every retention pass: jobs deleted per final status. */
  cleaned: [{ deleted: CleanerResult }];
}

export class SchedulerEvents extends EventEmitter<SchedulerEventMap> {}
