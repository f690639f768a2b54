// The OpenAPI 3.1 document, generated from the contract (src/contract/) and nothing else: its
// operations (./operation.ts renders each), its named response schemas, and the request schemas the
// deployment validates with (converted with z.toJSONSchema, io: 'input', so the document says what a
// client sends, defaults included). Mostly declarative: the texts, tags, security schemes and shared
// parameters and headers.
import { z } from 'zod';
import { SCOPES } from '../../auth/apiKeys.ts';
import { COMPONENTS, OPERATIONS, type Json, type RequestSchemas } from '../../contract/index.ts';
import { operation, TARGET, withoutSafeIntegerBounds } from './operation.ts';

/** components.schemas: the named response schemas, referencing each other. */
function responseComponents(): Record<string, Json> {
  const { schemas } = z.toJSONSchema(COMPONENTS, {
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
  const schemas = responseComponents();
  const paths: Record<string, Json> = {};
  for (const op of OPERATIONS) {
    const item = (paths[op.path] ??= {});
    if (item[op.method]) throw new Error(`${op.method} ${op.path} is listed twice`);
    item[op.method] = operation(op, opts.schemas, schemas.Error!);
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
      schemas,
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
