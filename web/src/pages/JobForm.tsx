// Create a job (optionally cloned from another). The API validates; its messages are shown next to
// the fields they name. "Fire at" is entered in the browser's zone and shown in UTC too.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, idempotencyKey } from '../api.ts';
import type { Job } from '../types.ts';
import { navigate } from '../router.ts';
import { RequestFields, draftFrom, emptyDraft, requestBody, type RequestDraft } from '../requestFields.tsx';
import { browserZone, formatUtc, localInputToIso } from '../time.ts';
import { Field, FormErrors, describedBy, fieldError, useFocusFirstInvalid } from '../ui.tsx';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function JobForm({ cloneOf }: { cloneOf: string | null }) {
  const [draft, setDraft] = useState<RequestDraft>(emptyDraft);
  const [when, setWhen] = useState<'now' | 'at'>('now');
  const [fireAt, setFireAt] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // One key per form: a double-click or a retried submit after a lost answer creates one job.
  const [key, setKey] = useState(idempotencyKey);

  const dirty = useRef(false);
  useEffect(() => {
    if (!cloneOf) return;
    if (!UUID.test(cloneOf)) {
      setError(new ApiError(404, 'not_found', 'There is no job to clone at this address.'));
      return;
    }
    api<Job>('GET', `/v1/jobs/${cloneOf}`)
      // What the user typed meanwhile wins over the clone.
      .then((j) => {
        if (!dirty.current) setDraft({ ...draftFrom(j), name: j.name ? `${j.name} (copy)` : '' });
      })
      .catch(setError);
  }, [cloneOf]);
  useFocusFirstInvalid(error);

  // Any change makes a new request: a retried submit of the same form reuses its key, an edited
  // one gets a new key (else the API would answer 409 idempotency_key_reused).
  const changed = () => {
    dirty.current = true;
    setKey(idempotencyKey());
  };
  const set = (d: Partial<RequestDraft>) => {
    setDraft((x) => ({ ...x, ...d }));
    changed();
  };
  const fireIso = when === 'at' ? localInputToIso(fireAt) : null;

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (when === 'at' && !fireIso)
        throw new ApiError(400, 'validation_failed', 'the request is not valid', [
          { path: 'fire_at', message: 'choose a date and time' },
        ]);
      const body = { ...requestBody(draft), ...(fireIso ? { fire_at: fireIso } : {}) };
      const job = await api<Job>('POST', '/v1/jobs', { body, headers: { 'Idempotency-Key': key } });
      navigate(`/jobs/${job.id}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const fireErr = fieldError(error, 'fire_at', 'delay_seconds');
  return (
    <section>
      <p>
        <a href="/jobs">← Jobs</a>
      </p>
      <h1>{cloneOf ? 'New job (cloned)' : 'New job'}</h1>
      <form class="form" onSubmit={(e) => void submit(e)} noValidate>
        <RequestFields draft={draft} set={set} error={error} prefix="job" />
        <fieldset>
          <legend>When</legend>
          <div class="radios">
            <label>
              <input
                type="radio"
                name="when"
                value="now"
                checked={when === 'now'}
                onChange={() => {
                  setWhen('now');
                  changed();
                }}
              />{' '}
              Now
            </label>
            <label>
              <input
                type="radio"
                name="when"
                value="at"
                checked={when === 'at'}
                onChange={() => {
                  setWhen('at');
                  changed();
                }}
              />{' '}
              At a time
            </label>
          </div>
          {when === 'at' ? (
            <Field
              id="job-fire-at"
              label={`Fire at (${browserZone()})`}
              error={fireErr}
              hint={fireIso ? <>= {formatUtc(fireIso)}</> : 'Your local time; it is sent as UTC.'}
            >
              <input
                {...describedBy('job-fire-at', fireErr, true)}
                type="datetime-local"
                step="1"
                value={fireAt}
                onInput={(e) => {
                  setFireAt(e.currentTarget.value);
                  changed();
                }}
              />
            </Field>
          ) : fireErr ? (
            <div class="field-error" role="alert">
              {fireErr}
            </div>
          ) : null}
        </fieldset>
        <FormErrors
          error={error}
          placed={['name', 'request', 'timeout_ms', 'retry', 'fire_at', 'delay_seconds']}
        />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create job'}
          </button>
          <a href="/jobs">Cancel</a>
        </div>
      </form>
    </section>
  );
}
