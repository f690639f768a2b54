// The job lifecycle, pure. Migration 0002 installs the same table in Postgres and a trigger refuses
// any other transition, so every process and every hand-written UPDATE obeys it.

export const JOB_STATUSES = ['scheduled', 'running', 'retrying', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'cancelled']);

/** Allowed transitions. `running → retrying` covers retries, reaper rescues and shutdown hand-back. */
export const TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  scheduled: ['running', 'cancelled'],
  running: ['succeeded', 'retrying', 'failed', 'cancelled'],
  retrying: ['running', 'cancelled'],
  succeeded: [],
  failed: ['scheduled'], // re-drive by the user
  cancelled: [],
};

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export type Outcome =
  | 'succeeded'
  | 'failed'
  | 'timeout'
  | 'network_error'
  | 'blocked'
  | 'lost'
  | 'cancelled'
  | 'superseded'
  /** Not fired: the previous occurrence still ran (overlap skip), or it was missed (misfire skip). */
  | 'skipped';

/** What an attempt produced, before we decide what it means. */
export type AttemptResult =
  | { kind: 'response'; statusCode: number }
  | { kind: 'timeout' }
  | { kind: 'network_error' }
  /** A response that is not HTTP as we know it (e.g. status 999): like a 5xx, another try may help. */
  | { kind: 'invalid_response' }
  | { kind: 'blocked' };

/** Classifies an attempt: its execution outcome and whether another attempt may help. */
export function classify(r: AttemptResult): { outcome: Outcome; retryable: boolean } {
  switch (r.kind) {
    case 'response': {
      const s = r.statusCode;
      if (s >= 200 && s < 300) return { outcome: 'succeeded', retryable: false };
      const transient = s === 408 || s === 425 || s === 429 || s >= 500;
      return { outcome: 'failed', retryable: transient };
    }
    case 'timeout':
      return { outcome: 'timeout', retryable: true };
    case 'network_error':
      return { outcome: 'network_error', retryable: true };
    case 'invalid_response':
      return { outcome: 'failed', retryable: true };
    case 'blocked':
      return { outcome: 'blocked', retryable: false };
  }
}
