// Keys derived from SECRETS_KEY with HKDF, one purpose per `info` label, so no key serves two jobs.
import crypto from 'node:crypto';

/** A `length`-byte key for `info`, derived from the master secret. */
export function deriveKey(master: Buffer, info: string, length = 32): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', master, Buffer.alloc(0), info, length));
}
