// Development secrets for `npm run dev`, so that it needs no configuration at all.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface DevSecrets {
  JWT_SECRET: string;
  SECRETS_KEY: string;
}

/**
 * JWT_SECRET and SECRETS_KEY from `dataDir`/dev-secrets.json, generated on first use. Stable across
 * restarts so sessions survive; git-ignored with the rest of the data folder.
 */
export function devSecrets(dataDir: string): DevSecrets {
  const file = path.join(dataDir, 'dev-secrets.json');
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')) as DevSecrets;
  const secrets = {
    JWT_SECRET: crypto.randomBytes(48).toString('base64'),
    SECRETS_KEY: crypto.randomBytes(48).toString('base64'),
  };
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}
