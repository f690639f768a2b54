// API keys: a signed-in person manages the keys their backends use (session only: keys cannot mint,
// list or revoke keys). The create body is the key service's own schema. Declarative data.
import { z } from 'zod';
import { SCOPES } from '../auth/apiKeys.ts';
import { createBody } from '../auth/apiKeyService.ts';
import { EXAMPLE_IDS, instant, nullableInstant, uuid } from './shared.ts';
import { defineOperations, type Guard } from './types.ts';

export const ApiKey = z.strictObject({
  id: uuid,
  name: z.string(),
  scopes: z.array(z.enum(SCOPES)),
  prefix: z.string().describe('the first 10 characters of the key'),
  last_four: z.string(),
  created_at: instant,
  expires_at: nullableInstant,
  last_used_at: nullableInstant.describe('updated at most once a minute'),
});
export const ApiKeyCreated = ApiKey.extend({
  key: z
    .string()
    .regex(/^djs_[A-Za-z0-9_-]{43}$/)
    .describe('the key itself: shown in this response only, never again'),
});
export const ApiKeyList = z.strictObject({ data: z.array(ApiKey) });

/** The response schemas, by component id, in the document's order. */
export const apiKeySchemas = { ApiKey, ApiKeyCreated, ApiKeyList };

/** Every request under /v1/api-keys needs a session, known route or not. */
export const apiKeyGuards: Guard[] = [{ prefix: '/v1/api-keys', access: 'session' }];

const apiKeyExample = {
  id: EXAMPLE_IDS.apiKey,
  name: 'ci backend',
  scopes: ['jobs:read', 'jobs:write'],
  prefix: 'djs_q8Zt3L',
  last_four: 'x9Qw',
  created_at: '2026-11-24T08:00:00.000Z',
  expires_at: null,
  last_used_at: null,
} satisfies z.output<typeof ApiKey>;

export const apiKeyOperations = defineOperations({
  createApiKey: {
    method: 'post',
    path: '/v1/api-keys',
    tag: 'api-keys',
    summary: 'Create an API key (shown once)',
    description: 'Only its hash is stored. Keys cannot create keys: this needs a session.',
    access: { kind: 'session' },
    body: { schema: createBody, example: { name: 'ci backend', scopes: ['jobs:read', 'jobs:write'] } },
    responses: {
      201: {
        description: 'the key, with `key` shown this once',
        schema: ApiKeyCreated,
        headers: ['Location', 'Cache-Control'],
        example: { ...apiKeyExample, key: 'djs_q8Zt3LmN4pQ7rS1tU5vW9xY2zA6bC0dE3fG7hJkx9Qw' },
      },
    },
    errors: ['api_key_limit_reached'],
  },
  listApiKeys: {
    method: 'get',
    path: '/v1/api-keys',
    tag: 'api-keys',
    summary: 'List live API keys (never the key itself)',
    access: { kind: 'session' },
    responses: {
      200: {
        description: 'every live key of the user',
        schema: ApiKeyList,
        example: { data: [apiKeyExample] },
      },
    },
  },
  revokeApiKey: {
    method: 'delete',
    path: '/v1/api-keys/{id}',
    tag: 'api-keys',
    summary: 'Revoke an API key',
    description: 'Takes effect at once on every replica.',
    access: { kind: 'session' },
    params: {
      id: {
        resource: 'API key',
        description: "the key id (UUID); another user's key or a malformed id answer 404",
      },
    },
    responses: { 204: { description: 'revoked' } },
    errors: ['not_found'],
  },
});
