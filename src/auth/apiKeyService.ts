// API keys for backends: create (the key is shown once), list (never the secret), revoke, and
// authenticate a request by key. Keys belong to a user: rate limits and quotas stay per user,
// whichever credential a request carries.
import crypto from 'node:crypto';
import { AuthCache } from './authCache.ts';
import type { KeyCredential, Principal } from './principal.ts';
import { z } from 'zod';
import { withTransaction, type Pool } from '../db/pool.ts';
import { lockUserQuota } from '../sql/users.ts';
import { fail, isUuid, notFound, parseOrThrow } from '../errors.ts';
import * as keys from '../sql/apiKeys.ts';
import { generateApiKey, hashApiKey, isWellFormedApiKey, SCOPES, type Scope } from './apiKeys.ts';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

/** The create request (exported for the OpenAPI document, which is generated from it). */
export const createBody = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .refine((s) => !CONTROL.test(s) && s.isWellFormed(), 'must be plain text (no control characters)'),
  scopes: z
    .array(z.enum(SCOPES, { message: `each scope must be one of ${SCOPES.join(', ')}` }))
    .min(1, 'give at least one scope')
    .max(SCOPES.length)
    .refine((s) => new Set(s).size === s.length, 'scopes must not repeat'),
  expires_at: z.iso
    .datetime({ offset: true, message: 'must be an ISO-8601 date-time with an offset or Z' })
    .transform((s) => new Date(s))
    .refine((d) => d.getTime() > Date.now(), 'must be in the future')
    .optional(),
});

export interface ApiKeyPrincipal {
  user: { id: string; email: string; created_at: Date };
  credential: KeyCredential;
}

/** One answer for revoked, expired, unknown and malformed keys: which one it was is nobody's business. */
export const invalidKey = () =>
  fail('invalid_token', 'the API key is invalid, expired or revoked', {
    headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
  });

export function keyJson(k: keys.ApiKeyRow) {
  return {
    id: k.id,
    name: k.name,
    scopes: k.scopes,
    prefix: k.prefix,
    last_four: k.last_four,
    created_at: k.created_at.toISOString(),
    expires_at: k.expires_at?.toISOString() ?? null,
    last_used_at: k.last_used_at?.toISOString() ?? null,
  };
}

export class ApiKeyService {
  constructor(
    private readonly deps: {
      pool: Pool;
      maxPerUser: number;
      onTouchError?: (err: unknown) => void;
      /** Verified keys, trusted while revocations are heard (authCache.ts); none: every request queries. */
      cache?: AuthCache<Principal>;
    },
  ) {}

  /** Creates a key; the response is the only time the key itself is ever shown. */
  async create(userId: string, body: unknown) {
    const input = parseOrThrow(createBody, body);
    const k = generateApiKey();
    const row = await withTransaction(this.deps.pool, async (tx) => {
      await lockUserQuota(tx, userId, 'api_keys');
      if ((await keys.countApiKeys(tx, userId)) >= this.deps.maxPerUser) {
        throw fail(
          'api_key_limit_reached',
          `at most ${this.deps.maxPerUser} API keys per user; revoke one first`,
        );
      }
      return keys.insertApiKey(tx, {
        userId,
        name: input.name,
        scopes: input.scopes,
        hash: k.hash,
        prefix: k.prefix,
        lastFour: k.lastFour,
        expiresAt: input.expires_at ?? null,
      });
    });
    return { ...keyJson(row), key: k.key };
  }

  async list(userId: string) {
    return { data: (await keys.listApiKeys(this.deps.pool, userId)).map(keyJson) };
  }

  async revoke(userId: string, id: string): Promise<void> {
    if (!isUuid(id) || !(await keys.revokeApiKey(this.deps.pool, userId, id))) throw notFound('API key');
    // This server drops it before answering; the others when the NOTIFY arrives.
    this.deps.cache?.invalidate(`key:${id}`);
  }

  /**
   * The user and scopes behind a bearer key: checked against the database, or taken from the auth
   * cache while it hears revocations (authCache.ts).
   */
  async authenticate(token: string): Promise<ApiKeyPrincipal> {
    if (!isWellFormedApiKey(token)) throw invalidKey();
    const hash = hashApiKey(token);
    const cache = this.deps.cache;
    // The key's SHA-256 is already a digest: it serves as the cache key as it is.
    const cacheKey = cache ? hash.toString('base64url') : '';
    const hit = cache?.get('api_key', cacheKey);
    // A key's entry holds a key credential; the kind check only narrows the type.
    if (hit && hit.principal.credential.kind === 'api_key') {
      if (hit.touchedAt !== undefined && Date.now() - hit.touchedAt > 60_000) {
        hit.touchedAt = Date.now();
        keys.touchApiKey(this.deps.pool, hit.keyId!).catch((err: unknown) => this.deps.onTouchError?.(err));
      }
      return { user: hit.principal.user, credential: hit.principal.credential };
    }
    const generation = cache?.generation ?? 0;
    const p = await keys.authenticateApiKey(this.deps.pool, hash);
    // The index lookup already matched the hash; comparing again in constant time costs nothing and
    // keeps the check independent of how the database compares bytea.
    if (!p || !crypto.timingSafeEqual(p.key_hash, hash)) throw invalidKey();
    // Once a minute per key, not per request; the request does not wait for it.
    if (p.stale)
      keys.touchApiKey(this.deps.pool, p.key_id).catch((err: unknown) => this.deps.onTouchError?.(err));
    const principal: ApiKeyPrincipal = {
      user: { id: p.user_id, email: p.email, created_at: p.created_at },
      credential: { kind: 'api_key', keyId: p.key_id, scopes: p.scopes as Scope[] },
    };
    cache?.set(
      cacheKey,
      {
        kind: 'api_key',
        principal,
        userId: p.user_id,
        keyId: p.key_id,
        notAfter: p.expires_at ? p.expires_at.getTime() : null,
        // Not stale: written less than a minute ago (or just now, above).
        touchedAt: Date.now(),
      },
      generation,
    );
    return principal;
  }
}
