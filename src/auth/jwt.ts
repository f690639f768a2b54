// Session tokens: HS256 JWTs via jose. Verification pins the algorithm, issuer and audience, so `alg:
// none`, another key, or a token minted for another audience are all refused.
import crypto from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';

export interface SessionClaims {
  userId: string;
  tokenVersion: number;
  expiresAt: Date;
}

/** Issues and verifies session tokens for one secret/issuer/audience. */
export class SessionTokens {
  // Imported once: jose would otherwise import the raw secret on every sign and verify.
  private readonly secret: crypto.KeyObject;
  constructor(
    secret: Uint8Array,
    private readonly issuer: string,
    private readonly audience: string,
    private readonly ttlSeconds: number,
  ) {
    this.secret = crypto.createSecretKey(secret);
  }

  /** Mints a token for `userId` carrying its current token version. */
  async issue(userId: string, tokenVersion: number): Promise<{ token: string; expiresAt: Date }> {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + this.ttlSeconds;
    const token = await new SignJWT({ tv: tokenVersion })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setSubject(userId)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .setJti(crypto.randomUUID())
      .sign(this.secret);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  // Verified tokens, by their exact text: the signature of a given string verifies the same way
  // every time, and jose's verification (WebCrypto) dominated the cost of an API request. Expiry is
  // still checked on every use; revocation (token version) is checked by the caller against the
  // database on every request.
  private readonly verified = new Map<string, SessionClaims>();

  /** Returns the claims of a valid token, or null for anything forged, expired, or malformed. */
  async verify(token: string): Promise<SessionClaims | null> {
    const hit = this.verified.get(token);
    if (hit) {
      if (hit.expiresAt.getTime() > Date.now()) return hit;
      this.verified.delete(token);
      return null;
    }
    const claims = await this.verifyUncached(token);
    if (claims) {
      if (this.verified.size >= 10_000) this.verified.clear();
      this.verified.set(token, claims);
    }
    return claims;
  }

  private async verifyUncached(token: string): Promise<SessionClaims | null> {
    try {
      const { payload } = await jwtVerify(token, this.secret, {
        algorithms: ['HS256'],
        issuer: this.issuer,
        audience: this.audience,
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
      });
      const tv = payload.tv;
      if (typeof payload.sub !== 'string' || typeof tv !== 'number' || !Number.isInteger(tv) || !payload.exp)
        return null;
      return { userId: payload.sub, tokenVersion: tv, expiresAt: new Date(payload.exp * 1000) };
    } catch (err) {
      if (err instanceof joseErrors.JOSEError || err instanceof TypeError) return null;
      throw err;
    }
  }
}
