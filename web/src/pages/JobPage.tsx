// One job: its request (credentials masked), the retry policy and schedule, every attempt as a
// timeline, and cancel / re-drive / clone. Refreshes itself while the job is live.
import { useState } from 'preact/hooks';
import { ApiError, api } from '../api.ts';
import type { CancelledJob, Execution, ExecutionPage, Job } from '../types.ts';
import { navigate } from '../router.ts';
import { RetryPreview } from '../requestFields.tsx';
import { formatDuration } from '../time.ts';
import {
  Empty,
  ErrorBox,
  LIVE,
  Loading,
  Masked,
  StatusChip,
  Time,
  isSensitiveHeader,
  usePolling,
} from '../ui.tsx';

const SNIPPET = 600;

/** Every attempt (the API pages them; a job has at most 25 attempts plus rescues). */
async function allExecutions(id: string, signal: AbortSignal): Promise<Execution[]> {
  const out: Execution[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 10; i++) {
    const p: ExecutionPage = await api(
      'GET',
      `/v1/jobs/${id}/executions?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      { signal },
    );
    out.push(...p.data);
    if (!p.next_cursor) break;
    cursor = p.next_cursor;
  }
  return out;
}

function ResponseSnippet({ e }: { e: Execution }) {
  if (e.response_body === null || e.response_body === '') return null;
  if (e.response_body_encoding === 'base64')
    return (
      <p class="muted">
        Binary response body ({Math.floor((e.response_body.length * 3) / 4)} bytes
        {e.response_truncated ? ', truncated' : ''}; the API returns it as base64).
      </p>
    );
  const long = e.response_body.length > SNIPPET;
  return (
    <details open={e.outcome !== 'succeeded'}>
      <summary>Response body{e.response_truncated ? ' (truncated by the server)' : ''}</summary>
      <pre class="body" tabIndex={0}>
        {long ? `${e.response_body.slice(0, SNIPPET)}…` : e.response_body}
      </pre>
    </details>
  );
}

export function JobPage({ id }: { id: string }) {
  const [job, setJob] = useState<Job | null>(null);
  const [executions, setExecutions] = useState<Execution[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [tick, setTick] = useState(0);
  // The cancel stopped an attempt in flight: its request may have reached the target already.
  const [inFlightCancelled, setInFlightCancelled] = useState(false);

  usePolling(
    async (signal) => {
      try {
        const [j, ex] = await Promise.all([
          api<Job>('GET', `/v1/jobs/${id}`, { signal }),
          allExecutions(id, signal),
        ]);
        setJob(j);
        setExecutions(ex);
        setError(null);
      } catch (err) {
        if ((err as Error).name !== 'AbortError') setError(err);
        throw err;
      }
    },
    () => {
      // Not found (deleted, another user's, a bad link): nothing to wait for.
      if (error instanceof ApiError && error.status === 404) return null;
      if (!job || !LIVE.has(job.status)) return job ? null : 5000;
      const next = job.next_attempt_at ? new Date(job.next_attempt_at).getTime() - Date.now() : 0;
      return job.status === 'running' || next < 60_000 ? 1000 : 10_000;
    },
    [id, tick],
  );

  const act = async (what: 'cancel' | 'retry') => {
    setBusy(true);
    setActionError(null);
    try {
      const answer = await api<Job | CancelledJob>('POST', `/v1/jobs/${id}/${what}`);
      setJob(answer);
      setInFlightCancelled('attempt_in_flight' in answer && answer.attempt_in_flight);
      setTick((t) => t + 1); // restart polling: a re-driven job is live again
    } catch (err) {
      setActionError(err);
    } finally {
      setBusy(false);
    }
  };

  if (!job) return error ? <ErrorBox error={error} /> : <Loading />;
  const headers = Object.entries(job.request.headers);
  return (
    <section>
      <p>
        <a href="/jobs">← Jobs</a>
      </p>
      <div class="page-head">
        <h1>
          {job.name ?? 'Unnamed job'} <StatusChip status={job.status} />
        </h1>
        <div class="actions">
          {LIVE.has(job.status) ? (
            <button
              type="button"
              class="danger"
              disabled={busy}
              onClick={() => {
                if (
                  confirm(
                    job.status === 'running'
                      ? 'Cancel this job? The request in flight is aborted.'
                      : 'Cancel this job?',
                  )
                )
                  void act('cancel');
              }}
            >
              Cancel job
            </button>
          ) : null}
          {job.status === 'failed' ? (
            <button type="button" class="primary" disabled={busy} onClick={() => void act('retry')}>
              Re-drive
            </button>
          ) : null}
          <button type="button" onClick={() => navigate(`/jobs/new?clone=${job.id}`)}>
            Clone
          </button>
        </div>
      </div>
      <ErrorBox error={actionError} />
      <ErrorBox error={error} />
      {inFlightCancelled ? (
        <p class="notice" role="status">
          Cancelled while an attempt was in flight: its request may already have reached the target.
        </p>
      ) : null}
      <dl class="facts">
        <dt>Id</dt>
        <dd>
          <code>{job.id}</code>
        </dd>
        <dt>Fire time</dt>
        <dd>
          <Time iso={job.fire_at} rel />
        </dd>
        {job.next_attempt_at ? (
          <>
            <dt>{job.status === 'retrying' ? 'Next retry' : 'Next attempt'}</dt>
            <dd>
              <Time iso={job.next_attempt_at} rel />
            </dd>
          </>
        ) : null}
        {job.completed_at ? (
          <>
            <dt>Finished</dt>
            <dd>
              <Time iso={job.completed_at} />
            </dd>
          </>
        ) : null}
        <dt>Attempts</dt>
        <dd>
          {job.attempts} of {job.retry.max_attempts}
          {job.round > 1 ? ` (round ${job.round}: re-driven ${job.round - 1}×)` : ''}
        </dd>
        <dt>Timeout</dt>
        <dd>{formatDuration(job.timeout_ms)}</dd>
        {job.schedule_id ? (
          <>
            <dt>Schedule</dt>
            <dd>
              <a href={`/schedules/${job.schedule_id}`}>occurrence</a> for <Time iso={job.scheduled_for} />
            </dd>
          </>
        ) : null}
        <dt>Created</dt>
        <dd>
          <Time iso={job.created_at} />
        </dd>
      </dl>

      <h2>Request</h2>
      <p>
        <code>{job.request.method}</code> <code class="url">{job.request.url}</code>
      </p>
      {headers.length ? (
        <table class="kv">
          <caption class="sr-only">Request headers</caption>
          <tbody>
            {headers.map(([k, v]) => (
              <tr>
                <th scope="row">{k}</th>
                <td>
                  {isSensitiveHeader(k) ? <Masked value={v} label={`value of ${k}`} /> : <code>{v}</code>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="muted">No headers besides the signature headers the scheduler adds.</p>
      )}
      {job.request.body !== null ? (
        <pre class="body" tabIndex={0}>
          {job.request.body}
        </pre>
      ) : null}

      <h2>Retry policy</h2>
      <p>
        {job.retry.strategy}, up to {job.retry.max_attempts} attempts, base delay{' '}
        {formatDuration(job.retry.base_delay_ms)}, capped at {formatDuration(job.retry.max_delay_ms)}.
      </p>
      <RetryPreview policy={job.retry} title="Computed retry schedule" />

      <h2>Attempts</h2>
      {executions.length === 0 ? (
        <Empty title={LIVE.has(job.status) ? 'No attempt yet.' : 'This job made no attempt.'}>
          {job.status === 'scheduled' ? (
            <p>
              It fires at <Time iso={job.next_attempt_at ?? job.fire_at} />; this page updates by itself.
            </p>
          ) : null}
        </Empty>
      ) : (
        <ol class="timeline">
          {/* The API lists attempts in the order they happened: by round, then attempt number. */}
          {executions.map((e, i, all) => (
            <li class={`attempt outcome-${e.outcome}`}>
              {i > 0 && e.round !== all[i - 1]!.round ? (
                <p class="redriven">Re-driven: round {e.round}, attempts counted afresh</p>
              ) : null}
              <div class="attempt-head">
                <strong>
                  {job.round > 1 ? `Round ${e.round}, attempt ${e.attempt}` : `Attempt ${e.attempt}`}
                </strong>{' '}
                <StatusChip status={e.outcome} />
                {e.status_code !== null ? <span> HTTP {e.status_code}</span> : null}
                {e.duration_ms !== null ? (
                  <span class="muted"> · {formatDuration(e.duration_ms)}</span>
                ) : null}
                <span class="muted">
                  {' '}
                  · <Time iso={e.started_at ?? e.finished_at} />
                </span>
              </div>
              {e.error ? <p class="attempt-error">{e.error}</p> : null}
              <ResponseSnippet e={e} />
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
