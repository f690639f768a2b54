// The console's pages, declared once. The server answers each path with the console's HTML shell
// (src/http/routes/console.ts) and 404s any other; the console's router, titles and navigation read
// the same table (web/src/main.tsx maps each id to its component, which the server must not import).
// Pure data and a matcher, no imports: the web bundle includes this file.

export interface ConsolePage {
  /** An Express-style pattern: literal segments and `:name` segments (exactly one segment each). */
  readonly path: string;
  /** The document title (each history entry gets its own; screen readers announce it). */
  readonly title: string;
  /** The label in the main navigation, in table order; absent when the page is not in it. */
  readonly nav?: string;
}

export const PAGES = {
  // The console's home: the jobs list, replaced by /jobs once the session is known.
  home: { path: '/', title: 'Jobs' },
  signIn: { path: '/sign-in', title: 'Sign in' },
  jobs: { path: '/jobs', title: 'Jobs', nav: 'Jobs' },
  newJob: { path: '/jobs/new', title: 'New job' },
  job: { path: '/jobs/:id', title: 'Job' },
  schedules: { path: '/schedules', title: 'Schedules', nav: 'Schedules' },
  newSchedule: { path: '/schedules/new', title: 'New schedule' },
  schedule: { path: '/schedules/:id', title: 'Schedule' },
  apiKeys: { path: '/api-keys', title: 'API keys', nav: 'API keys' },
  signingSecret: { path: '/signing-secret', title: 'Signing secret', nav: 'Signing secret' },
} as const satisfies Record<string, ConsolePage>;

export type ConsolePageId = keyof typeof PAGES;

const IDS = Object.keys(PAGES) as ConsolePageId[];

/** The main navigation: the pages that have a label, in table order. */
export const NAV: readonly { href: string; label: string }[] = IDS.flatMap((id) => {
  const p: ConsolePage = PAGES[id];
  return p.nav === undefined ? [] : [{ href: p.path, label: p.nav }];
});

/** A pattern's segments against a path's; the `:name` segments' raw (undecoded) values, or null. */
function matchPattern(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (w.startsWith(':')) {
      if (g === '') return null;
      params[w.slice(1)] = g;
    } else if (w !== g) return null;
  }
  return params;
}

/**
 * The page a path shows, with its parameters; null when none does. A literal segment wins over a
 * parameter (`/jobs/new` is the form, not the job "new"), whatever the table's order.
 */
export function matchPage(path: string): { id: ConsolePageId; params: Record<string, string> } | null {
  let best: { id: ConsolePageId; params: Record<string, string> } | null = null;
  for (const id of IDS) {
    const params = matchPattern(PAGES[id].path, path);
    if (params && (!best || Object.keys(params).length < Object.keys(best.params).length))
      best = { id, params };
  }
  return best;
}
