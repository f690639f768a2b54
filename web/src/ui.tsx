// Small shared pieces: times, status chips, errors, empty states, masked values, polling.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.ts';
import type { JobStatus } from './types.ts';
import { formatLocal, formatUtc, relative } from './time.ts';

export function Time({ iso, rel = false }: { iso: string | null | undefined; rel?: boolean }) {
  if (!iso) return <span class="muted">—</span>;
  return (
    <time dateTime={iso} title={formatUtc(iso)}>
      {formatLocal(iso)}
      {rel ? <span class="muted"> ({relative(iso)})</span> : null}
    </time>
  );
}

export function StatusChip({ status }: { status: string }) {
  return <span class={`chip chip-${status}`}>{status}</span>;
}

/** An error as the API gave it (code and message); never swallowed. */
export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : null;
  const details = e?.details ?? [];
  return (
    <div class="error" role="alert">
      <strong>{e ? e.message : String((error as Error).message ?? error)}</strong>
      {e && e.status ? (
        <span class="muted">
          {' '}
          ({e.status} {e.code})
        </span>
      ) : null}
      {details.length ? (
        <ul>
          {details.map((d) => (
            <li>{d.path && d.path !== '(body)' ? `${d.path}: ${d.message}` : d.message}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <p>
        <strong>{title}</strong>
      </p>
      {children}
    </div>
  );
}

export function Loading() {
  return (
    <p class="muted" role="status">
      Loading…
    </p>
  );
}

/** Header names whose values are credentials: shown masked until asked. */
const SENSITIVE =
  /authorization|auth|token|secret|password|passwd|api[-_]?key|cookie|signature|session|credential/i;
export const isSensitiveHeader = (name: string) => SENSITIVE.test(name);

export function Masked({ value, label }: { value: string; label: string }) {
  const [shown, setShown] = useState(false);
  return (
    <span class="masked">
      <code>{shown ? value : '•'.repeat(Math.min(12, Math.max(6, value.length)))}</code>{' '}
      <button
        type="button"
        class="link"
        aria-label={`${shown ? 'Hide' : 'Show'} ${label}`}
        onClick={() => setShown(!shown)}
      >
        {shown ? 'Hide' : 'Show'}
      </button>
    </span>
  );
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState('copied');
    } catch {
      setState('failed');
    }
  };
  return (
    <button type="button" onClick={() => void copy()}>
      {state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed: select and copy' : label}
    </button>
  );
}

/**
 * Runs `load` now and again every `intervalMs()` while the page is visible (null: stop polling);
 * `deps` restart it. A slow answer is never overtaken by an older one.
 */
export function usePolling(
  load: (signal: AbortSignal) => Promise<void>,
  intervalMs: () => number | null,
  deps: unknown[],
) {
  const interval = useRef(intervalMs);
  interval.current = intervalMs;
  useEffect(() => {
    const ctl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        await load(ctl.signal);
      } catch (err) {
        if ((err as Error).name === 'AbortError') return;
      }
      if (ctl.signal.aborted) return;
      const next = interval.current();
      if (next !== null) timer = setTimeout(() => void (document.hidden ? schedule() : tick()), next);
    };
    // Hidden tabs wait for visibility instead of polling.
    const schedule = () => {
      const onVisible = () => {
        if (document.hidden) return;
        document.removeEventListener('visibilitychange', onVisible);
        void tick();
      };
      document.addEventListener('visibilitychange', onVisible);
    };
    void tick();
    return () => {
      ctl.abort();
      clearTimeout(timer);
    };
  }, deps);
}

export const LIVE: ReadonlySet<JobStatus> = new Set(['scheduled', 'running', 'retrying']);

/** The message the API gave for a field (by path prefix), for display next to it. */
export function fieldError(error: unknown, ...paths: string[]): string | undefined {
  if (!(error instanceof ApiError)) return undefined;
  const hits = error.details.filter((d) => paths.some((p) => d.path === p || d.path.startsWith(`${p}.`)));
  return hits.length
    ? hits
        .map((d) => (d.path === paths[0] ? d.message : `${d.path.split('.').pop()}: ${d.message}`))
        .join('; ')
    : undefined;
}

/** A labelled form field with its error (aria-describedby ties the message to the input). */
export function Field({
  id,
  label,
  error,
  hint,
  children,
}: {
  id: string;
  label: string;
  error?: string | undefined;
  hint?: ComponentChildren;
  children: ComponentChildren;
}) {
  return (
    <div class={`field${error ? ' invalid' : ''}`}>
      <label for={id}>{label}</label>
      {children}
      {hint ? (
        <div class="hint" id={`${id}-hint`}>
          {hint}
        </div>
      ) : null}
      {error ? (
        <div class="field-error" id={`${id}-error`} role="alert">
          {error}
        </div>
      ) : null}
    </div>
  );
}

/** Attributes that tie an input to its Field's hint and error. */
export const describedBy = (id: string, error?: string, hint = false) => ({
  id,
  'aria-invalid': error ? true : undefined,
  'aria-describedby':
    [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined,
});

/**
 * After a refused submit, focus the first field the API named (else the first error message), so a
 * keyboard or screen-reader user lands on what to fix instead of staying on the button.
 */
export function useFocusFirstInvalid(error: unknown): void {
  useEffect(() => {
    if (!error) return;
    requestAnimationFrame(() => {
      const target =
        document.querySelector<HTMLElement>('main [aria-invalid="true"]') ??
        document.querySelector<HTMLElement>('main .error, main .field-error');
      if (target && !target.matches('input, select, textarea, button')) target.tabIndex = -1;
      target?.focus();
    });
  }, [error]);
}

/**
 * A form's error summary: the details no field shows (their paths are not under `placed`), or, when
 * every detail sits next to its field, a pointer to them.
 */
export function FormErrors({ error, placed }: { error: unknown; placed: string[] }) {
  if (!(error instanceof ApiError) || error.details.length === 0) return <ErrorBox error={error} />;
  const isPlaced = (path: string) => placed.some((p) => path === p || path.startsWith(`${p}.`));
  const rest = error.details.filter((d) => !isPlaced(d.path));
  if (rest.length === 0)
    return (
      <div class="error" role="alert">
        <strong>Some fields need attention</strong> (marked below each field).
      </div>
    );
  return <ErrorBox error={new ApiError(error.status, error.code, error.message, rest)} />;
}
