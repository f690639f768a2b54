// Per-user webhook signing secrets: derived from SECRETS_KEY and a version kept on the user row.
// Rotation keeps the previous version valid (and signed with) for a grace period.
import type { Pool } from '../db/pool.ts';
import crypto from 'node:crypto';
import { deriveKey } from '../lib/keys.ts';
import * as users from '../sql/users.ts';

/** How long a rotated-out secret still signs deliveries, so receivers can switch without a gap. */
export const ROTATION_GRACE_SECONDS = 24 * 3600;

/**
 * A user's webhook signing secret for a key version: derived, never stored, so the database holds
 * only the version number. Format follows Standard Webhooks: `whsec_` + base64 of 32 bytes.
 */
export function deriveSigningSecret(master: Buffer, userId: string, version: number): string {
  const key = deriveKey(master, 'dist-job-scheduler/webhook-signing');
  const secret = crypto.createHmac('sha256', key).update(`${userId}:${version}`).digest();
  return `whsec_${secret.toString('base64')}`;
}

export class SigningSecrets {
  constructor(
    private readonly pool: Pool,
    private readonly master: Buffer,
  ) {}

  async current(userId: string) {
    const k = await users.signingKeys(this.pool, userId);
    if (!k) throw new Error('user vanished');
    return this.present(k);
  }

  async rotate(userId: string) {
    return this.present(await users.rotateSigningKey(this.pool, userId, ROTATION_GRACE_SECONDS));
  }

  private present(k: users.SigningKeys) {
    const [current, previous] = k.versions;
    return {
      secret: deriveSigningSecret(this.master, k.id, current!),
      previous_secret: previous === undefined ? null : deriveSigningSecret(this.master, k.id, previous),
      previous_valid_until: previous === undefined ? null : k.previous_valid_until!.toISOString(),
    };
  }
}

/**
 * The scheduler's per-process cache of derived secrets: deriving costs an HKDF and an HMAC, and the
 * same few users' secrets sign thousands of deliveries. Bounded; cleared when full.
 */
export class SigningSecretCache {
  private readonly cache = new Map<string, string>();
  constructor(
    private readonly master: Buffer,
    private readonly maxEntries = 10_000,
  ) {}

  /** The secrets for these key versions of the user, in the order given. */
  secretsFor(userId: string, versions: number[]): string[] {
    return versions.map((v) => {
      const key = `${userId}:${v}`;
      let s = this.cache.get(key);
      if (!s) {
        if (this.cache.size >= this.maxEntries) this.cache.clear();
        s = deriveSigningSecret(this.master, userId, v);
        this.cache.set(key, s);
      }
      return s;
    });
  }
}
