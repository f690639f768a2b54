// Jobs: status chips with counts (each toggles its status; several may be pressed), a fire-time
// range, name search and keyset pages. The filters live in the URL (back, reload and sharing keep
// them). Refreshes itself while something is live.
import { useEffect, useState } from 'preact/hooks';
import { api, qs, JOB_STATUSES } from '../api.ts';
import type { Job, JobCounts, JobPage } from '../types.ts';
import { navigate } from '../router.ts';
import { isoToLocalInput, browserZone, inputStep } from '../time.ts';
import { dateFilter, statusesOf, toggleStatus } from '../filters.ts';
import { Empty, ErrorBox, LIVE, Loading, StatusChip, Time, usePolling } from '../ui.tsx';

const hostOf = (url: string) => {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
};

/** The time to show for a row: the next attempt while live, else the last attempt's end. */
function whenOf(j: Job): { label: string; iso: string | null } {
  if (j.next_attempt_at)
    return { label: j.status === 'retrying' ? 'retry' : 'fires', iso: j.next_attempt_at };
  if (j.last_execution) return { label: 'last', iso: j.last_execution.finished_at };
  return { label: 'fire time', iso: j.fire_at };
}

export function JobsList({ query }: { query: URLSearchParams }) {
  const status = query.get('status') ?? '';
  const name = query.get('name') ?? '';
  const from = query.get('from') ?? '';
  const to = query.get('to') ?? '';
  const cursor = query.get('cursor') ?? '';
  // `?status=failed,retrying` (a shared link, the API's syntax) presses both chips.
  const pressed = statusesOf(status, JOB_STATUSES);
  const [page, setPage] = useState<JobPage | null>(null);
  const [counts, setCounts] = useState<JobCounts | null>(null);
  const [error, setError] = useState<unknown>(null);
  // The inputs are drafts of the filters in the URL, applied by Search (or Enter, or leaving a date
  // field); Back and Forward bring the URL's values back into them.
  const [nameInput, setNameInput] = useState(name);
  const [fromInput, setFromInput] = useState(isoToLocalInput(from));
  const [toInput, setToInput] = useState(isoToLocalInput(to));
  useEffect(() => {
    setNameInput(name);
    setFromInput(isoToLocalInput(from));
    setToInput(isoToLocalInput(to));
  }, [name, from, to]);
  const applyFilters = () =>
    setQuery({
      name: nameInput.trim(),
      from: dateFilter(fromInput, from),
      to: dateFilter(toInput, to),
    });

  const filters = { name, fire_at_from: from, fire_at_to: to };
  usePolling(
    async (signal) => {
      try {
        const [p, c] = await Promise.all([
          api<JobPage>('GET', `/v1/jobs${qs({ ...filters, status, cursor, limit: 25 })}`, { signal }),
          api<JobCounts>('GET', `/v1/jobs/counts${qs(filters)}`, { signal }),
        ]);
        setPage(p);
        setCounts(c);
        setError(null);
      } catch (err) {
        if ((err as Error).name !== 'AbortError') setError(err);
        throw err;
      }
    },
    // Fast while anything is running or retrying, or a listed job fires within a minute.
    () => {
      const soon = page?.data.some(
        (j) =>
          LIVE.has(j.status) &&
          j.next_attempt_at &&
          new Date(j.next_attempt_at).getTime() - Date.now() < 60_000,
      );
      return soon || (counts && counts.counts.running + counts.counts.retrying > 0) ? 2000 : 10_000;
    },
    [status, name, from, to, cursor],
  );

  const setQuery = (patch: Record<string, string>, keepCursor = false) => {
    const next = new URLSearchParams(query);
    for (const [k, v] of Object.entries(patch))
      if (v) next.set(k, v);
      else next.delete(k);
    if (!keepCursor) next.delete('cursor');
    const s = next.toString();
    navigate(`/jobs${s ? `?${s}` : ''}`);
  };

  const filtered = Boolean(status || name || from || to);
  return (
    <section>
      <div class="page-head">
        <h1>Jobs</h1>
        <a class="button primary" href="/jobs/new">
          New job
        </a>
      </div>
      <div class="chips" role="group" aria-label="Filter by status">
        <button
          type="button"
          class="chip-filter"
          aria-pressed={!status}
          onClick={() => setQuery({ status: '' })}
        >
          all <span class="count">{counts?.total ?? '…'}</span>
        </button>
        {JOB_STATUSES.map((s) => (
          <button
            type="button"
            class={`chip-filter chip-${s}`}
            aria-pressed={pressed.has(s)}
            onClick={() => setQuery({ status: toggleStatus(status, s, JOB_STATUSES) })}
          >
            {s} <span class="count">{counts?.counts[s] ?? '…'}</span>
          </button>
        ))}
      </div>
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          applyFilters();
        }}
      >
        <div class="field">
          <label for="f-name">Name contains</label>
          <input
            id="f-name"
            type="search"
            value={nameInput}
            onInput={(e) => setNameInput(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="f-from">Fires from ({browserZone()})</label>
          <input
            id="f-from"
            type="datetime-local"
            value={fromInput}
            step={inputStep(fromInput)}
            onInput={(e) => setFromInput(e.currentTarget.value)}
            onBlur={applyFilters}
          />
        </div>
        <div class="field">
          <label for="f-to">Fires before</label>
          <input
            id="f-to"
            type="datetime-local"
            value={toInput}
            step={inputStep(toInput)}
            onInput={(e) => setToInput(e.currentTarget.value)}
            onBlur={applyFilters}
          />
        </div>
        <div class="field actions">
          <button type="submit">Search</button>
          {filtered ? (
            <button type="button" class="link" onClick={() => navigate('/jobs')}>
              Clear filters
            </button>
          ) : null}
        </div>
      </form>
      <ErrorBox error={error} />
      {!page ? (
        <Loading />
      ) : page.data.length === 0 ? (
        filtered || cursor ? (
          <Empty title="No jobs match these filters.">
            <p>Try another status or time range, or clear the filters.</p>
          </Empty>
        ) : (
          <Empty title="No jobs yet.">
            <p>
              <a href="/jobs/new">Create a job</a> to fire an HTTP request at a time you choose, or{' '}
              <a href="/schedules/new">add a schedule</a> for recurring ones. Backends create jobs with an{' '}
              <a href="/api-keys">API key</a>.
            </p>
          </Empty>
        )
      ) : (
        <div class="table-wrap">
          <table class="jobs">
            <caption class="sr-only">Jobs, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Target</th>
                <th scope="col">Status</th>
                <th scope="col">When</th>
                <th scope="col">Attempts</th>
              </tr>
            </thead>
            <tbody>
              {page.data.map((j) => {
                const w = whenOf(j);
                return (
                  <tr key={j.id} data-job-id={j.id}>
                    <td>
                      <a href={`/jobs/${j.id}`}>
                        {j.name ?? <span class="muted">(unnamed) {j.id.slice(0, 8)}</span>}
                      </a>
                    </td>
                    <td>
                      <code>{j.request.method}</code> {hostOf(j.request.url)}
                    </td>
                    <td>
                      <StatusChip status={j.status} />
                    </td>
                    <td>
                      <span class="muted">{w.label}</span> <Time iso={w.iso} rel />
                    </td>
                    <td>
                      {j.attempts} / {j.retry.max_attempts}
                      {j.last_execution?.status_code ? (
                        <span class="muted"> (last {j.last_execution.status_code})</span>
                      ) : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label="Pages">
        {/* Pages are keyset cursors in the URL: Back returns to the previous page, "Newest" to the first. */}
        {cursor ? (
          <button type="button" onClick={() => setQuery({ cursor: '' })}>
            ← Newest
          </button>
        ) : null}
        {page?.next_cursor ? (
          <button type="button" onClick={() => setQuery({ cursor: page.next_cursor! }, true)}>
            Older →
          </button>
        ) : null}
      </nav>
    </section>
  );
}
