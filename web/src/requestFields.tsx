// The request-and-retry part of a job or schedule form (both validate alike on the server), with a
// live preview of the retry schedule.
import { ApiError } from './api.ts';
import type { JobRequest, RetryPolicy } from './types.ts';
import { retrySchedule, JITTER_RATIO } from './retry.ts';
import { formatDuration } from './time.ts';
import { Field, describedBy, fieldError } from './ui.tsx';

export const METHODS: readonly JobRequest['method'][] = ['POST', 'GET', 'PUT', 'PATCH', 'DELETE'];

export interface RequestDraft {
  name: string;
  method: string;
  url: string;
  /** One `Name: value` per line. */
  headers: string;
  body: string;
  timeoutMs: string;
  strategy: RetryPolicy['strategy'];
  maxAttempts: string;
  baseDelayMs: string;
  maxDelayMs: string;
}

export const emptyDraft = (): RequestDraft => ({
  name: '',
  method: 'POST',
  url: '',
  headers: 'content-type: application/json',
  body: '',
  timeoutMs: '10000',
  strategy: 'exponential',
  maxAttempts: '5',
  baseDelayMs: '1000',
  maxDelayMs: '3600000',
});

/** A draft filled from an existing job or schedule (clone, edit). */
export function draftFrom(x: {
  name: string | null;
  request: JobRequest;
  timeout_ms: number;
  retry: RetryPolicy;
}): RequestDraft {
  return {
    name: x.name ?? '',
    method: x.request.method,
    url: x.request.url,
    headers: Object.entries(x.request.headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n'),
    body: x.request.body ?? '',
    timeoutMs: String(x.timeout_ms),
    strategy: x.retry.strategy,
    maxAttempts: String(x.retry.max_attempts),
    baseDelayMs: String(x.retry.base_delay_ms),
    maxDelayMs: String(x.retry.max_delay_ms),
  };
}

/** Header lines as an object; a malformed line is reported like the API reports a bad field. */
export function parseHeaders(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const colon = line.indexOf(':');
    if (colon <= 0)
      throw new ApiError(400, 'validation_failed', 'the request is not valid', [
        { path: 'request.headers', message: `line ${i + 1}: write each header as "Name: value"` },
      ]);
    out[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  });
  return out;
}

/** Numbers as typed: a non-number is sent as typed so the API's own message explains it. */
const num = (s: string): number | string => (s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : s);

/** The draft as the API's `name`, `request`, `timeout_ms` and `retry` fields. */
export function requestBody(d: RequestDraft) {
  const headers = parseHeaders(d.headers);
  return {
    ...(d.name.trim() ? { name: d.name.trim() } : {}),
    request: {
      method: d.method,
      url: d.url.trim(),
      ...(Object.keys(headers).length ? { headers } : {}),
      ...(d.body !== '' && d.method !== 'GET' ? { body: d.body } : {}),
    },
    timeout_ms: num(d.timeoutMs),
    retry: {
      strategy: d.strategy,
      max_attempts: num(d.maxAttempts),
      base_delay_ms: num(d.baseDelayMs),
      max_delay_ms: num(d.maxDelayMs),
    },
  };
}

export function RequestFields({
  draft,
  set,
  error,
  prefix,
}: {
  draft: RequestDraft;
  set: (d: Partial<RequestDraft>) => void;
  error: unknown;
  prefix: string;
}) {
  const id = (n: string) => `${prefix}-${n}`;
  const errs = {
    name: fieldError(error, 'name'),
    method: fieldError(error, 'request.method'),
    url: fieldError(error, 'request.url'),
    headers: fieldError(error, 'request.headers'),
    body: fieldError(error, 'request.body', 'request'),
    timeout: fieldError(error, 'timeout_ms'),
    strategy: fieldError(error, 'retry.strategy'),
    attempts: fieldError(error, 'retry.max_attempts'),
    base: fieldError(error, 'retry.base_delay_ms'),
    max: fieldError(error, 'retry.max_delay_ms', 'retry'),
  };
  return (
    <>
      <Field id={id('name')} label="Name (optional)" error={errs.name}>
        <input
          {...describedBy(id('name'), errs.name)}
          value={draft.name}
          maxLength={200}
          onInput={(e) => set({ name: e.currentTarget.value })}
        />
      </Field>
      <fieldset>
        <legend>Request</legend>
        <div class="row">
          <Field id={id('method')} label="Method" error={errs.method}>
            <select
              {...describedBy(id('method'), errs.method)}
              value={draft.method}
              onChange={(e) => set({ method: e.currentTarget.value })}
            >
              {METHODS.map((m) => (
                <option value={m}>{m}</option>
              ))}
            </select>
          </Field>
          <Field id={id('url')} label="URL" error={errs.url}>
            <input
              {...describedBy(id('url'), errs.url)}
              type="url"
              required
              placeholder="https://example.com/hooks/report"
              value={draft.url}
              onInput={(e) => set({ url: e.currentTarget.value })}
            />
          </Field>
        </div>
        <Field id={id('headers')} label="Headers" error={errs.headers} hint="One per line: Name: value">
          <textarea
            {...describedBy(id('headers'), errs.headers, true)}
            rows={3}
            spellcheck={false}
            value={draft.headers}
            onInput={(e) => set({ headers: e.currentTarget.value })}
          />
        </Field>
        {draft.method !== 'GET' ? (
          <Field id={id('body')} label="Body" error={errs.body}>
            <textarea
              {...describedBy(id('body'), errs.body)}
              rows={4}
              spellcheck={false}
              value={draft.body}
              onInput={(e) => set({ body: e.currentTarget.value })}
            />
          </Field>
        ) : null}
        <Field id={id('timeout')} label="Timeout (ms)" error={errs.timeout}>
          <input
            {...describedBy(id('timeout'), errs.timeout)}
            inputMode="numeric"
            value={draft.timeoutMs}
            onInput={(e) => set({ timeoutMs: e.currentTarget.value })}
          />
        </Field>
      </fieldset>
      <fieldset>
        <legend>Retries</legend>
        <div class="row">
          <Field id={id('strategy')} label="Backoff" error={errs.strategy}>
            <select
              {...describedBy(id('strategy'), errs.strategy)}
              value={draft.strategy}
              onChange={(e) => set({ strategy: e.currentTarget.value as RequestDraft['strategy'] })}
            >
              <option value="exponential">exponential</option>
              <option value="linear">linear</option>
            </select>
          </Field>
          <Field id={id('attempts')} label="Max attempts" error={errs.attempts}>
            <input
              {...describedBy(id('attempts'), errs.attempts)}
              inputMode="numeric"
              value={draft.maxAttempts}
              onInput={(e) => set({ maxAttempts: e.currentTarget.value })}
            />
          </Field>
          <Field id={id('base')} label="Base delay (ms)" error={errs.base}>
            <input
              {...describedBy(id('base'), errs.base)}
              inputMode="numeric"
              value={draft.baseDelayMs}
              onInput={(e) => set({ baseDelayMs: e.currentTarget.value })}
            />
          </Field>
          <Field id={id('max')} label="Max delay (ms)" error={errs.max}>
            <input
              {...describedBy(id('max'), errs.max)}
              inputMode="numeric"
              value={draft.maxDelayMs}
              onInput={(e) => set({ maxDelayMs: e.currentTarget.value })}
            />
          </Field>
        </div>
        <RetryPreview
          policy={{
            strategy: draft.strategy,
            max_attempts: Number(draft.maxAttempts),
            base_delay_ms: Number(draft.baseDelayMs),
            max_delay_ms: Number(draft.maxDelayMs),
          }}
        />
      </fieldset>
    </>
  );
}

/** The attempts a policy allows and when each would start, relative to the first. */
export function RetryPreview({ policy, title = 'Retry schedule' }: { policy: RetryPolicy; title?: string }) {
  const valid =
    Number.isInteger(policy.max_attempts) &&
    policy.max_attempts >= 1 &&
    policy.max_attempts <= 25 &&
    Number.isFinite(policy.base_delay_ms) &&
    Number.isFinite(policy.max_delay_ms) &&
    policy.base_delay_ms >= 0 &&
    policy.base_delay_ms <= policy.max_delay_ms;
  if (!valid) return <p class="muted retry-preview">The retry schedule appears once the policy is valid.</p>;
  const plan = retrySchedule(policy);
  return (
    <div class="retry-preview">
      <h3>{title}</h3>
      <p class="muted">
        If an attempt fails (network error, timeout, 408, 425, 429 or 5xx; other 4xx answers are final), the
        next one waits as below, ±{JITTER_RATIO * 100}% jitter; a Retry-After header can push it later.
      </p>
      <ol class="retry-plan">
        {plan.map((p) => (
          <li>
            Attempt {p.attempt}:{' '}
            {p.attempt === 1
              ? 'at the fire time'
              : `${formatDuration(p.delayMs)} after attempt ${p.attempt - 1} fails (≈ ${formatDuration(p.fromMs)}–${formatDuration(p.toMs)} after the first)`}
          </li>
        ))}
      </ol>
    </div>
  );
}
