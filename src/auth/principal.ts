// Who a request authenticated as, and with what. Both ways in build it (sessions in service.ts, API
// keys in apiKeyService.ts) and share one cache of it, so it lives below both.
import type { Scope } from './apiKeys.ts';

export interface AuthenticatedUser {
  id: string;
  email: string;
  created_at: Date;
}

/** The credential behind a request authenticated with an API key. */
export interface KeyCredential {
  kind: 'api_key';
  keyId: string;
  scopes: Scope[];
}

/** What a request authenticated with: a session (every scope) or an API key (its scopes only). */
export type Credential = { kind: 'session' } | KeyCredential;

export interface Principal {
  user: AuthenticatedUser;
  credential: Credential;
}
