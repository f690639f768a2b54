// The console's only way to the server: the public JSON API, same origin, with the session cookie
// (HttpOnly: this code never sees it) and the header that marks a request as the console's own
// (the CSRF defence the server checks, see src/http/sessionCookie.ts).

import type { ErrorEnvelope, JobStatus, Scope, ValidationDetail } from './types.ts';

/** An API error envelope as an exception: status, stable code, message, details. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ValidationDetail[] = [],
  ) {
    super(message);
  }
}

/** Listeners told when a request answers 401: the session ended (expired, signed out elsewhere). */
const onUnauthorized = new Set<() => void>();
export const whenSignedOut = (f: () => void) => {
  onUnauthorized.add(f);
  return () => onUnauthorized.delete(f);
};

export interface CallOptions {
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** Calls the API; resolves the parsed JSON (null for 204), rejects with ApiError. */
export async function api<T = unknown>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = {
    'X-DJS-Console': '1',
    Accept: 'application/json',
    ...opts.headers,
  };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: opts.body === undefined ? null : JSON.stringify(opts.body),
      signal: opts.signal ?? null,
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(
      0,
      'network_error',
      'The server could not be reached. Check your connection and retry.',
    );
  }
  if (res.status === 204) return null as T;
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON (a proxy's error page): reported below with the status.
  }
  if (!res.ok) {
    // Typed as the API's envelope, but read defensively: a proxy's JSON error has another shape.
    const e = (json as { error?: Partial<ErrorEnvelope['error']> } | null)?.error;
    if (res.status === 401) for (const f of onUnauthorized) f();
    throw new ApiError(
      res.status,
      e?.code ?? 'http_error',
      e?.message ?? `The server answered ${res.status} ${res.statusText}`,
      Array.isArray(e?.details) ? e.details : [],
    );
  }
  return json as T;
}

/** A query string from the set values of `q`. */
export function qs(q: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** A fresh Idempotency-Key: a retried or double-clicked submit creates one job, not two. */
export const idempotencyKey = () => crypto.randomUUID();

/**
 * Every value of a string union, each once, in the order written. The object literal must name every
 * member and nothing else, so a value the server adds or drops fails to compile here.
 */
const allOf = <T extends string>(members: Record<T, true>) => Object.keys(members) as T[];

/** The job statuses in lifecycle order (the jobs list's chips). */
export const JOB_STATUSES = allOf<JobStatus>({
  scheduled: true,
  running: true,
  retrying: true,
  succeeded: true,
  failed: true,
  cancelled: true,
});

/** The scopes an API key may carry, in the order the form offers them. */
export const SCOPES = allOf<Scope>({
  'jobs:read': true,
  'jobs:write': true,
  'schedules:read': true,
  'schedules:write': true,
});
