// Signed out: ask for an email, send a link. The link's page signs the browser in (cookie) and
// comes back to the console.
import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import { ErrorBox, Field, describedBy, fieldError } from '../ui.tsx';

export function SignIn() {
  const [email, setEmail] = useState('');
  const [sentTo, setSentTo] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('POST', '/v1/auth/magic-link', { body: { email } });
      setSentTo(email.trim());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const err = fieldError(error, 'email');
  return (
    <main id="main" class="container narrow">
      <h1>Sign in to dist-job-scheduler</h1>
      {sentTo ? (
        <div class="notice" role="status">
          <p>
            <strong>Check your email.</strong> We sent a sign-in link to {sentTo}. It works once and expires
            soon.
          </p>
          <p class="muted">
            Running locally without a mail key? The link is printed in the server's console.
          </p>
          <button type="button" class="link" onClick={() => setSentTo(null)}>
            Use another email
          </button>
        </div>
      ) : (
        <form onSubmit={(e) => void submit(e)} noValidate>
          <Field id="email" label="Email" error={err}>
            <input
              {...describedBy('email', err)}
              type="email"
              autoComplete="email"
              required
              value={email}
              onInput={(e) => setEmail(e.currentTarget.value)}
            />
          </Field>
          {err ? null : <ErrorBox error={error} />}
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Sending…' : 'Email me a sign-in link'}
          </button>
        </form>
      )}
      <p class="muted">
        Machines use API keys instead: sign in, then create one under API keys. The API reference is at{' '}
        <a href="/docs">/docs</a>.
      </p>
    </main>
  );
}
