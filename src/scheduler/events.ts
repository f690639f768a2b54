// What the scheduler's services report as they work, in one typed map (as graphile-worker's
// `events`). Tests wait on these instead of polling the database or sleeping; the Prometheus metrics
// are derived from them in one place (metricsFromEvents.ts); operators can log them. A service emits
// here and nowhere else (service.ts); what the rest of the scheduler must do on its word (abort a
// request, wake the claim loop) is a callback in its deps, not an event.
import { EventEmitter } from 'node:events';
import type { Outcome } from '../jobs/stateMachine.ts';
import type { FinishedStatus } from '../sql/retention.ts';
import type { CleanerResult } from './cleaner.ts';
import type { SkipReason } from './occurrences.ts';
import type { RefusedLookup } from './outboundAgent.ts';

/** An attempt's result is durably written (emitted after the write's commit). */
export interface AttemptRecorded {
  jobId: string;
  round: number;
  attempt: number;
  /** The outcome recorded: the attempt's own, or `cancelled` / `superseded` when the lease was gone. */
  outcome: Outcome;
  /**
   * The job's status after the write: what the retry decision chose, `cancelled` when the user
   * cancelled during this attempt, null when the lease was lost to the reaper (the job moved on
   * without this result).
   */
  status: 'succeeded' | 'retrying' | 'failed' | 'cancelled' | null;
}

/**
 * A schedule's planning wrote something (emitted after its transaction's commit: the claim's, or a
 * repair pass's).
 */
export type OccurrencePlanned =
  /**
   * An occurrence job for `scheduledFor` (or found already there: the insert skips a fire time that
   * has its occurrence). The insert returns no ids, hence no job id.
   */
  | { kind: 'created'; scheduleId: string; scheduledFor: Date; catchUp: boolean }
  /** A claimed occurrence that will not run: its job is cancelled, its execution says why. */
  | { kind: 'skipped'; scheduleId: string; scheduledFor: Date; jobId: string; reason: SkipReason }
  /** `count` missed fire times that get no job at all (the misfire policy; counted as skipped). */
  | { kind: 'missed'; scheduleId: string; count: number };

export interface SchedulerEventMap {
  /** After every claim query: how many jobs it took. */
  claimed: [{ count: number }];
  /** A due job could not be claimed twice in a row (another scheduler holds it): looking again soon. */
  dueNotClaimed: [{ retryInMs: number }];
  /** The number of requests in flight changed (a job was dispatched, or its request settled). */
  inFlight: [{ count: number }];
  /**
   * A request ended and the retry decision was made (its result is not written yet):
   * `handed_back` when stop() interrupted it. `lateMs`: sent this long after the attempt was due.
   */
  requestEnded: [
    {
      jobId: string;
      round: number;
      attempt: number;
      outcome: Outcome | 'handed_back';
      lateMs: number;
      durationMs: number;
    },
  ];
  /** An attempt's result is durably written. */
  attemptRecorded: [AttemptRecorded];
  /** The database refused a result as received; a cleaned fallback row was stored instead. */
  resultFallback: [{ jobId: string; attempt: number }];
  /** The guarded lookup refused a target's hostname (the reason is for the server log only). */
  lookupRefused: [RefusedLookup];
  /** After every heartbeat: leases still held, and leases found lost (their requests are aborted). */
  heartbeat: [{ held: number; lost: number }];
  /** After every reaper pass: jobs whose expired lease it took back. */
  reaped: [{ rescued: number }];
  /** After each retention batch that deleted something. */
  deleted: [{ status: FinishedStatus; count: number }];
  /** After every retention pass: jobs deleted per final status. */
  cleaned: [{ deleted: CleanerResult }];
  /** A schedule's occurrence was created or skipped, or missed fire times were skipped. */
  occurrencePlanned: [OccurrencePlanned];
}

/**
 * The emitter the services share. A listener that throws never fails the service that reported
 * (a result already written must not be written again because a listener failed): the error goes to
 * `listenerFailed`, by default thrown on its own so it still surfaces as an uncaught error.
 */
export class SchedulerEvents extends EventEmitter<SchedulerEventMap> {
  constructor(
    private readonly listenerFailed: (err: unknown, event: string) => void = (err) =>
      queueMicrotask(() => {
        throw err;
      }),
  ) {
    super();
  }

  override emit<K extends keyof SchedulerEventMap>(event: K, ...payload: SchedulerEventMap[K]): boolean {
    try {
      return super.emit(event, ...(payload as never));
    } catch (err) {
      this.listenerFailed(err, event);
      return true;
    }
  }
}
