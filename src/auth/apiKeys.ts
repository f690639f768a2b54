// API keys, pure: format, generation, hashing and scopes. A key is `djs_` + 43 base64url characters
// (32 bytes from the CSPRNG, 256 bits): the fixed prefix lets secret scanners (GitHub's, gitleaks)
// recognise a leaked key.
import crypto from 'node:crypto';

export const API_KEY_PREFIX = 'djs_';
const KEY_FORMAT = /^djs_[A-Za-z0-9_-]{43}$/;

export const SCOPES = ['jobs:read', 'jobs:write', 'schedules:read', 'schedules:write'] as const;
export type Scope = (typeof SCOPES)[number];

export interface NewApiKey {
  key: string;
  hash: Buffer;
  prefix: string;
  lastFour: string;
}

/** A fresh key with what is stored of it: its hash, and the start and end shown in lists. */
export function generateApiKey(): NewApiKey {
  const key = `${API_KEY_PREFIX}${crypto.randomBytes(32).toString('base64url')}`;
  return { key, hash: hashApiKey(key), prefix: key.slice(0, 10), lastFour: key.slice(-4) };
}

/** True when `token` is shaped like one of our keys (the bearer is then never tried as a JWT). */
export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX);
}

/** True when `token` is exactly a well-formed key. */
export function isWellFormedApiKey(token: string): boolean {
  return KEY_FORMAT.test(token);
}

/**
 * The stored form of a key. SHA-256 without salt or stretching is enough here: salts and slow hashes
 * (bcrypt, argon2) exist to protect low-entropy passwords from guessing, and a 256-bit random key
 * cannot be guessed however fast the hash. A fast, unsalted hash is also what lets a request find its
 * key through a unique index in one lookup.
 */
export function hashApiKey(key: string): Buffer {
  return crypto.createHash('sha256').update(key, 'utf8').digest();
}

/** Whether `granted` allows `needed`. Scopes do not imply each other: write does not include read. */
export function hasScope(granted: readonly string[], needed: Scope): boolean {
  return granted.includes(needed);
}
