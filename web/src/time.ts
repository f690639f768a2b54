// Times are shown in the browser's time zone; the UTC instant is in the element's title (hover).
const local = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  timeZoneName: 'short',
});

export const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

export function formatLocal(iso: string): string {
  return local.format(new Date(iso));
}

/** `2026-11-24 08:00:00.004 UTC`. */
export function formatUtc(iso: string): string {
  return `${new Date(iso).toISOString().replace('T', ' ').replace('Z', '')} UTC`;
}

/** "in 5 min", "3 h ago": for lists, next to the absolute time. */
export function relative(iso: string, now = Date.now()): string {
  const diff = new Date(iso).getTime() - now;
  const abs = Math.abs(diff);
  const unit =
    abs < 60_000
      ? `${Math.round(abs / 1000)} s`
      : abs < 3_600_000
        ? `${Math.round(abs / 60_000)} min`
        : abs < 86_400_000
          ? `${Math.round(abs / 3_600_000)} h`
          : `${Math.round(abs / 86_400_000)} d`;
  return diff >= 0 ? `in ${unit}` : `${unit} ago`;
}

/** A duration in ms as "850 ms", "2.5 s", "3 min", "1 h 30 min". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(1)} min`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.round((ms % 3_600_000) / 60_000);
  return m ? `${h} h ${m} min` : `${h} h`;
}

/** A `datetime-local` input's value (browser zone) as an ISO instant with Z; null if empty/invalid. */
export function localInputToIso(value: string): string | null {
  if (!value) return null;
  const d = new Date(value); // no offset: ECMAScript reads it as local time
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/**
 * An instant as a `datetime-local` input value in the browser's zone: minutes, plus seconds and
 * milliseconds when it has them, so reading the value back gives the same instant; '' if invalid.
 */
export function isoToLocalInput(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  const minutes = `${String(d.getFullYear()).padStart(4, '0')}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const s = d.getSeconds();
  const ms = d.getMilliseconds();
  if (ms) return `${minutes}:${pad(s)}.${String(ms).padStart(3, '0')}`;
  return s ? `${minutes}:${pad(s)}` : minutes;
}

/**
 * The `step` a `datetime-local` input needs to hold `value` as valid: its default (60 s) would mark
 * a value with seconds as a step mismatch, and the browser would then refuse to submit the form.
 */
export function inputStep(value: string): number | undefined {
  if (/:\d{2}:\d{2}\.\d+$/.test(value)) return 0.001;
  if (/:\d{2}:\d{2}$/.test(value)) return 1;
  return undefined;
}
