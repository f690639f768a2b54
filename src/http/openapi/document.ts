// The OpenAPI 3.1 document, generated: request schemas are the services' own zod schemas (converted
// with z.toJSONSchema, io: 'input', so it documents what a client sends, defaults included), response
// schemas are ./schemas.ts, and the operations with their errors are ./operations.ts.
import { z, type ZodType } from 'zod';
import { SCOPES } from '../../auth/apiKeys.ts';
import type { ErrorCode } from '../../errors.ts';
import { components } from './schemas.ts';
import {
  operations,
  type Access,
  type OperationSpec,
  type RequestSchemas,
  type ResponseSpec,
} from './operations.ts';

type Json = Record<string, unknown>;

const TARGET = 'draft-2020-12';
const JSON_TYPE = 'application/json';
const ref = (kind: 'schemas' | 'headers' | 'parameters', id: string) => ({
  $ref: `#/components/${kind}/${id}`,
});

const isZod = (s: unknown): s is ZodType => typeof s === 'object' && s !== null && '_zod' in s;

/**
 * A request schema as JSON Schema: what a client may send. A pipe from `z.unknown()` (a pre-check,
 * then the real schema: the job's `headers`) accepts exactly what its output schema accepts, so it is
 * documented as that rather than as "anything".
 */
const INPUT: z.core.ToJSONSchemaParams = {
  target: TARGET,
  io: 'input',
  override: ({ zodSchema, jsonSchema }) => {
    const def = zodSchema._zod.def;
    if (def.type === 'pipe' && def.in._zod.def.type === 'unknown') {
      const out = z.toJSONSchema(def.out, INPUT) as Json;
      delete out.$schema;
      Object.assign(jsonSchema, out);
    }
  },
};

function inputSchema(schema: ZodType): Json {
  const json = z.toJSONSchema(schema, INPUT) as Json;
  delete json.$schema;
  return json;
}

/** components.schemas: the named response schemas, referencing each other. */
function responseComponents(): Record<string, Json> {
  const { schemas } = z.toJSONSchema(components, {
    target: TARGET,
    io: 'output',
    uri: (id) => `#/components/schemas/${id}`,
  });
  if ('__shared' in schemas) throw new Error('a response schema is shared without an id');
  return Object.fromEntries(
    Object.entries(schemas).map(([id, s]) => {
      const { $id: _id, $schema: _schema, ...rest } = s as Json;
      return [id, withoutSafeIntegerBounds(rest)];
    }),
  );
}

/** z.int() states the safe-integer range as bounds: true of every integer we send, and noise. */
function withoutSafeIntegerBounds<T>(v: T): T {
  if (Array.isArray(v)) return v.map(withoutSafeIntegerBounds) as T;
  if (v === null || typeof v !== 'object') return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) {
    if ((k === 'minimum' || k === 'maximum') && Math.abs(x as number) === Number.MAX_SAFE_INTEGER) continue;
    out[k] = withoutSafeIntegerBounds(x);
  }
  return out as T;
}

/** Messages of the examples of error responses (the real ones may say more). */
const MESSAGES: Partial<Record<ErrorCode, string>> = {
  validation_failed: 'the request is not valid',
  malformed_json: 'the request body is not valid JSON',
  invalid_utf8: 'the request body is not valid UTF-8',
  request_aborted: 'the request was aborted',
  bad_request: 'the request could not be read',
  unauthorized: 'a valid bearer token is required',
  invalid_token: 'the API key is invalid, expired or revoked',
  session_required: 'this route needs a session token (sign in); API keys cannot use it',
  insufficient_scope: 'this API key lacks the scope jobs:write',
  not_found: 'job not found',
  idempotency_key_reused: 'this Idempotency-Key was used with a different request body',
  precondition_failed: 'the schedule changed since you read it (ETag mismatch)',
  concurrent_change: 'the schedule kept changing while this edit was applied; nothing was written, retry',
  payload_too_large: 'the request body is too large',
  unsupported_media_type: 'send the body as application/json',
  rate_limited: 'too many requests',
  quota_exceeded: 'at most 10000 active jobs per user',
  internal_error: 'internal server error',
  service_unavailable: 'the database is unavailable; retry shortly',
};
const exampleDetails: Record<string, unknown> = {
  validation_failed: [{ path: 'request.url', message: 'must be an absolute http(s) URL' }],
  insufficient_scope: { needed: 'jobs:write' },
};

/** Every error code an operation can answer, by status. */
export function errorCodes(op: OperationSpec): Map<number, ErrorCode[]> {
  const m = new Map<number, Set<ErrorCode>>();
  const add = (status: number, ...codes: ErrorCode[]) => {
    const set = m.get(status) ?? new Set<ErrorCode>();
    for (const c of codes) set.add(c);
    m.set(status, set);
  };
  // An API key that is malformed, unknown, revoked or expired: invalid_token; anything else
  // (no bearer, a bad or expired session, a session ended by logout): unauthorized.
  if (op.access.kind !== 'public') add(401, 'unauthorized', 'invalid_token');
  if (op.access.kind === 'session') add(403, 'session_required');
  if (op.access.kind === 'scope') add(403, 'insufficient_scope');
  if (op.body && !op.body.contentType) {
    add(400, 'validation_failed', 'malformed_json', 'invalid_utf8', 'request_aborted', 'bad_request');
    add(413, 'payload_too_large');
    add(415, 'unsupported_media_type');
  }
  if (op.query && isZod(op.query.schema)) add(400, 'validation_failed');
  if (op.requestHeaders?.includes('Idempotency-Key')) add(400, 'validation_failed');
  for (const [status, codes] of Object.entries(op.errors ?? {})) add(Number(status), ...codes);
  if (op.database !== false) add(503, 'service_unavailable');
  add(500, 'internal_error');
  return new Map([...m].map(([s, codes]) => [s, [...codes]]));
}

function errorResponse(status: number, codes: ErrorCode[]): Json {
  const headers: Json = { 'X-Request-Id': ref('headers', 'X-Request-Id') };
  if (status === 401 || codes.includes('insufficient_scope'))
    headers['WWW-Authenticate'] = ref('headers', 'WWW-Authenticate');
  if (status === 429 || status === 503) headers['Retry-After'] = ref('headers', 'Retry-After');
  const code = codes[0]!;
  return {
    description: `Error: ${codes.map((c) => `\`${c}\``).join(', ')}`,
    headers,
    content: {
      [JSON_TYPE]: {
        schema: {
          allOf: [ref('schemas', 'Error')],
          properties: { error: { properties: { code: { enum: codes } } } },
        },
        example: {
          error: {
            code,
            message: MESSAGES[code] ?? code,
            ...(exampleDetails[code] ? { details: exampleDetails[code] } : {}),
          },
        },
      },
    },
  };
}

function successResponse(r: ResponseSpec): Json {
  const headers: Json = { 'X-Request-Id': ref('headers', 'X-Request-Id') };
  for (const h of r.headers ?? []) headers[h] = ref('headers', h);
  const out: Json = { description: r.description, headers };
  if (r.schema !== undefined || r.contentType !== undefined) {
    const schema =
      r.schema === undefined
        ? { type: 'string' }
        : typeof r.schema === 'string'
          ? ref('schemas', r.schema)
          : r.schema;
    out.content = {
      [r.contentType ?? JSON_TYPE]: { schema, ...(r.example === undefined ? {} : { example: r.example }) },
    };
  }
  return out;
}

function security(a: Access): Json[] {
  switch (a.kind) {
    case 'public':
      return [];
    case 'session':
      return [{ session: [] }];
    case 'any':
      return [{ session: [] }, { apiKey: [] }];
    case 'scope':
      return [{ session: [] }, { apiKey: [a.scope] }];
  }
}

function accessNote(a: Access): string {
  switch (a.kind) {
    case 'public':
      return 'No authentication.';
    case 'session':
      return 'Needs a session (API keys are refused: 403 `session_required`).';
    case 'any':
      return 'A session or an API key (any scope).';
    case 'scope':
      return `A session, or an API key with the scope \`${a.scope}\` (otherwise 403 \`insufficient_scope\`).`;
  }
}

function describeProperties(schema: Json, docs: Record<string, string> | undefined): Json {
  const props = schema.properties as Record<string, Json> | undefined;
  for (const [name, text] of Object.entries(docs ?? {})) {
    if (!props?.[name]) throw new Error(`no property ${name} to describe`);
    props[name] = { ...props[name], description: text };
  }
  return schema;
}

function operation(op: OperationSpec): Json {
  const parameters: Json[] = [];
  if (op.path.includes('{id}'))
    parameters.push({
      name: 'id',
      in: 'path',
      required: true,
      description: op.id,
      schema: { type: 'string' },
    });
  if (op.query) {
    const q = isZod(op.query.schema) ? inputSchema(op.query.schema) : op.query.schema;
    const required = (q.required as string[] | undefined) ?? [];
    for (const [name, schema] of Object.entries((q.properties ?? {}) as Record<string, Json>)) {
      const example = op.query.example?.[name];
      parameters.push({
        name,
        in: 'query',
        required: required.includes(name),
        ...(op.query.describe?.[name] ? { description: op.query.describe[name] } : {}),
        schema,
        ...(example === undefined ? {} : { example }),
      });
    }
  }
  for (const h of op.requestHeaders ?? []) parameters.push(ref('parameters', h));

  const responses: Json = {};
  for (const [status, r] of Object.entries(op.responses)) responses[status] = successResponse(r);
  for (const [status, codes] of errorCodes(op)) {
    if (responses[status]) throw new Error(`${op.operationId}: ${status} is both a response and an error`);
    responses[status] = errorResponse(status, codes);
  }

  const out: Json = {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    description: [op.description, accessNote(op.access)].filter(Boolean).join('\n\n'),
    security: security(op.access),
    ...(op.access.kind === 'scope' ? { 'x-scopes': [op.access.scope] } : {}),
    ...(op.access.kind === 'session' ? { 'x-session-only': true } : {}),
  };
  if (parameters.length) out.parameters = parameters;
  if (op.body) {
    out.requestBody = {
      required: true,
      content: {
        [op.body.contentType ?? JSON_TYPE]: {
          schema: describeProperties(inputSchema(op.body.schema), op.body.describe),
          ...(op.body.example === undefined ? {} : { example: op.body.example }),
        },
      },
    };
  }
  out.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b)));
  return out;
}

const DESCRIPTION = `Fires HTTP requests at the time you chose: one-off jobs and cron schedules, retried with
backoff, signed with Standard Webhooks.

**Authentication.** Every \`/v1\` route but sign-in takes \`Authorization: Bearer …\`, either
- a **session** (an HS256 JWT from \`POST /v1/auth/session\`, or the sign-in page), which may do everything, or
- an **API key** (\`djs_…\`, from \`POST /v1/api-keys\`), limited to its scopes: ${SCOPES.map((s) => `\`${s}\``).join(', ')}.
  Scopes do not imply each other (write does not include read). Keys cannot manage keys, the signing
  secret or sessions (403 \`session_required\`). Each operation lists the scope it needs (\`x-scopes\`,
  and the \`apiKey\` security requirement). A schedule's occurrences are jobs, but their request
  template is schedules data: to a key without \`schedules:read\` every header value of it reads
  \`[redacted]\` (names kept) and its \`body\` is null, marked \`"redacted": true\`.
  \`GET /v1/me\` names the credential a request uses and, for a key, its scopes.

**Errors** are \`{"error": {"code", "message", "details"?}}\` (schema \`Error\`); \`code\` is stable,
\`message\` is for people. Each operation lists the codes it can answer with. Besides those, any request
whose body cannot be read answers 400 \`malformed_json\`/\`invalid_utf8\`/\`bad_request\`, 413
\`payload_too_large\` or 415 \`unsupported_media_type\`, an unknown path 404 \`not_found\`, and a request
that is not HTTP as Node parses it 400 \`bad_request\` (431 \`headers_too_large\` for oversized headers;
these come without \`X-Request-Id\`). Every other response carries \`X-Request-Id\`.

**Lists** are pages \`{data, next_cursor}\`: pass \`next_cursor\` as \`cursor\` for the next page.
Unknown query parameters are refused (400 \`validation_failed\`), as are unknown body fields.`;

/** The document for a deployment: its public URL and the schemas its services validate with. */
export function openApiDocument(opts: { publicUrl: string; version: string; schemas: RequestSchemas }): Json {
  const paths: Record<string, Json> = {};
  for (const op of operations(opts.schemas)) {
    const item = (paths[op.path] ??= {});
    if (item[op.method]) throw new Error(`${op.method} ${op.path} is listed twice`);
    item[op.method] = operation(op);
  }
  return {
    openapi: '3.1.1',
    info: {
      title: 'dist-job-scheduler',
      version: opts.version,
      description: DESCRIPTION,
    },
    servers: [{ url: opts.publicUrl.replace(/\/+$/, '') }],
    tags: [
      { name: 'auth', description: 'Sign in with an emailed link; sessions' },
      { name: 'api-keys', description: 'Keys for backends, with scopes (session only)' },
      { name: 'jobs', description: 'One-off HTTP requests fired at a chosen time' },
      { name: 'schedules', description: 'Recurring requests on a cron expression in a time zone' },
      {
        name: 'signing-secret',
        description: 'The Standard Webhooks secret your receivers verify (session only)',
      },
      {
        name: 'operations',
        description: 'Probes (status only; metrics and readiness detail are on the operator port)',
      },
      { name: 'docs', description: 'This document and its reference page' },
    ],
    paths,
    components: {
      schemas: responseComponents(),
      securitySchemes: {
        session: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'A session: the access_token of POST /v1/auth/session. Grants every scope; ends at expires_at or on logout.',
        },
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'djs_ + 43 base64url characters',
          description: `An API key from POST /v1/api-keys, limited to its scopes (${SCOPES.join(', ')}); the scope an operation needs is in its security requirement and \`x-scopes\`. Refused on session-only routes.`,
        },
      },
      parameters: {
        'Idempotency-Key': {
          name: 'Idempotency-Key',
          in: 'header',
          required: false,
          description:
            'Makes the create safe to repeat: the same key and body answer the original (200, Idempotent-Replayed: true); the same key with another body answers 409 idempotency_key_reused. A key is remembered as long as the job it created is kept: while it is scheduled, running or retrying, and then RETENTION_SUCCEEDED_DAYS, RETENTION_CANCELLED_DAYS or RETENTION_FAILED_DAYS after it finished (7, 7 and 30 by default; 0 keeps it forever). Once retention has deleted the job, the same key creates a new job. Keys are per user.',
          schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
          example: 'report-2026-11-24',
        },
        'If-Match': {
          name: 'If-Match',
          in: 'header',
          required: false,
          description:
            'The ETag read earlier, a list of ETags, or *: the change is refused with 412 if the schedule changed since (none of them is current).',
          schema: { type: 'string' },
          example: '"v1"',
        },
      },
      headers: {
        'X-Request-Id': {
          description:
            'The request id: a well-formed incoming X-Request-Id, or a new UUID. Logged with the request.',
          schema: { type: 'string' },
        },
        Location: { description: 'The path of the resource', schema: { type: 'string' } },
        ETag: { description: "The schedule's version; send it as If-Match", schema: { type: 'string' } },
        'Idempotent-Replayed': { description: 'An idempotent replay', schema: { const: 'true' } },
        'Cache-Control': { description: 'Secrets are never cached', schema: { const: 'no-store' } },
        'Retry-After': { description: 'Seconds to wait', schema: { type: 'string', pattern: '^[0-9]+$' } },
        'WWW-Authenticate': {
          description: 'Bearer, with error="invalid_token" or error="insufficient_scope" and the scope',
          schema: { type: 'string' },
        },
      },
    },
  };
}
