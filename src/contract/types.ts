// The shape of the API contract: one operation per route, declared once (src/contract/<resource>.ts)
// and read by the registrar (src/http/registrar.ts: access, `:id`, query, body, status, headers), the
// OpenAPI document (src/http/openapi/), the fuzz suite and the contract tests. Declarations only.
import type { ZodType } from 'zod';
import type { Scope } from '../auth/apiKeys.ts';
import type { ErrorCode } from '../errors.ts';

export type Json = Record<string, unknown>;
export type Method = 'get' | 'post' | 'patch' | 'delete';
export type Tag = 'auth' | 'api-keys' | 'jobs' | 'schedules' | 'signing-secret' | 'operations' | 'docs';

/** Who may call an operation. */
export type Access =
  | { kind: 'public' }
  /** A person's session only (requireSession): API keys are refused with 403 session_required. */
  | { kind: 'session' }
  /** A session or an API key with this scope (requireScope). */
  | { kind: 'scope'; scope: Scope }
  /** A session or any API key. */
  | { kind: 'any' };

export type ResponseHeader =
  'Location' | 'ETag' | 'Idempotent-Replayed' | 'Cache-Control' | 'Retry-After' | 'WWW-Authenticate';
export type RequestHeader = 'Idempotency-Key' | 'If-Match';

/**
 * The request schemas that depend on the deployment (the job's limits and target policy) or that the
 * services own: handed in by whoever builds the app or the document (see requestSchemas in ./index.ts).
 */
export interface RequestSchemas {
  jobCreate: ZodType;
  jobList: ZodType;
  jobCounts: ZodType;
  executions: ZodType;
  scheduleCreate: ZodType;
  schedulePatch: ZodType;
  scheduleList: ZodType;
  preview: ZodType;
}

/** A request schema: fixed, or this deployment's (picked from RequestSchemas). */
export type RequestSchema = ZodType | ((s: RequestSchemas) => ZodType);

export interface ResponseSpec {
  description: string;
  /** A response schema (a component of ./index.ts, referenced by its id) or an inline JSON Schema. */
  schema?: ZodType | Json;
  /** application/json unless given. */
  contentType?: string;
  headers?: readonly ResponseHeader[];
  example?: unknown;
}

export interface QuerySpec {
  /**
   * A strict zod object that takes each value as the URL carries it (a string) and parses it into
   * what it means (a number, a list of statuses), or the JSON Schema of a query checked by hand. The
   * document states what a value means: the parsed side of the schema.
   */
  schema: RequestSchema | Json;
  /** Parameters the service checks by hand after the schema (an RFC 3339 instant): their format. */
  formats?: Record<string, 'date-time'>;
  describe?: Record<string, string>;
  /** Example values, as what they mean (a list, a number). */
  example?: Record<string, unknown>;
}

export interface BodySpec {
  schema: RequestSchema;
  /** application/json (refused otherwise with 415) unless given. */
  contentType?: 'application/x-www-form-urlencoded';
  /**
   * The JSON parser: `small` (the app-wide 16 KiB one, the default), or the large ones of job creation
   * (`job`, `batch`), which run only after authentication.
   */
  parser?: 'small' | 'job' | 'batch';
  /**
   * `service`: the service validates the raw body itself (it checks a header first, or reports batch
   * items by index), so the registrar hands it on unparsed. Otherwise the registrar parses it.
   */
  checkedBy?: 'service';
  describe?: Record<string, string>;
  example?: unknown;
}

/** The `{id}` path parameter: a UUID naming a row of `resource` (a malformed one answers its 404). */
export interface IdParam {
  /** The noun of the 404: `${resource} not found`. */
  resource: string;
  description: string;
}

export interface OperationSpec {
  /** The operationId. */
  id: string;
  method: Method;
  /** OpenAPI form: `/v1/jobs/{id}`. */
  path: string;
  tag: Tag;
  summary: string;
  description?: string;
  access: Access;
  params?: { id: IdParam };
  query?: QuerySpec;
  requestHeaders?: readonly RequestHeader[];
  body?: BodySpec;
  responses: Readonly<Record<number, ResponseSpec>>;
  /**
   * Error codes beyond those the access rule, a JSON body and a query imply (src/http/openapi/
   * errors.ts); each is documented under the status the catalogue (src/errors.ts) gives it.
   */
  errors?: readonly ErrorCode[];
  /** False for routes that never touch the database (no 503 service_unavailable). */
  database?: boolean;
}

/**
 * A resource's operations, keyed by operationId (the key becomes `id`), with their literal types kept
 * so that a handler is typed by its operation's response schemas.
 */
export function defineOperations<const T extends Record<string, Omit<OperationSpec, 'id'>>>(
  ops: T,
): { [K in keyof T & string]: T[K] & { id: K } } {
  return Object.fromEntries(Object.entries(ops).map(([id, op]) => [id, { id, ...op }])) as {
    [K in keyof T & string]: T[K] & { id: K };
  };
}

/**
 * A path prefix under which every request needs a credential (`user`) or a session (`session`), known
 * route or not: an unknown path there answers 401 (or 403) before 404, so routes cannot be probed
 * without one.
 */
export interface Guard {
  prefix: string;
  access: 'user' | 'session';
}

/** A request schema as the deployment resolves it. */
export const resolveSchema = (schema: RequestSchema, s: RequestSchemas): ZodType =>
  typeof schema === 'function' ? schema(s) : schema;

export const isZod = (s: unknown): s is ZodType => typeof s === 'object' && s !== null && '_zod' in s;
