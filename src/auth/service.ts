// Sign-in flow: request a link (transactional outbox), exchange it for a session, authenticate
// bearers, log out. No step reveals whether an email has an account.
import { z } from 'zod';
import type { PgBoss } from 'pg-boss';
import { withTransaction, type Pool } from '../db/pool.ts';
import { fail, rateLimited, unauthorized } from '../errors.ts';
import * as users from '../sql/users.ts';
import * as links from '../sql/magicLinks.ts';
import { bossDb } from '../queue/boss.ts';
import { rateLimitKey } from '../lib/clientIp.ts';
import { MAGIC_LINK_QUEUE, type MagicLinkJob } from '../queue/mail.ts';
import { generateToken, hashToken, type Sealer } from './crypto.ts';
import type { SessionTokens } from './jwt.ts';
import { looksLikeApiKey } from './apiKeys.ts';
import { AuthCache } from './authCache.ts';
import type { ApiKeyService } from './apiKeyService.ts';
import type { Principal } from './principal.ts';

// Where callers (middleware, server) have always found them.
export type { AuthenticatedUser, Credential, Principal } from './principal.ts';

/** Trimmed, lower-cased, syntactically valid email (≤ 254 chars). */
export const emailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(254)
  .pipe(z.email({ message: 'must be a valid email address' }));

export interface AuthServiceDeps {
  pool: Pool;
  /** Resolves `djs_…` bearers. */
  apiKeys: ApiKeyService;
  boss: PgBoss;
  sealer: Sealer;
  tokens: SessionTokens;
  linkTtlSeconds: number;
  perEmailPerHour: number;
  perIpPerHour: number;
  /** Verified sessions, trusted while logouts are heard (authCache.ts); none: every request queries. */
  cache?: AuthCache<Principal>;
}

export class AuthService {
  private readonly pool: Pool;
  private readonly apiKeys: ApiKeyService;
  private readonly boss: PgBoss;
  private readonly sealer: Sealer;
  private readonly tokens: SessionTokens;
  private readonly linkTtlSeconds: number;
  private readonly perEmailPerHour: number;
  private readonly perIpPerHour: number;
  private readonly cache: AuthCache<Principal> | undefined;

  constructor(deps: AuthServiceDeps) {
    this.pool = deps.pool;
    this.apiKeys = deps.apiKeys;
    this.boss = deps.boss;
    this.sealer = deps.sealer;
    this.tokens = deps.tokens;
    this.linkTtlSeconds = deps.linkTtlSeconds;
    this.perEmailPerHour = deps.perEmailPerHour;
    this.perIpPerHour = deps.perIpPerHour;
    this.cache = deps.cache;
  }

  /**
   * Stores a new link (revoking older ones) and enqueues its email in the same transaction. `clientIp`
   * is req.ip, which is any string a trusted proxy passed on: it is limited by its rateLimitKey, and
   * without a usable one only the per-email limit applies.
   */
  async requestLink(email: string, clientIp: string | null | undefined): Promise<void> {
    const token = generateToken();
    const ipKey = rateLimitKey(clientIp);
    await withTransaction(this.pool, async (tx) => {
      await links.lockEmail(tx, email);
      const counts = await links.recentRequestCounts(tx, email, ipKey);
      if (counts.byIp >= this.perIpPerHour) throw rateLimited(counts.ipRetryAfterS);
      if (counts.byEmail >= this.perEmailPerHour) throw rateLimited(counts.emailRetryAfterS);
      await links.replaceLink(tx, {
        email,
        tokenHash: hashToken(token),
        ipKey,
        ttlSeconds: this.linkTtlSeconds,
      });
      const job: MagicLinkJob = { to: email, sealed_token: this.sealer.seal(token) };
      await this.boss.send(MAGIC_LINK_QUEUE, job, { db: bossDb(tx) });
    });
  }

  /**
   * The account a link would sign into, for the confirm page (no side effect: scanners open links).
   * Whoever holds the link can sign in as that account anyway, so showing its email reveals nothing
   * more; it lets a person notice a link someone else sent them (login CSRF) before pressing the button.
   */
  async linkEmail(token: string): Promise<string | null> {
    if (token.length < 20 || token.length > 200) return null;
    return links.peekLink(this.pool, hashToken(token));
  }

  /** Consumes a link and opens a session; unknown, expired, revoked and used links look the same. */
  async signIn(token: string) {
    if (token.length < 20 || token.length > 200) throw invalidToken();
    const result = await withTransaction(this.pool, async (tx) => {
      const email = await links.consumeLink(tx, hashToken(token));
      if (!email) return null;
      return users.upsertUserByEmail(tx, email);
    });
    if (!result) throw invalidToken();
    const session = await this.tokens.issue(result.id, result.token_version);
    return {
      access_token: session.token,
      token_type: 'Bearer' as const,
      expires_at: session.expiresAt.toISOString(),
      user: { id: result.id, email: result.email },
    };
  }

  /**
   * Resolves an Authorization header to its user and credential. An API key (`djs_…`) is looked up
   * by hash; a session token is verified and its version compared with the database. Either way one
   * query per request, so a revocation or logout takes effect at once on every replica.
   */
  async authenticate(header: string | undefined): Promise<Principal> {
    const match = /^Bearer ([A-Za-z0-9_.-]+)$/i.exec(header?.trim() ?? '');
    if (!match) throw unauthorized();
    const token = match[1]!;
    if (looksLikeApiKey(token)) return this.apiKeys.authenticate(token);
    return this.authenticateSession(token);
  }

  /**
   * Resolves a session token (never an API key: the console's cookie holds sessions only): verified,
   * then its version compared with the user's, in the database or, while revocations are heard, in
   * the auth cache (a logout's notice drops the user's entries).
   */
  async authenticateSession(token: string): Promise<Principal> {
    // An API key is never a session, whatever carried it (a forged console cookie, say).
    if (looksLikeApiKey(token)) throw unauthorized('invalid or expired token');
    const cacheKey = this.cache ? AuthCache.keyOf(token) : '';
    const hit = this.cache?.get('session', cacheKey);
    if (hit && hit.principal.credential.kind === 'session') return hit.principal;
    const generation = this.cache?.generation ?? 0;
    const claims = await this.tokens.verify(token);
    if (!claims || !z.uuid().safeParse(claims.userId).success) throw unauthorized('invalid or expired token');
    const user = await users.findUserById(this.pool, claims.userId);
    if (!user || user.token_version !== claims.tokenVersion) throw unauthorized('invalid or expired token');
    const principal: Principal = {
      user: { id: user.id, email: user.email, created_at: user.created_at },
      credential: { kind: 'session' },
    };
    this.cache?.set(
      cacheKey,
      { kind: 'session', principal, userId: user.id, notAfter: claims.expiresAt.getTime() },
      generation,
    );
    return principal;
  }

  /** Ends every session of the user issued until now. */
  async logout(userId: string): Promise<void> {
    await users.bumpTokenVersion(this.pool, userId);
    // This server drops the sessions before answering; the others when the NOTIFY arrives.
    this.cache?.invalidate(`user:${userId}`);
  }
}

const invalidToken = () => fail('invalid_token', 'the sign-in link is invalid, expired or already used');
