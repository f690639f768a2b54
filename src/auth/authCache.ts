// Credentials recently verified against the database, so a request need not query it again: the
// API's hot path (POST /v1/jobs) then makes one round trip instead of two. Each round trip costs
// the API process ~100 µs of CPU on loopback and Postgres ~30 µs (bench figures in README).
//
// Revocation stays prompt because the cache is trusted only while it hears about revocations:
// revoking a key and logging out NOTIFY `AUTH_CHANNEL` in the same statement (sql/apiKeys.ts,
// sql/users.ts), each API server LISTENs (listenForRevocations), and an entry is dropped when its
// notice arrives, milliseconds after the commit. While the LISTEN connection is down the cache is
// emptied and bypassed: every request is checked in the database again until it is back. An entry
// also lives at most `ttlMs`, and never past its key's expires_at or its token's exp, which bounds
// what no NOTIFY announces (a user deleted by hand).
import crypto from 'node:crypto';
import { Listener } from '../db/listener.ts';
import { AUTH_CHANNEL } from '../sql/fragments.ts';
import type { Logger } from '../logger.ts';

/** What a bearer is: the cache keeps them apart, so one kind can never be answered for another. */
export type CredentialKind = 'session' | 'api_key';

export interface CachedCredential<P> {
  /** Which kind of credential this entry verified: a lookup names the kind it accepts. */
  kind: CredentialKind;
  principal: P;
  userId: string;
  /** Set for API keys: a revocation names the key. */
  keyId?: string;
  /** Epoch ms after which the entry is not used. */
  until: number;
  /** Epoch ms of the last last_used_at write the cache knows of (API keys). */
  touchedAt?: number;
}

export class AuthCache<P = unknown> {
  private readonly entries = new Map<string, CachedCredential<P>>();
  private live = false;
  private gen = 0;

  /**
   * Changes on every notice and every change of liveness. Read it before the database check and pass
   * it to set(): an answer read before a revocation's notice arrived is then never cached after it.
   */
  get generation(): number {
    return this.gen;
  }

  constructor(private readonly opts: { ttlMs: number; maxEntries?: number; now?: () => number }) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** The cache key of a bearer: its SHA-256, so the map never holds the credential itself. */
  static keyOf(token: string | Buffer): string {
    return crypto.createHash('sha256').update(token).digest('base64url');
  }

  /** Whether revocation notices arrive; a change either way empties the cache. */
  setLive(live: boolean): void {
    this.live = live && this.opts.ttlMs > 0;
    this.gen++;
    this.entries.clear();
  }

  /**
   * The entry for `key`, if it verified a credential of `kind`. Keys are digests of the bearer, and
   * an API key sent where a session is expected (the console cookie) has the same digest as when it
   * is sent as a bearer: without the kind check it would be answered as the key it is.
   */
  get(kind: CredentialKind, key: string): CachedCredential<P> | undefined {
    if (!this.live) return undefined;
    const e = this.entries.get(`${kind}:${key}`);
    if (!e || e.kind !== kind) return undefined;
    if (this.now() >= e.until) {
      this.entries.delete(`${kind}:${key}`);
      return undefined;
    }
    return e;
  }

  set(
    key: string,
    entry: Omit<CachedCredential<P>, 'until'> & { notAfter?: number | null },
    generation: number,
  ): void {
    if (!this.live || generation !== this.gen) return;
    // Bounded: past the limit the oldest entries go first (Map keeps insertion order).
    const max = this.opts.maxEntries ?? 10_000;
    while (this.entries.size >= max) this.entries.delete(this.entries.keys().next().value!);
    const until = Math.min(this.now() + this.opts.ttlMs, entry.notAfter ?? Infinity);
    const { notAfter: _, ...rest } = entry;
    this.entries.set(`${entry.kind}:${key}`, { ...rest, until });
  }

  /** Applies a notice from AUTH_CHANNEL: `key:<id>` or `user:<id>`; anything else empties the cache. */
  invalidate(payload: string): void {
    this.gen++;
    const m = /^(key|user):(.+)$/.exec(payload);
    if (!m) {
      this.entries.clear();
      return;
    }
    for (const [k, e] of this.entries)
      if (m[1] === 'key' ? e.keyId === m[2] : e.userId === m[2]) this.entries.delete(k);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Keeps `cache` live while a LISTEN connection hears AUTH_CHANNEL; returns its stop(). */
export async function listenForRevocations(
  databaseUrl: string,
  cache: AuthCache<unknown>,
  log: Logger,
): Promise<{ stop(): Promise<void> }> {
  const listener = new Listener(
    databaseUrl,
    [AUTH_CHANNEL],
    (_channel, payload) => cache.invalidate(payload),
    () => cache.setLive(true),
    log,
    { applicationName: 'djs-api-auth-listen', onDisconnect: () => cache.setLive(false) },
  );
  await listener.start();
  return { stop: () => listener.stop() };
}
