// Create or edit a schedule: cron in an IANA zone with a live preview of the next runs (the API's
// preview endpoint: the same engine that plans the real occurrences), plus the request and retries.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, idempotencyKey, qs } from '../api.ts';
import type { FireTime, Preview, Schedule } from '../types.ts';
import { navigate } from '../router.ts';
import { RequestFields, draftFrom, emptyDraft, requestBody, type RequestDraft } from '../requestFields.tsx';
import { browserZone, formatUtc } from '../time.ts';
import { ErrorBox, Field, FormErrors, describedBy, fieldError, useFocusFirstInvalid } from '../ui.tsx';

const zones = (() => {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return [];
  }
})();

function Preview({ cron, timezone }: { cron: string; timezone: string }) {
  const [runs, setRuns] = useState<FireTime[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (!cron.trim()) {
      setRuns(null);
      setError(null);
      return;
    }
    const ctl = new AbortController();
    // Waits for a pause in typing.
    const t = setTimeout(() => {
      api<Preview>('GET', `/v1/schedules/preview${qs({ cron, timezone, count: 5 })}`, {
        signal: ctl.signal,
      })
        .then((r) => {
          setRuns(r.data);
          setError(null);
        })
        .catch((err: unknown) => {
          if ((err as Error).name !== 'AbortError') {
            setRuns(null);
            setError(err);
          }
        });
    }, 250);
    return () => {
      clearTimeout(t);
      ctl.abort();
    };
  }, [cron, timezone]);
  return (
    <div class="preview" aria-live="polite" id="schedule-preview">
      <h3>Next runs</h3>
      {error instanceof ApiError ? (
        <p class="field-error">{error.details.map((d) => d.message).join('; ') || error.message}</p>
      ) : error ? (
        <ErrorBox error={error} />
      ) : runs === null ? (
        <p class="muted">Type a cron expression to see when it fires.</p>
      ) : runs.length === 0 ? (
        <p class="muted">This expression never fires.</p>
      ) : (
        <ol>
          {runs.map((r) => (
            <li>
              <time dateTime={r.at} title={formatUtc(r.at)}>
                {r.local.replace('T', ' ')} ({timezone})
              </time>{' '}
              <span class="muted">= {formatUtc(r.at)}</span>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

export function ScheduleForm({
  existing,
  onSaved,
}: {
  existing?: Schedule;
  onSaved?: (s: Schedule) => void;
}) {
  const [draft, setDraft] = useState<RequestDraft>(() => (existing ? draftFrom(existing) : emptyDraft()));
  const [cron, setCron] = useState(existing?.cron ?? '0 9 * * 1-5');
  const [timezone, setTimezone] = useState(existing?.timezone ?? browserZone());
  const [overlap, setOverlap] = useState(existing?.overlap ?? 'allow');
  const [misfire, setMisfire] = useState(existing?.misfire ?? 'run_once');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [key, setKey] = useState(idempotencyKey);
  // The version this edit is based on; after a 412 the user may take the newest one and keep their fields.
  const [etag, setEtag] = useState(existing?.etag ?? '');
  useFocusFirstInvalid(error);
  // A key per version of the form: a retried submit replays, an edited one is a new request.
  useEffect(() => setKey(idempotencyKey()), [draft, cron, timezone, overlap, misfire]);

  const set = (d: Partial<RequestDraft>) => setDraft((x) => ({ ...x, ...d }));
  const takeLatest = async () => {
    try {
      const latest = await api<Schedule>('GET', `/v1/schedules/${existing!.id}`);
      setEtag(latest.etag);
      setError(null);
    } catch (err) {
      setError(err);
    }
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { ...requestBody(draft), cron, timezone, overlap, misfire };
      if (existing) {
        // If-Match: an edit made meanwhile elsewhere is not overwritten silently (412).
        const s = await api<Schedule>('PATCH', `/v1/schedules/${existing.id}`, {
          body: { ...body, name: body.name ?? null },
          headers: { 'If-Match': etag },
        });
        onSaved?.(s);
      } else {
        const s = await api<Schedule>('POST', '/v1/schedules', { body, headers: { 'Idempotency-Key': key } });
        navigate(`/schedules/${s.id}`);
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const errs = { cron: fieldError(error, 'cron'), timezone: fieldError(error, 'timezone') };
  return (
    <form class="form" onSubmit={(e) => void submit(e)} noValidate>
      <fieldset>
        <legend>When</legend>
        <div class="row">
          <Field
            id="s-cron"
            label="Cron expression"
            error={errs.cron}
            hint="minute hour day-of-month month day-of-week, e.g. 0 9 * * 1-5"
          >
            <input
              {...describedBy('s-cron', errs.cron, true)}
              spellcheck={false}
              required
              value={cron}
              onInput={(e) => setCron(e.currentTarget.value)}
            />
          </Field>
          <Field id="s-tz" label="Time zone" error={errs.timezone}>
            <input
              {...describedBy('s-tz', errs.timezone)}
              list="s-tz-list"
              spellcheck={false}
              value={timezone}
              onInput={(e) => setTimezone(e.currentTarget.value)}
            />
            <datalist id="s-tz-list">
              {zones.map((z) => (
                <option value={z} />
              ))}
            </datalist>
          </Field>
        </div>
        <Preview cron={cron} timezone={timezone} />
        <div class="row">
          <Field id="s-overlap" label="If the previous run is still going">
            <select
              id="s-overlap"
              value={overlap}
              onChange={(e) => setOverlap(e.currentTarget.value as Schedule['overlap'])}
            >
              <option value="allow">run anyway</option>
              <option value="skip">skip this run</option>
            </select>
          </Field>
          <Field id="s-misfire" label="Missed runs (e.g. after downtime)">
            <select
              id="s-misfire"
              value={misfire}
              onChange={(e) => setMisfire(e.currentTarget.value as Schedule['misfire'])}
            >
              <option value="run_once">run once</option>
              <option value="run_all">run each</option>
              <option value="skip">skip them</option>
            </select>
          </Field>
        </div>
      </fieldset>
      <RequestFields draft={draft} set={set} error={error} prefix="schedule" />
      <FormErrors error={error} placed={['name', 'request', 'timeout_ms', 'retry', 'cron', 'timezone']} />
      {existing && error instanceof ApiError && error.status === 412 ? (
        <p>
          <button type="button" onClick={() => void takeLatest()}>
            Base my edit on the latest version
          </button>{' '}
          <span class="muted">(keeps what you typed here; saving then replaces the other change)</span>
        </p>
      ) : null}
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Saving…' : existing ? 'Save changes' : 'Create schedule'}
        </button>
        <a href={existing ? `/schedules/${existing.id}` : '/schedules'}>Cancel</a>
      </div>
    </form>
  );
}

export function NewSchedule() {
  return (
    <section>
      <p>
        <a href="/schedules">← Schedules</a>
      </p>
      <h1>New schedule</h1>
      <ScheduleForm />
    </section>
  );
}
