// The auth cache's rules, with an injected clock: used only while live, bounded by TTL and by the
// credential's own expiry, dropped by a notice naming its key or user, and never filled by an answer
// read before a notice arrived.
import { describe, expect, it } from 'vitest';
import { AuthCache } from '../../src/auth/authCache.ts';

const setup = (ttlMs = 60_000, maxEntries = 100) => {
  let now = 1_000_000;
  const cache = new AuthCache<string>({ ttlMs, maxEntries, now: () => now });
  return { cache, tick: (ms: number) => (now += ms), now: () => now };
};

describe('AuthCache', () => {
  it('stores nothing and answers nothing until live; losing liveness empties it', () => {
    const { cache } = setup();
    cache.set('a', { kind: 'session', principal: 'alice', userId: 'u1' }, cache.generation);
    expect(cache.get('session', 'a')).toBeUndefined();
    cache.setLive(true);
    cache.set('a', { kind: 'session', principal: 'alice', userId: 'u1' }, cache.generation);
    expect(cache.get('session', 'a')?.principal).toBe('alice');
    cache.setLive(false);
    expect(cache.get('session', 'a')).toBeUndefined();
    cache.setLive(true);
    expect(cache.get('session', 'a')).toBeUndefined(); // not refilled by reconnecting
  });

  it('expires entries after the TTL, or at the credential’s own expiry if sooner', () => {
    const { cache, tick, now } = setup(60_000);
    cache.setLive(true);
    cache.set('ttl', { kind: 'session', principal: 'p', userId: 'u1' }, cache.generation);
    cache.set(
      'exp',
      { kind: 'session', principal: 'p', userId: 'u1', notAfter: now() + 5_000 },
      cache.generation,
    );
    tick(4_999);
    expect(cache.get('session', 'exp')).toBeDefined();
    tick(1);
    expect(cache.get('session', 'exp')).toBeUndefined();
    tick(54_999);
    expect(cache.get('session', 'ttl')).toBeDefined();
    tick(1);
    expect(cache.get('session', 'ttl')).toBeUndefined();
  });

  it('drops what a notice names: a key, or every entry of a user; an unknown notice drops all', () => {
    const { cache } = setup();
    cache.setLive(true);
    const g = () => cache.generation;
    cache.set('k1', { kind: 'session', principal: 'p', userId: 'u1', keyId: 'key1' }, g());
    cache.set('k2', { kind: 'session', principal: 'p', userId: 'u1', keyId: 'key2' }, g());
    cache.set('s1', { kind: 'session', principal: 'p', userId: 'u1' }, g());
    cache.set('s2', { kind: 'session', principal: 'p', userId: 'u2' }, g());
    cache.invalidate('key:key1');
    expect(['k1', 'k2', 's1', 's2'].map((k) => Boolean(cache.get('session', k)))).toEqual([
      false,
      true,
      true,
      true,
    ]);
    cache.invalidate('user:u1');
    expect(['k2', 's1', 's2'].map((k) => Boolean(cache.get('session', k)))).toEqual([false, false, true]);
    cache.invalidate('garbage');
    expect(cache.size).toBe(0);
  });

  it('never caches an answer read before a notice arrived (the revocation race)', () => {
    const { cache } = setup();
    cache.setLive(true);
    const before = cache.generation; // the request starts its database check…
    cache.invalidate('key:key1'); // …the revocation's notice arrives meanwhile…
    cache.set('k1', { kind: 'session', principal: 'stale', userId: 'u1', keyId: 'key1' }, before); // …its answer is not kept
    expect(cache.get('session', 'k1')).toBeUndefined();
    const reconnect = cache.generation;
    cache.setLive(false);
    cache.setLive(true);
    cache.set('k1', { kind: 'session', principal: 'p', userId: 'u1', keyId: 'key1' }, reconnect);
    expect(cache.get('session', 'k1')).toBeUndefined();
  });

  it('is bounded (oldest out first) and off with a TTL of 0', () => {
    const { cache } = setup(60_000, 3);
    cache.setLive(true);
    for (const k of ['a', 'b', 'c', 'd'])
      cache.set(k, { kind: 'session', principal: k, userId: 'u' }, cache.generation);
    expect(cache.size).toBe(3);
    expect(cache.get('session', 'a')).toBeUndefined();
    expect(cache.get('session', 'd')).toBeDefined();
    const off = setup(0).cache;
    off.setLive(true);
    off.set('a', { kind: 'session', principal: 'a', userId: 'u' }, off.generation);
    expect(off.get('session', 'a')).toBeUndefined();
  });

  it('answers an entry only for the kind it verified: an API key is never a session, nor the reverse', () => {
    const { cache } = setup();
    cache.setLive(true);
    const key = AuthCache.keyOf('djs_same-bearer');
    cache.set(key, { kind: 'api_key', principal: 'key', userId: 'u1', keyId: 'k1' }, cache.generation);
    expect(cache.get('session', key)).toBeUndefined();
    expect(cache.get('api_key', key)?.principal).toBe('key');
    cache.set(key, { kind: 'session', principal: 'session', userId: 'u1' }, cache.generation);
    expect(cache.get('api_key', key)?.principal).toBe('key');
    expect(cache.get('session', key)?.principal).toBe('session');
    cache.invalidate('key:k1');
    expect(cache.get('api_key', key)).toBeUndefined();
    expect(cache.get('session', key)?.principal).toBe('session');
  });

  it('keys by a hash, never the credential itself', () => {
    expect(AuthCache.keyOf('djs_secret')).not.toContain('secret');
    expect(AuthCache.keyOf('x')).toBe(AuthCache.keyOf(Buffer.from('x')));
  });
});
