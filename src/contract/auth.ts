// Sign-in and sessions: the emailed link, its confirm page and form (HTML, registered by hand but
// declared here all the same), the session exchange, logout, and who is calling. Declarative data.
import { z } from 'zod';
import { SCOPES } from '../auth/apiKeys.ts';
import { emailSchema } from '../auth/service.ts';
import { EXAMPLE_IDS, instant, uuid } from './shared.ts';
import { defineOperations } from './types.ts';

export const magicLinkBody = z.strictObject({ email: emailSchema });
export const sessionBody = z.strictObject({ token: z.string().min(1).max(500) });

export const Session = z.strictObject({
  access_token: z.string().describe('an HS256 JWT; send as `Authorization: Bearer …`'),
  token_type: z.literal('Bearer'),
  expires_at: instant,
  user: z.strictObject({ id: uuid, email: z.string() }),
});
export const Me = z.strictObject({
  id: uuid,
  email: z.string(),
  created_at: instant,
  credential: z
    .discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('session') }),
      z.strictObject({ kind: z.literal('api_key'), key_id: uuid, scopes: z.array(z.enum(SCOPES)) }),
    ])
    .describe(
      'what this request authenticated with: a session may call every route; an API key, the routes its scopes allow (never the session-only ones)',
    ),
});
export const LinkSent = z.strictObject({ status: z.literal('sent') });

/** The response schemas, by component id, in the document's order. */
export const authSchemas = { Session, Me, LinkSent };

const HTML = 'text/html';
const TOKEN_EXAMPLE = 'Wm9vVGhlTGlua1Rva2VuSXNMb25nRW5vdWdo';

export const authOperations = defineOperations({
  requestMagicLink: {
    method: 'post',
    path: '/v1/auth/magic-link',
    tag: 'auth',
    summary: 'Email a sign-in link',
    description:
      'Always 202, whether or not the account exists. Limited per email and per client IP (IPv4 address or IPv6 /64) per hour.',
    access: { kind: 'public' },
    body: { schema: magicLinkBody, example: { email: 'ada@example.com' } },
    responses: {
      202: { description: 'the link is on its way', schema: LinkSent, example: { status: 'sent' } },
    },
    errors: ['rate_limited'],
  },
  showSignInPage: {
    method: 'get',
    path: '/v1/auth/verify',
    tag: 'auth',
    summary: 'The page a sign-in link opens',
    description:
      'An HTML page naming the account the link signs into, with a "Sign in" button that POSTs the token; no side effect (mail scanners open links). An unusable link shows the "invalid link" page at once.',
    access: { kind: 'public' },
    // Checked in the route itself (an HTML page answers, not validation_failed).
    query: {
      schema: {
        type: 'object',
        properties: { token: { type: 'string', minLength: 1, maxLength: 500 } },
        required: ['token'],
      },
      describe: { token: 'the token of the sign-in link' },
    },
    responses: {
      200: { description: 'the confirm page', contentType: HTML },
      400: { description: 'no token, or one too long: an "invalid link" page', contentType: HTML },
      401: {
        description: 'the link is invalid, expired or already used: an "invalid link" page',
        contentType: HTML,
      },
    },
  },
  signInWithForm: {
    method: 'post',
    path: '/v1/auth/verify',
    tag: 'auth',
    summary: "The confirm page's form: sign in and show the access token",
    description:
      'Login CSRF: refused (403) unless Sec-Fetch-Site is same-origin or none, or, without it, Origin is the public origin.',
    access: { kind: 'public' },
    body: {
      schema: sessionBody,
      contentType: 'application/x-www-form-urlencoded',
      example: { token: TOKEN_EXAMPLE },
    },
    responses: {
      200: {
        description: 'signed in: a page with the access token, its expiry and a curl example',
        contentType: HTML,
      },
      401: { description: 'the link is invalid, expired or already used', contentType: HTML },
      403: { description: 'a cross-site form post (login CSRF)', contentType: HTML },
    },
    errors: ['request_aborted', 'bad_request', 'payload_too_large', 'unsupported_media_type'],
  },
  createSession: {
    method: 'post',
    path: '/v1/auth/session',
    tag: 'auth',
    summary: "Exchange a sign-in link's token for a session",
    description: 'A link works once. The session is an HS256 JWT; POST /v1/auth/logout ends every session.',
    access: { kind: 'public' },
    body: { schema: sessionBody, example: { token: TOKEN_EXAMPLE } },
    responses: {
      200: {
        description: 'the session',
        schema: Session,
        headers: ['Cache-Control'],
        example: {
          access_token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI1YTRiIn0.c2lnbmF0dXJl',
          token_type: 'Bearer',
          expires_at: '2026-11-25T08:00:00.000Z',
          user: { id: EXAMPLE_IDS.user, email: 'ada@example.com' },
        },
      },
    },
    errors: ['invalid_token'],
  },
  logout: {
    method: 'post',
    path: '/v1/auth/logout',
    tag: 'auth',
    summary: 'End every session of the user',
    description: 'All earlier session tokens stop working; API keys are not affected.',
    access: { kind: 'session' },
    responses: { 204: { description: 'signed out' } },
  },
  getMe: {
    method: 'get',
    path: '/v1/me',
    tag: 'auth',
    summary: 'The signed-in user, and what the credential used may call',
    description:
      '`credential` is `{"kind": "session"}` (every route) or `{"kind": "api_key", "key_id", "scopes"}`: the routes whose scope the key carries, with schedule occurrences\' request templates withheld unless it carries `schedules:read`.',
    access: { kind: 'any' },
    responses: {
      200: {
        description: 'the user and the credential',
        schema: Me,
        example: {
          id: EXAMPLE_IDS.user,
          email: 'ada@example.com',
          created_at: '2026-11-01T10:00:00.000Z',
          credential: { kind: 'api_key', key_id: EXAMPLE_IDS.apiKey, scopes: ['jobs:read', 'jobs:write'] },
        },
      },
    },
  },
});
