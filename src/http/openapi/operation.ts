// One contract operation as an OpenAPI operation: parameters, request body, responses, and every error
// code it can answer with, each under the status the catalogue (src/errors.ts) gives it.
import { z, type ZodType } from 'zod';
import {
  COMPONENTS,
  isZod,
  resolveSchema,
  type Access,
  type Json,
  type OperationSpec,
  type RequestSchemas,
  type ResponseSpec,
} from '../../contract/index.ts';
import { ERROR_EXAMPLE_DETAILS, ERROR_EXAMPLE_MESSAGES } from '../../contract/errors.ts';
import { ERROR_CATALOGUE, type ErrorCode } from '../../errors.ts';

export const TARGET = 'draft-2020-12';
const JSON_TYPE = 'application/json';
export const ref = (kind: 'schemas' | 'headers' | 'parameters', id: string) => ({
  $ref: `#/components/${kind}/${id}`,
});

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

/**
 * A query schema's parsed side as JSON Schema: what each value means once read (`limit` an integer,
 * `status` a list of statuses), which the document states rather than "a string". A transform's
 * result cannot be said in JSON Schema: the contract names its format (`formats`).
 */
function meaningSchema(schema: ZodType): Json {
  const json = z.toJSONSchema(schema, { target: TARGET, io: 'output', unrepresentable: 'any' }) as Json;
  delete json.$schema;
  return json;
}

/** z.int() states the safe-integer range as bounds: true of every integer we send, and noise. */
export function withoutSafeIntegerBounds<T>(v: T): T {
  if (Array.isArray(v)) return v.map(withoutSafeIntegerBounds) as T;
  if (v === null || typeof v !== 'object') return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) {
    if ((k === 'minimum' || k === 'maximum') && Math.abs(x as number) === Number.MAX_SAFE_INTEGER) continue;
    out[k] = withoutSafeIntegerBounds(x);
  }
  return out as T;
}

/** Every error code an operation can answer, by status (the catalogue's). */
export function errorCodes(op: OperationSpec): Map<number, ErrorCode[]> {
  const m = new Map<number, Set<ErrorCode>>();
  const add = (...codes: ErrorCode[]) => {
    for (const c of codes) {
      const status = ERROR_CATALOGUE[c];
      m.set(status, (m.get(status) ?? new Set<ErrorCode>()).add(c));
    }
  };
  // An API key that is malformed, unknown, revoked or expired: invalid_token; anything else
  // (no bearer, a bad or expired session, a session ended by logout): unauthorized.
  if (op.access.kind !== 'public') add('unauthorized', 'invalid_token');
  if (op.access.kind === 'session') add('session_required');
  if (op.access.kind === 'scope') add('insufficient_scope');
  if (op.body && !op.body.contentType) {
    add('validation_failed', 'malformed_json', 'invalid_utf8', 'request_aborted', 'bad_request');
    add('payload_too_large', 'unsupported_media_type');
  }
  if (op.query && (isZod(op.query.schema) || typeof op.query.schema === 'function')) add('validation_failed');
  if (op.requestHeaders?.includes('Idempotency-Key')) add('validation_failed');
  add(...(op.errors ?? []));
  if (op.database !== false) add('service_unavailable');
  add('internal_error');
  return new Map([...m].map(([s, codes]) => [s, [...codes]]));
}

/**
 * The error envelope (components.schemas.Error) with `code` narrowed to `codes`. Whole, not an allOf
 * of the envelope and a partial object: a partial object would leave the example's message unchecked
 * (and Redocly's example check, which closes every object, refuses it).
 */
function errorSchema(envelope: Json, codes: ErrorCode[]): Json {
  const error = (envelope.properties as Record<string, Json>).error!;
  const properties = error.properties as Json;
  return {
    ...envelope,
    properties: { error: { ...error, properties: { ...properties, code: { type: 'string', enum: codes } } } },
  };
}

function errorResponse(status: number, codes: ErrorCode[], envelope: Json): Json {
  const headers: Json = { 'X-Request-Id': ref('headers', 'X-Request-Id') };
  if (status === 401 || codes.includes('insufficient_scope'))
    headers['WWW-Authenticate'] = ref('headers', 'WWW-Authenticate');
  if (status === 429 || status === 503) headers['Retry-After'] = ref('headers', 'Retry-After');
  const code = codes[0]!;
  const details = ERROR_EXAMPLE_DETAILS[code];
  return {
    description: `Error: ${codes.map((c) => `\`${c}\``).join(', ')}`,
    headers,
    content: {
      [JSON_TYPE]: {
        schema: errorSchema(envelope, codes),
        example: {
          error: {
            code,
            message: ERROR_EXAMPLE_MESSAGES[code] ?? code,
            ...(details ? { details } : {}),
          },
        },
      },
    },
  };
}

/** A response schema: a named component by reference, or an inline JSON Schema. */
function responseSchema(schema: ZodType | Json): Json {
  if (!isZod(schema)) return schema;
  const id = COMPONENTS.get(schema)?.id;
  if (id === undefined) throw new Error('a response schema is not a component (src/contract/index.ts)');
  return ref('schemas', id);
}

function successResponse(r: ResponseSpec): Json {
  const headers: Json = { 'X-Request-Id': ref('headers', 'X-Request-Id') };
  for (const h of r.headers ?? []) headers[h] = ref('headers', h);
  const out: Json = { description: r.description, headers };
  if (r.schema !== undefined || r.contentType !== undefined) {
    const schema = r.schema === undefined ? { type: 'string' } : responseSchema(r.schema);
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

function queryParameters(op: OperationSpec, s: RequestSchemas): Json[] {
  if (!op.query) return [];
  const { schema, formats, describe, example } = op.query;
  const parsed = isZod(schema) || typeof schema === 'function' ? resolveSchema(schema, s) : undefined;
  // What a client must send: the input side. What each value means: the parsed side, and a list is
  // one comma-separated value (`status=failed,retrying`).
  const q = parsed ? inputSchema(parsed) : (schema as Json);
  const meaning = (parsed ? meaningSchema(parsed).properties : q.properties) as Record<string, Json>;
  const required = (q.required as string[] | undefined) ?? [];
  return Object.keys((q.properties ?? {}) as Json).map((name) => {
    const format = formats?.[name];
    const p = format ? { type: 'string', format } : withoutSafeIntegerBounds(meaning[name]!);
    return {
      name,
      in: 'query',
      required: required.includes(name),
      ...(describe?.[name] ? { description: describe[name] } : {}),
      ...(p.type === 'array' ? { style: 'form', explode: false } : {}),
      schema: p,
      ...(example?.[name] === undefined ? {} : { example: example[name] }),
    };
  });
}

/**
 * The OpenAPI operation object. `errorEnvelope`: components.schemas.Error, which each error response
 * narrows to its codes.
 */
export function operation(op: OperationSpec, s: RequestSchemas, errorEnvelope: Json): Json {
  const parameters: Json[] = [];
  if (op.params?.id)
    parameters.push({
      name: 'id',
      in: 'path',
      required: true,
      description: op.params.id.description,
      schema: { type: 'string' },
    });
  parameters.push(...queryParameters(op, s));
  for (const h of op.requestHeaders ?? []) parameters.push(ref('parameters', h));

  const responses: Json = {};
  for (const [status, r] of Object.entries(op.responses)) responses[status] = successResponse(r);
  for (const [status, codes] of errorCodes(op)) {
    if (responses[status]) throw new Error(`${op.id}: ${status} is both a response and an error`);
    responses[status] = errorResponse(status, codes, errorEnvelope);
  }

  const out: Json = {
    operationId: op.id,
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
          schema: describeProperties(inputSchema(resolveSchema(op.body.schema, s)), op.body.describe),
          ...(op.body.example === undefined ? {} : { example: op.body.example }),
        },
      },
    };
  }
  out.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b)));
  return out;
}
