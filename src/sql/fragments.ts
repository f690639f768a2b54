// SQL fragments used by more than one statement, named once (as pg-boss names its shared pieces):
// a change to what "waiting" or "release the lease" means happens in one place.

/** NOTIFY channel that wakes schedulers; the payload is a due time in epoch ms (database clock). */
export const JOBS_CHANNEL = 'djs_jobs_due';
/** NOTIFY channel that tells the scheduler holding a job to abort it; the payload is the job id. */
export const CANCEL_CHANNEL = 'djs_job_cancelled';
/** Told `key:<api key id>` on a revocation and `user:<user id>` on a logout: API servers drop cached credentials. */
export const AUTH_CHANNEL = 'djs_auth_revoked';

/**
 * Jobs waiting for their next attempt (due or not). The text matches the predicate of the partial
 * indexes jobs_claimable_idx and jobs_user_waiting_idx exactly, so the planner can use them.
 */
export const WAITING = `status IN ('scheduled', 'retrying')`;

/**
 * The fence of every write about an attempt: row `j` is the job `i.id` and still carries the lease
 * token `i.lease`. A token implies status = 'running' (CHECK jobs_lease_iff_running, since 0007), and the status
 * is deliberately not tested: with `status = 'running'` in the WHERE the planner may scan the partial
 * index jobs_running_idx instead of the primary key. Its statistics call it nearly empty (analyzed
 * between bursts), but under load it holds every recent attempt as a dead entry until vacuum gets to
 * a big table: beside 1,000,000 finished jobs, recording one batch that way took 1–2 s, not ~2 ms.
 */
export const holdsLease = (j: string, i: string) => `${j}.id = ${i}.id AND ${j}.lease_token = ${i}.lease`;

/** The SET list that gives up a lease: the CHECK jobs_lease_iff_running wants token, owner and expiry cleared together. */
export const RELEASE_LEASE = `lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL, heartbeat_at = NULL`;

/** Wakes the schedulers for a job due at the timestamptz expression `dueAt`. */
export const notifyDue = (dueAt: string) =>
  `pg_notify('${JOBS_CHANNEL}', (extract(epoch FROM ${dueAt}) * 1000)::bigint::text)`;

/**
 * The signing key versions that sign deliveries now for the users row `u` (newest first): the
 * previous version too while its grace period lasts, judged on the database clock.
 */
export const signingVersions = (u: string) =>
  `CASE WHEN ${u}.signing_prev_version IS NOT NULL AND ${u}.signing_prev_valid_until > now()
        THEN ARRAY[${u}.signing_key_version, ${u}.signing_prev_version] ELSE ARRAY[${u}.signing_key_version] END`;

/**
 * The columns an attempt's verdict sets, from `i.status` (new status) and `i.delay_ms` (retry delay):
 * a retry is due after the delay, a terminal status carries its completion time.
 */
export const APPLY_VERDICT = `status = i.status,
  next_attempt_at = CASE WHEN i.status = 'retrying' THEN now() + make_interval(secs => i.delay_ms / 1000) ELSE j.next_attempt_at END,
  completed_at = CASE WHEN i.status IN ('succeeded', 'failed') THEN now() END,
  ${RELEASE_LEASE}, updated_at = now()`;
