// The secret that signs every delivery (Standard Webhooks): view, rotate, and how to verify.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { SigningSecret } from '../types.ts';
import { CopyButton, ErrorBox, Loading, Masked, Time } from '../ui.tsx';

const snippet = (secret: string) => `// npm install standardwebhooks
import { Webhook } from 'standardwebhooks';

const wh = new Webhook('${secret}');

// In your handler, with the raw body (not re-serialised JSON):
app.post('/hooks/report', express.raw({ type: '*/*' }), (req, res) => {
  try {
    wh.verify(req.body.toString('utf8'), {
      'webhook-id': req.get('webhook-id'),
      'webhook-timestamp': req.get('webhook-timestamp'),
      'webhook-signature': req.get('webhook-signature'),
    });
  } catch {
    return res.status(401).end(); // not from us, altered, or replayed
  }
  // ... handle it; the same webhook-id may arrive twice (at-least-once): deduplicate on it.
  res.status(204).end();
});`;

export function SigningSecretPage() {
  const [s, setS] = useState<SigningSecret | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api<SigningSecret>('GET', '/v1/signing-secret').then(setS).catch(setError);
  }, []);
  const rotate = async () => {
    if (
      !confirm(
        'Rotate the signing secret? Deliveries are signed with both secrets for a while, so receivers can switch over.',
      )
    )
      return;
    setBusy(true);
    setError(null);
    try {
      setS(await api<SigningSecret>('POST', '/v1/signing-secret/rotate'));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section>
      <h1>Signing secret</h1>
      <p class="muted">
        Every request the scheduler sends carries <code>webhook-id</code>, <code>webhook-timestamp</code> and{' '}
        <code>webhook-signature</code> headers (Standard Webhooks). Verify them with this secret to know a
        request came from us, unaltered and recent.
      </p>
      <ErrorBox error={error} />
      {!s ? (
        error ? null : (
          <Loading />
        )
      ) : (
        <>
          <p>
            Current secret: <Masked value={s.secret} label="signing secret" />{' '}
            <CopyButton text={s.secret} label="Copy secret" />
          </p>
          {s.previous_secret ? (
            <p>
              Previous secret, still signing until <Time iso={s.previous_valid_until} rel />:{' '}
              <Masked value={s.previous_secret} label="previous signing secret" />
            </p>
          ) : null}
          <button type="button" class="danger" disabled={busy} onClick={() => void rotate()}>
            Rotate secret
          </button>
          <h2>Verify a delivery (Node)</h2>
          <pre class="snippet" tabIndex={0}>
            {snippet('whsec_…')}
          </pre>
          <p class="muted">
            Use your secret in place of <code>whsec_…</code> (from configuration, never from source code).
          </p>
        </>
      )}
    </section>
  );
}
