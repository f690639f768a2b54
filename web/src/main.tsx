// The console: a shell (navigation, who is signed in, sign out) around one page per path.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './styles.css';
import { api, ApiError, whenSignedOut, type Me } from './api.ts';
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

const NAV = [
  { href: '/jobs', label: 'Jobs' },
  { href: '/schedules', label: 'Schedules' },
  { href: '/api-keys', label: 'API keys' },
  { href: '/signing-secret', label: 'Signing secret' },
];

/** The title of each page (each history entry gets its own; screen readers announce it). */
function titleFor(path: string, signedIn: boolean): string {
  if (!signedIn) return 'Sign in';
  if (path === '/jobs/new') return 'New job';
  if (path.startsWith('/jobs/')) return 'Job';
  if (path === '/schedules/new') return 'New schedule';
  if (path.startsWith('/schedules/')) return 'Schedule';
  if (path === '/schedules') return 'Schedules';
  if (path === '/api-keys') return 'API keys';
  if (path === '/signing-secret') return 'Signing secret';
  return 'Jobs';
}

function Page({ path, query }: { path: string; query: URLSearchParams }) {
  const m = (re: RegExp) => re.exec(path);
  let r: RegExpExecArray | null;
  if (path === '/' || path === '/jobs') return <JobsList query={query} />;
  if (path === '/jobs/new') return <JobForm cloneOf={query.get('clone')} />;
  if ((r = m(/^\/jobs\/([^/]+)$/))) return <JobPage id={r[1]!} />;
  if (path === '/schedules') return <SchedulesList />;
  if (path === '/schedules/new') return <NewSchedule />;
  if ((r = m(/^\/schedules\/([^/]+)$/))) return <SchedulePage id={r[1]!} edit={query.get('edit') === '1'} />;
  if (path === '/api-keys') return <ApiKeys />;
  if (path === '/signing-secret') return <SigningSecretPage />;
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
