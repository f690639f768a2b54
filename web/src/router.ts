// History-API routing: real URLs (/jobs/<id>) that survive a reload, since the server answers each
// console path with the same page. Links are plain <a href>; a click without modifier keys is
// handled here, so opening in a new tab still works.
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set<() => void>();
const notify = () => {
  for (const f of listeners) f();
};
window.addEventListener('popstate', notify);

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === location.pathname + location.search) return;
  const samePage = to.split('?')[0] === location.pathname;
  if (opts.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  notify();
  // A new page: start at its top, with focus on its main region, as a page load would (a screen
  // reader then reads the new page). A changed query (filters, pages) keeps focus where it is.
  if (!samePage) {
    window.scrollTo(0, 0);
    requestAnimationFrame(() => document.getElementById('main')?.focus({ preventScroll: true }));
  }
}

/** Sets the document title of the page shown (each history entry gets its own). */
export function setTitle(page: string): void {
  document.title = `${page} — dist-job-scheduler`;
}

/** The current path and query; re-renders the caller on navigation. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const f = () => setTick((n) => n + 1);
    listeners.add(f);
    return () => void listeners.delete(f);
  }, []);
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

/** Handles clicks on same-origin links inside the app without a page load. */
export function interceptLinks(root: HTMLElement): void {
  root.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element).closest('a');
    if (!a || a.target || a.hasAttribute('download') || a.origin !== location.origin) return;
    if (!a.pathname.startsWith('/') || a.pathname.startsWith('/v1/') || a.pathname.startsWith('/docs'))
      return;
    // In-page links (the skip link) keep the browser's behaviour: scroll and move focus.
    if (a.hash && a.pathname === location.pathname && a.search === location.search) return;
    e.preventDefault();
    navigate(a.pathname + a.search);
  });
}
