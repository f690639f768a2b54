// Runs claimed jobs: one outbound request each (executor), then the one retry decision (nextStep),
// then the result to the completer. Keeps what is in flight, so the heartbeater can renew its leases,
// a cancel can abort a request, and stop() can wait for the stragglers.
import { classify } from '../jobs/stateMachine.ts';
import { nextStep, type AttemptEnd } from '../jobs/retryDecision.ts';
import type { SigningSecretCache } from '../webhooks/secrets.ts';
import type { AttemptRecord } from '../sql/attempts.ts';
import type { ClaimedJob } from '../sql/scheduler.ts';
import type { Executor } from './executor.ts';
import type { ServiceDeps } from './service.ts';
import { startAttempt, withTraceHeaders, type TraceParent } from '../observability/tracing.ts';

/** Why a running request is aborted (the AbortSignal's reason). */
export const ABORT = {
  /** The scheduler stops: the job is handed back, no attempt is recorded. */
  shutdown: 'shutdown',
  /** The user cancelled the job. */
  cancelled: 'cancelled',
  /** The lease is gone (cancelled or reaped): someone else owns the job now. */
  leaseLost: 'lease lost',
} as const;

export interface DispatcherDeps extends ServiceDeps {
  executor: Executor;
  /** Where results go to be written (the completer); attemptRecorded reports each once written. */
  completer: { push(rec: AttemptRecord): void };
  secrets: SigningSecretCache;
  /** Called after each request settles, with how many are still in flight. */
  onSettled(inFlight: number): void;
}

export interface DispatcherOptions {
  /** Jitter source for retry delays; tests pass a constant to make schedules exact. Default Math.random. */
  random?: () => number;
}

interface InFlight {
  job: ClaimedJob;
  ctl: AbortController;
  done: Promise<void>;
}

export class Dispatcher {
  private readonly inFlight = new Map<string, InFlight>();

  constructor(
    private readonly deps: DispatcherDeps,
    private readonly opts: DispatcherOptions = {},
  ) {}

  get size(): number {
    return this.inFlight.size;
  }

  /** Leases of the requests in flight (the heartbeater renews them). */
  leases(): { id: string; leaseToken: string }[] {
    return [...this.inFlight.values()].map((f) => ({ id: f.job.id, leaseToken: f.job.lease_token }));
  }

  /** Aborts the job's request if it is in flight (and, when given, still under that lease). */
  abort(jobId: string, reason: (typeof ABORT)[keyof typeof ABORT], leaseToken?: string): boolean {
    const f = this.inFlight.get(jobId);
    if (!f || (leaseToken !== undefined && f.job.lease_token !== leaseToken)) return false;
    f.ctl.abort(reason);
    return true;
  }

  /** Aborts every request in flight; returns their leases. */
  abortAll(reason: (typeof ABORT)[keyof typeof ABORT]): { id: string; leaseToken: string }[] {
    const leases = this.leases();
    for (const f of this.inFlight.values()) f.ctl.abort(reason);
    return leases;
  }

  /** Resolves when every request in flight now has settled and handed its result on. */
  async settled(): Promise<void> {
    await Promise.all([...this.inFlight.values()].map((f) => f.done));
  }

  dispatch(job: ClaimedJob, claimedAt: number, claimTrace?: TraceParent | null): void {
    const { deps } = this;
    const ctl = new AbortController();
    const startedAt = performance.now();
    // Null unless tracing: the attempt's span (linked to the job's creation) and the request's.
    const trace = startAttempt(
      claimTrace,
      job.trace_parent,
      { 'djs.job.id': job.id, 'djs.attempt': job.attempts },
      job,
    );
    const headers = job.schedule_id ? { ...job.headers, ...occurrenceHeaders(job) } : job.headers;
    const done = deps.executor
      .execute(
        {
          webhookId: job.id,
          method: job.method,
          url: job.url,
          headers: withTraceHeaders(headers, trace),
          body: job.body,
          timeoutMs: job.timeout_ms,
          secrets: deps.secrets.secretsFor(job.user_id, job.signing_versions),
        },
        ctl.signal,
      )
      .then((r) => {
        trace?.requestDone(r.statusCode, r.result.kind !== 'response');
        const ended = {
          jobId: job.id,
          round: job.round,
          attempt: job.attempts,
          lateMs: Math.max(0, job.late_ms + (r.sentAt - claimedAt)),
          durationMs: r.durationMs,
        };
        if (r.result.kind === 'aborted' && r.result.reason === ABORT.shutdown) {
          trace?.end({ 'djs.outcome': 'handed_back' }, false);
          deps.events.emit('requestEnded', { ...ended, outcome: 'handed_back' });
          return; // handed back by stop()
        }
        const end: AttemptEnd =
          r.result.kind === 'aborted'
            ? { outcome: 'cancelled', retryable: false, retryAfterMs: null }
            : { ...classify(r.result), retryAfterMs: r.retryAfterMs };
        const step = nextStep(job, end, this.opts.random);
        deps.events.emit('requestEnded', { ...ended, outcome: end.outcome });
        trace?.end(
          {
            'djs.outcome': end.outcome,
            'djs.job.status': step.status,
            ...(r.statusCode !== null ? { 'http.response.status_code': r.statusCode } : {}),
          },
          end.outcome !== 'succeeded',
        );
        deps.completer.push({
          id: job.id,
          leaseToken: job.lease_token,
          round: job.round,
          attempt: job.attempts,
          newStatus: step.status,
          retryDelayMs: step.delayMs,
          outcome: end.outcome,
          statusCode: r.statusCode,
          error: r.error,
          responseBody: r.responseBody,
          responseEncoding: r.responseEncoding,
          responseTruncated: r.responseTruncated,
          startedAgoMs: performance.now() - startedAt,
          durationMs: r.durationMs,
        });
      })
      .catch((err: unknown) => {
        trace?.end({ 'djs.outcome': 'internal_error' }, true);
        deps.log.error({ err, job_id: job.id }, 'unexpected executor failure');
      })
      .finally(() => {
        this.inFlight.delete(job.id);
        deps.events.emit('inFlight', { count: this.inFlight.size });
        deps.onSettled(this.inFlight.size);
      });
    this.inFlight.set(job.id, { job, ctl, done });
    deps.events.emit('inFlight', { count: this.inFlight.size });
  }
}

/** What a receiver needs to tell a schedule's occurrences apart (each also has its own webhook-id). */
function occurrenceHeaders(job: ClaimedJob): Record<string, string> {
  return {
    'djs-schedule-id': job.schedule_id!,
    // RFC 3339 UTC: the planned time, also for a catch-up run.
    'djs-scheduled-for': job.scheduled_for!.toISOString(),
    ...(job.catch_up ? { 'djs-catch-up': 'true' } : {}),
  };
}
