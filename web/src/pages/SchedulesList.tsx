// Schedules: each with its cron, zone, next run and state.
import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { Schedule, SchedulePage } from '../types.ts';
import { Empty, ErrorBox, Loading, StatusChip, Time, usePolling } from '../ui.tsx';

export function SchedulesList() {
  const [items, setItems] = useState<Schedule[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  usePolling(
    async (signal) => {
      try {
        const p = await api<SchedulePage>('GET', '/v1/schedules?limit=100', { signal });
        setItems(p.data);
        setNext(p.next_cursor);
        setError(null);
      } catch (err) {
        if ((err as Error).name !== 'AbortError') setError(err);
        throw err;
      }
    },
    // Refreshes the first page only: once more pages are loaded, refreshing would drop them.
    () => (extraPages ? null : 15_000),
    [],
  );
  const [extraPages, setExtraPages] = useState(false);
  const more = async () => {
    setExtraPages(true);
    try {
      const p = await api<SchedulePage>('GET', `/v1/schedules?limit=100&cursor=${encodeURIComponent(next!)}`);
      setItems([...(items ?? []), ...p.data]);
      setNext(p.next_cursor);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section>
      <div class="page-head">
        <h1>Schedules</h1>
        <a class="button primary" href="/schedules/new">
          New schedule
        </a>
      </div>
      <ErrorBox error={error} />
      {!items ? (
        <Loading />
      ) : items.length === 0 ? (
        <Empty title="No schedules yet.">
          <p>
            A schedule fires a request on a cron expression in any time zone, exactly across daylight-saving
            changes. <a href="/schedules/new">Create a schedule</a>.
          </p>
        </Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Schedules</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Cron</th>
                <th scope="col">Time zone</th>
                <th scope="col">Next run</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {items.map((s) => (
                <tr key={s.id} data-schedule-id={s.id}>
                  <td>
                    <a href={`/schedules/${s.id}`}>
                      {s.name ?? <span class="muted">(unnamed) {s.id.slice(0, 8)}</span>}
                    </a>
                  </td>
                  <td>
                    <code>{s.cron}</code>
                  </td>
                  <td>{s.timezone}</td>
                  <td>
                    {s.paused ? <span class="muted">paused</span> : <Time iso={s.next_runs[0]?.at} rel />}
                  </td>
                  <td>
                    <StatusChip status={s.paused ? 'paused' : s.status} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {next ? (
        <button type="button" onClick={() => void more()}>
          Load more
        </button>
      ) : null}
    </section>
  );
}
