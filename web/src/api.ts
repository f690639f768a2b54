// The console's only way to the server: the public JSON API, same origin, with the session cookie
// (HttpOnly: this code never sees it) and the header that marks a request as the console's own
// (the CSRF defence the server checks, see src/http/sessionCookie.ts).

export interface ValidationDetail {
  path: string;
  message: string;
}

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
    const e = (json as { error?: { code?: string; message?: string; details?: ValidationDetail[] } } | null)
      ?.error;
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

// The API's shapes, as the console uses them (the OpenAPI document at /openapi.json is the reference).
export type JobStatus = 'scheduled' | 'running' | 'retrying' | 'succeeded' | 'failed' | 'cancelled';
export const JOB_STATUSES: JobStatus[] = [
  'scheduled',
  'running',
  'retrying',
  'succeeded',
  'failed',
  'cancelled',
];

export interface RetryPolicy {
  strategy: 'linear' | 'exponential';
  max_attempts: number;
  base_delay_ms: number;
  max_delay_ms: number;
}
export interface JobRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
}
export interface Execution {
  /** 1, plus one per re-drive; attempts count from 1 in each round. */
  round: number;
  attempt: number;
  started_at: string | null;
  finished_at: string;
  duration_ms: number | null;
  outcome: string;
  status_code: number | null;
  error: string | null;
  response_body: string | null;
  response_body_encoding: 'utf8' | 'base64';
  response_truncated: boolean;
}
export interface Job {
  id: string;
  name: string | null;
  status: JobStatus;
  request: JobRequest;
  /**
   * True on a schedule occurrence shown to an API key without schedules:read (header values
   * "[redacted]", body null). The console signs in with a session, so it always sees false.
   */
  redacted: boolean;
  fire_at: string;
  next_attempt_at: string | null;
  timeout_ms: number;
  retry: RetryPolicy;
  /** Attempts made in the current round. */
  attempts: number;
  round: number;
  schedule_id: string | null;
  scheduled_for: string | null;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
  last_execution: Omit<Execution, 'response_body' | 'response_body_encoding' | 'response_truncated'> | null;
}
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}
export interface FireTime {
  at: string;
  local: string;
}
export interface Schedule {
  id: string;
  name: string | null;
  cron: string;
  timezone: string;
  request: JobRequest;
  timeout_ms: number;
  retry: RetryPolicy;
  start_at: string | null;
  end_at: string | null;
  overlap: 'allow' | 'skip';
  misfire: 'skip' | 'run_once' | 'run_all';
  paused: boolean;
  status: string;
  next_runs: FireTime[];
  skipped_count: number;
  etag: string;
  created_at: string;
  updated_at: string;
}
export const SCOPES = ['jobs:read', 'jobs:write', 'schedules:read', 'schedules:write'] as const;
export interface ApiKey {
  id: string;
  name: string;
  scopes: string[];
  prefix: string;
  last_four: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}
export interface SigningSecret {
  secret: string;
  previous_secret: string | null;
  previous_valid_until: string | null;
}
export interface Me {
  id: string;
  email: string;
  created_at: string;
  /** The console's is always a session; an API key's names its id and scopes. */
  credential: { kind: 'session' } | { kind: 'api_key'; key_id: string; scopes: string[] };
}
