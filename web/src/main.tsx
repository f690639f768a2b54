// The console: a shell (navigation, who is signed in, sign out) around one page per path.
import { render, type VNode } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './styles.css';
import { api, ApiError, whenSignedOut } from './api.ts';
import type { Me } from './types.ts';
import { interceptLinks, navigate, setTitle, useLocation } from './router.ts';
import { ErrorBox, Loading } from './ui.tsx';
import { SignIn } from './pages/SignIn.tsx';
import { JobsList } from './pages/JobsList.tsx';
import { JobPage } from './pages/JobPage.tsx';
import { JobForm } from './pages/JobForm.tsx';
import { SchedulesList } from './pages/SchedulesList.tsx';
import { SchedulePage } from './pages/SchedulePage.tsx';
import { NewSchedule } from './pages/ScheduleForm.tsx';
import { ApiKeys } from './pages/ApiKeys.tsx';
import { SigningSecretPage } from './pages/SigningSecret.tsx';
import { browserZone } from './time.ts';
import { NAV, PAGES, matchPage, type ConsolePageId } from '../../src/contract/consolePages.ts';

/** The view of each console page (the table in src/contract/consolePages.ts has its path and title). */
const VIEWS: Record<
  ConsolePageId,
  (p: { params: Record<string, string>; query: URLSearchParams }) => VNode | null
> = {
  home: ({ query }) => <JobsList query={query} />,
  // Signed out, App shows <SignIn /> at every path; signed in, it replaces /sign-in with /jobs.
  signIn: () => null,
  jobs: ({ query }) => <JobsList query={query} />,
  newJob: ({ query }) => <JobForm cloneOf={query.get('clone')} />,
  job: ({ params }) => <JobPage id={params.id!} />,
  schedules: () => <SchedulesList />,
  newSchedule: () => <NewSchedule />,
  schedule: ({ params, query }) => <SchedulePage id={params.id!} edit={query.get('edit') === '1'} />,
  apiKeys: () => <ApiKeys />,
  signingSecret: () => <SigningSecretPage />,
};

/** The title of each page (each history entry gets its own; screen readers announce it). */
function titleFor(path: string, signedIn: boolean): string {
  if (!signedIn) return PAGES.signIn.title;
  const page = matchPage(path);
  return page ? PAGES[page.id].title : 'Not found';
}

function Page({ path, query }: { path: string; query: URLSearchParams }) {
  const page = matchPage(path);
  if (page) return VIEWS[page.id]({ params: page.params, query });
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no page at {path}. <a href="/jobs">Go to your jobs</a>.
      </p>
    </section>
  );
}

function App() {
  const { path, query } = useLocation();
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);

  const loadMe = () => {
    setError(null);
    api<Me>('GET', '/v1/me')
      .then(setMe)
      .catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 401) setMe(null);
        else setError(err);
      });
  };
  useEffect(loadMe, []);
  useEffect(() => whenSignedOut(() => setMe(null)), []);
  useEffect(() => setTitle(titleFor(path, Boolean(me))), [path, me]);
  // An error of the shell (a failed sign-out) belongs to the page it happened on.
  useEffect(() => setError(null), [path]);
  useEffect(() => {
    if (me === null && path !== '/sign-in') navigate('/sign-in', { replace: true });
    if (me && (path === '/sign-in' || path === '/')) navigate('/jobs', { replace: true });
  }, [me, path]);

  const signOut = async () => {
    try {
      await api('POST', '/v1/auth/logout');
    } catch (err) {
      // Already signed out (401) is the goal; anything else is shown.
      if (!(err instanceof ApiError && err.status === 401)) {
        setError(err);
        return;
      }
    }
    setMe(null);
  };

  if (error && me === undefined)
    return (
      <main class="container">
        <ErrorBox error={error} />
        <button type="button" onClick={loadMe}>
          Retry
        </button>
      </main>
    );
  if (me === undefined)
    return (
      <main class="container">
        <Loading />
      </main>
    );
  if (me === null) return <SignIn />;
  const section = '/' + (path.split('/')[1] ?? '');
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/jobs">
          dist-job-scheduler
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li>
                <a
                  href={n.href}
                  aria-current={
                    section === n.href || (n.href === '/jobs' && section === '/') ? 'page' : undefined
                  }
                >
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span title={`Times are shown in ${browserZone()}; hover a time for UTC`}>{me.email}</span>
          <button type="button" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" class="container" tabIndex={-1}>
        <ErrorBox error={error} />
        <Page path={path} query={query} />
      </main>
    </>
  );
}

const root = document.getElementById('app')!;
interceptLinks(root);
render(<App />, root);
