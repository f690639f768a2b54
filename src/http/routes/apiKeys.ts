// /v1/api-keys on the contract's operations (src/contract/apiKeys.ts): a signed-in person manages the
// keys their backends use; the guard requires a session for everything under the prefix.
import type { Router } from 'express';
import type { ApiKeyService } from '../../auth/apiKeyService.ts';
import { apiKeyGuards, apiKeyOperations as ops } from '../../contract/apiKeys.ts';
import type { Logger } from '../../logger.ts';
import type { Registrar } from '../registrar.ts';

export function apiKeysRoutes(deps: { routes: Registrar; apiKeys: ApiKeyService; log: Logger }): Router {
  const { apiKeys, log } = deps;
  const r = deps.routes.router(apiKeyGuards);

  r.json(ops.createApiKey, async ({ req, user }) => {
    // The service validates the body as sent (the registrar has checked it with the same schema).
    const created = await apiKeys.create(user.id, req.body);
    // The id and prefix only: the key itself is never logged.
    log.info({ request_id: req.id, key_id: created.id, prefix: created.prefix }, 'API key created');
    return { status: 201, body: created, headers: { Location: `/v1/api-keys/${created.id}` } };
  });
  r.json(ops.listApiKeys, async ({ user }) => ({ status: 200, body: await apiKeys.list(user.id) }));
  r.json(ops.revokeApiKey, async ({ req, user, id }) => {
    await apiKeys.revoke(user.id, id);
    log.info({ request_id: req.id, key_id: id }, 'API key revoked');
    return { status: 204 };
  });
  return r.router;
}
