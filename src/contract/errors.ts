// What every error answer looks like (src/http/middleware.ts's errorHandler), and the messages of the
// document's error examples. The codes and their statuses are the catalogue in src/errors.ts.
// Declarative data.
import { z } from 'zod';
import { SCOPES } from '../auth/apiKeys.ts';
import type { ErrorCode } from '../errors.ts';

export const ValidationDetail = z.strictObject({
  path: z.string().describe('a dotted field path, a header or query name, or "(body)"'),
  message: z.string(),
});

export const ErrorDetails = z.union([
  z.array(ValidationDetail).describe('validation_failed: every problem found'),
  z.strictObject({ needed: z.enum(SCOPES) }).describe('insufficient_scope: the scope needed'),
]);

/**
 * `{"error": {code, message, details?}}`: every error the API answers in JSON. Each error response of
 * the document narrows `code` to the codes it can carry (src/http/openapi/operation.ts).
 */
export const ErrorEnvelope = z.strictObject({
  error: z.strictObject({
    code: z.string().describe('stable and machine-readable; the message is for people'),
    message: z.string(),
    details: ErrorDetails.optional(),
  }),
});

/** The response schemas, by component id, in the document's order. */
export const errorSchemas = { ValidationDetail, ErrorDetails, Error: ErrorEnvelope };

/** Messages of the examples of error responses (the real ones may say more). */
export const ERROR_EXAMPLE_MESSAGES: Partial<Record<ErrorCode, string>> = {
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

/** Details of the examples of error responses, for the codes that carry them. */
export const ERROR_EXAMPLE_DETAILS: Partial<Record<ErrorCode, unknown>> = {
  validation_failed: [{ path: 'request.url', message: 'must be an absolute http(s) URL' }],
  insufficient_scope: { needed: 'jobs:write' },
};
