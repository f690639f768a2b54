// API keys for backends: create (the key is shown once), list, revoke.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, SCOPES, api } from '../api.ts';
import type { ApiKey, ApiKeyCreated, ApiKeyList } from '../types.ts';
import {
  CopyButton,
  Empty,
  ErrorBox,
  Field,
  Loading,
  Time,
  describedBy,
  fieldError,
  useFocusFirstInvalid,
} from '../ui.tsx';

export function ApiKeys() {
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>(['jobs:read', 'jobs:write']);
  const [created, setCreated] = useState<(ApiKey & { key: string }) | null>(null);
  const [formError, setFormError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const load = () =>
    api<ApiKeyList>('GET', '/v1/api-keys')
      .then((r) => {
        setKeys(r.data);
        setError(null);
      })
      .catch(setError);
  useEffect(() => void load(), []);

  const create = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setFormError(null);
    try {
      const k = await api<ApiKeyCreated>('POST', '/v1/api-keys', {
        body: { name: name.trim(), scopes },
      });
      setCreated(k);
      setName('');
      await load();
    } catch (err) {
      setFormError(err);
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (k: ApiKey) => {
    if (!confirm(`Revoke the key "${k.name}"? Backends using it are refused from now on.`)) return;
    try {
      await api('DELETE', `/v1/api-keys/${k.id}`);
      if (created?.id === k.id) setCreated(null);
      await load();
    } catch (err) {
      setError(err);
    }
  };
  useFocusFirstInvalid(formError);
  const nameErr = fieldError(formError, 'name');
  const scopeErr = fieldError(formError, 'scopes');
  return (
    <section>
      <h1>API keys</h1>
      <p class="muted">
        Backends schedule jobs with a key: <code>Authorization: Bearer djs_…</code>. A key can do only what
        its scopes allow; managing keys and the signing secret needs a person signed in.
      </p>
      {created ? (
        <div class="notice created-key" role="status">
          <p>
            <strong>Copy the key "{created.name}" now.</strong> It is shown only once; we keep only its hash.
          </p>
          <p class="key-line">
            <code id="new-key">{created.key}</code> <CopyButton text={created.key} label="Copy key" />
          </p>
          <pre class="snippet" tabIndex={0}>{`curl -X POST ${location.origin}/v1/jobs \\
  -H "Authorization: Bearer ${created.key}" \\
  -H "Content-Type: application/json" \\
  -d '{"request":{"method":"POST","url":"https://example.com/hook"},"delay_seconds":60}'`}</pre>
          <button type="button" class="link" onClick={() => setCreated(null)}>
            I have stored it, hide it
          </button>
        </div>
      ) : null}
      <form class="form inline-form" onSubmit={(e) => void create(e)} noValidate>
        <h2>Create a key</h2>
        <Field id="key-name" label="Name" error={nameErr} hint="Say where it is used, e.g. billing-backend">
          <input
            {...describedBy('key-name', nameErr, true)}
            value={name}
            maxLength={100}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </Field>
        <fieldset class={scopeErr ? 'invalid' : ''}>
          <legend>Scopes</legend>
          {SCOPES.map((s) => (
            <label class="check">
              <input
                type="checkbox"
                checked={scopes.includes(s)}
                onChange={(e) =>
                  setScopes(e.currentTarget.checked ? [...scopes, s] : scopes.filter((x) => x !== s))
                }
              />{' '}
              {s}
            </label>
          ))}
          {scopeErr ? (
            <div class="field-error" role="alert">
              {scopeErr}
            </div>
          ) : null}
        </fieldset>
        {nameErr || scopeErr || !(formError instanceof ApiError && formError.details.length) ? (
          nameErr || scopeErr ? null : (
            <ErrorBox error={formError} />
          )
        ) : (
          <ErrorBox error={formError} />
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create key'}
        </button>
      </form>
      <h2>Your keys</h2>
      <ErrorBox error={error} />
      {!keys ? (
        <Loading />
      ) : keys.length === 0 ? (
        <Empty title="No API keys yet.">
          <p>Create one above for each backend that schedules jobs, so each can be revoked alone.</p>
        </Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="sr-only">API keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key</th>
                <th scope="col">Scopes</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.id} data-key-id={k.id}>
                  <td>{k.name}</td>
                  <td>
                    <code>
                      {k.prefix}…{k.last_four}
                    </code>
                  </td>
                  <td>{k.scopes.join(', ')}</td>
                  <td>
                    <Time iso={k.created_at} />
                  </td>
                  <td>
                    {k.last_used_at ? <Time iso={k.last_used_at} rel /> : <span class="muted">never</span>}
                  </td>
                  <td>
                    <button
                      type="button"
                      class="danger"
                      aria-label={`Revoke ${k.name}`}
                      onClick={() => void revoke(k)}
                    >
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
