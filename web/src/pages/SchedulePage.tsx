// One schedule: its rule and next runs, pause/resume, edit, delete, and its occurrences (jobs).
import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { Job, JobPage, Schedule } from '../types.ts';
import { navigate } from '../router.ts';
import { formatUtc } from '../time.ts';
import { Empty, ErrorBox, LIVE, Loading, StatusChip, Time, usePolling } from '../ui.tsx';
import { ScheduleForm } from './ScheduleForm.tsx';

export function SchedulePage({ id, edit }: { id: string; edit: boolean }) {
  const [s, setS] = useState<Schedule | null>(null);
  const [jobs, setJobs] = useState<Job[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  usePolling(
    async (signal) => {
      try {
        const [sched, occ] = await Promise.all([
          api<Schedule>('GET', `/v1/schedules/${id}`, { signal }),
          api<JobPage>('GET', `/v1/schedules/${id}/jobs?limit=20`, { signal }),
        ]);
        if (!edit) setS(sched);
        else setS((old) => old ?? sched);
        setJobs(occ.data);
        setError(null);
      } catch (err) {
        if ((err as Error).name !== 'AbortError') setError(err);
        throw err;
      }
    },
    () => (edit ? null : jobs.some((j) => j.status === 'running' || j.status === 'retrying') ? 2000 : 10_000),
    [id, edit],
  );

  const act = async (f: () => Promise<void>) => {
    setBusy(true);
    setActionError(null);
    try {
      await f();
    } catch (err) {
      setActionError(err);
    } finally {
      setBusy(false);
    }
  };

  if (!s) return error ? <ErrorBox error={error} /> : <Loading />;
  if (edit)
    return (
      <section>
        <p>
          <a href={`/schedules/${id}`}>← Schedule</a>
        </p>
        <h1>Edit {s.name ?? 'schedule'}</h1>
        <ScheduleForm
          existing={s}
          onSaved={(saved) => {
            setS(saved);
            navigate(`/schedules/${id}`);
          }}
        />
      </section>
    );
  return (
    <section>
      <p>
        <a href="/schedules">← Schedules</a>
      </p>
      <div class="page-head">
        <h1>
          {s.name ?? 'Unnamed schedule'} <StatusChip status={s.paused ? 'paused' : s.status} />
        </h1>
        <div class="actions">
          {s.paused ? (
            <button
              type="button"
              class="primary"
              disabled={busy}
              onClick={() =>
                void act(async () => setS(await api<Schedule>('POST', `/v1/schedules/${id}/resume`)))
              }
            >
              Resume
            </button>
          ) : (
            <button
              type="button"
              disabled={busy}
              onClick={() =>
                void act(async () => setS(await api<Schedule>('POST', `/v1/schedules/${id}/pause`)))
              }
            >
              Pause
            </button>
          )}
          <a class="button" href={`/schedules/${id}?edit=1`}>
            Edit
          </a>
          <button
            type="button"
            class="danger"
            disabled={busy}
            onClick={() => {
              if (
                confirm(
                  'Delete this schedule? Its pending occurrence is cancelled; past occurrences stay as jobs.',
                )
              )
                void act(async () => {
                  await api('DELETE', `/v1/schedules/${id}`);
                  navigate('/schedules');
                });
            }}
          >
            Delete
          </button>
        </div>
      </div>
      <ErrorBox error={actionError} />
      <ErrorBox error={error} />
      <dl class="facts">
        <dt>Cron</dt>
        <dd>
          <code>{s.cron}</code> in {s.timezone}
        </dd>
        <dt>Request</dt>
        <dd>
          <code>{s.request.method}</code> <code class="url">{s.request.url}</code>
        </dd>
        <dt>Overlap</dt>
        <dd>{s.overlap === 'skip' ? 'skip a run while the previous one is live' : 'runs may overlap'}</dd>
        <dt>Missed runs</dt>
        <dd>{s.misfire.replace('_', ' ')}</dd>
        {s.skipped_count ? (
          <>
            <dt>Skipped</dt>
            <dd>{s.skipped_count}</dd>
          </>
        ) : null}
      </dl>
      <h2>Next runs</h2>
      {s.paused ? (
        <p class="muted">Paused: nothing fires until you resume.</p>
      ) : s.next_runs.length === 0 ? (
        <p class="muted">No more runs.</p>
      ) : (
        <ol>
          {s.next_runs.map((r) => (
            <li>
              <time dateTime={r.at} title={formatUtc(r.at)}>
                {r.local.replace('T', ' ')} ({s.timezone})
              </time>{' '}
              <span class="muted">
                = your time <Time iso={r.at} />
              </span>
            </li>
          ))}
        </ol>
      )}
      <h2>Occurrences</h2>
      {jobs.length === 0 ? (
        <Empty title="No occurrences yet.">
          <p>Each run becomes an ordinary job, listed here and under Jobs.</p>
        </Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Occurrences, newest first</caption>
            <thead>
              <tr>
                <th scope="col">For</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((j) => (
                <tr key={j.id}>
                  <td>
                    <a href={`/jobs/${j.id}`}>
                      <Time iso={j.scheduled_for ?? j.fire_at} />
                    </a>
                  </td>
                  <td>
                    <StatusChip status={j.status} />
                    {LIVE.has(j.status) && j.next_attempt_at ? (
                      <span class="muted">
                        {' '}
                        <Time iso={j.next_attempt_at} rel />
                      </span>
                    ) : null}
                  </td>
                  <td>{j.attempts}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
