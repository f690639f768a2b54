// Per-user webhook signing secrets: derived from SECRETS_KEY and a version kept on the user row.
// Rotation keeps the previous version valid (and signed with) for a grace period.
import type { Pool, Queryable } from '../db/pool.ts';
import { deriveSigningSecret } from '../auth/crypto.ts';
import * as users from '../sql/users.ts';

/** How long a rotated-out secret still signs deliveries, so receivers can switch without a gap. */
export const ROTATION_GRACE_SECONDS = 24 * 3600;

export class SigningSecrets {
  constructor(
    private readonly pool: Pool,
    private readonly master: Buffer,
  ) {}

  async current(userId: string) {
    const u = await users.findUserById(this.pool, userId);
    if (!u) throw new Error('user vanished');
    return this.present(u);
  }

  async rotate(userId: string) {
    return this.present(await users.rotateSigningKey(this.pool, userId, ROTATION_GRACE_SECONDS));
  }

  /** Secrets to sign with now, per user (newest first). */
  async forUsers(db: Queryable, userIds: string[]): Promise<Map<string, string[]>> {
    const versions = await users.signingVersionsFor(db, userIds);
    return new Map(
      [...versions].map(([id, vs]) => [id, vs.map((v) => deriveSigningSecret(this.master, id, v))]),
    );
  }

  private present(u: users.UserRow) {
    const prevValid =
      u.signing_prev_version !== null &&
      u.signing_prev_valid_until !== null &&
      u.signing_prev_valid_until > new Date();
    return {
      secret: deriveSigningSecret(this.master, u.id, u.signing_key_version),
      previous_secret: prevValid ? deriveSigningSecret(this.master, u.id, u.signing_prev_version!) : null,
      previous_valid_until: prevValid ? u.signing_prev_valid_until!.toISOString() : null,
    };
  }
}
