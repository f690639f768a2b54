// Sign-in tokens and sealing of queued payloads. Keys come from SECRETS_KEY via HKDF (lib/keys.ts).
import crypto from 'node:crypto';
import { deriveKey } from '../lib/keys.ts';

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
    this.key = deriveKey(master, `dist-job-scheduler/seal/${purpose}`);
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
