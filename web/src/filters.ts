// The jobs list's filters as they live in the URL: pure, so the unit tests check them without a page.
import { isoToLocalInput, localInputToIso } from './time.ts';

/** The statuses a `status` parameter names (`failed,retrying`); unknown names are left out. */
export function statusesOf<S extends string>(param: string, all: readonly S[]): Set<S> {
  const named = new Set(param.split(',').map((s) => s.trim()));
  return new Set(all.filter((s) => named.has(s)));
}

/**
 * The `status` parameter after a click on status `s`: added if absent, removed if present, in the
 * order of `all`; '' (every status) when none or all are left.
 */
export function toggleStatus<S extends string>(param: string, s: S, all: readonly S[]): string {
  const set = statusesOf(param, all);
  if (set.has(s)) set.delete(s);
  else set.add(s);
  return set.size === all.length ? '' : all.filter((x) => set.has(x)).join(',');
}

/**
 * The filter value a date field stands for: the URL's own value while the field still shows it
 * (leaving or submitting an untouched field must not rewrite the filter), else the field's instant.
 */
export function dateFilter(draft: string, current: string): string {
  if (current && draft === isoToLocalInput(current)) return current;
  return localInputToIso(draft) ?? '';
}
