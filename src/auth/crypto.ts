// Secrets derived from SECRETS_KEY with HKDF, one purpose per `info` label, so no key serves two jobs.
import crypto from 'node:crypto';

function derive(master: Buffer, info: string, length = 32): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', master, Buffer.alloc(0), info, length));
}

/** Creates a new sign-in token: 256 bits from the CSPRNG, base64url. */
export function generateToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}

/** The only form of a sign-in token we store. */
export function hashToken(token: string): Buffer {
  return crypto.createHash('sha256').update(token, 'utf8').digest();
}

/** AES-256-GCM sealing for payloads that must sit in a queue without being readable from a dump. */
export class Sealer {
  private readonly key: Buffer;
  constructor(master: Buffer, purpose: string) {
    this.key = derive(master, `dist-job-scheduler/seal/${purpose}`);
  }
  seal(plaintext: string): string {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.key, iv);
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64url');
  }
  open(sealed: string): string {
    const raw = Buffer.from(sealed, 'base64url');
    if (raw.length < 28) throw new Error('sealed payload too short');
    const decipher = crypto.createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }
}

/**
 * A user's webhook signing secret for a key version: derived, never stored, so the database holds
 * only the version number. Format follows Standard Webhooks: `whsec_` + base64 of 32 bytes.
 */
export function deriveSigningSecret(master: Buffer, userId: string, version: number): string {
  const key = derive(master, 'dist-job-scheduler/webhook-signing');
  const secret = crypto.createHmac('sha256', key).update(`${userId}:${version}`).digest();
  return `whsec_${secret.toString('base64')}`;
}
