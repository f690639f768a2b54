// /v1/api-keys: a signed-in person manages the keys their backends use. A session is required: keys
// cannot mint, list or revoke keys.
import { Router, type RequestHandler } from 'express';
import type { ApiKeyService } from '../../auth/apiKeyService.ts';
import type { Logger } from '../../logger.ts';
import { requireJson, requireSession } from '../middleware.ts';

export function apiKeysRoutes(deps: {
  /** Authenticates (bearer or console cookie): see middleware.ts. */
  requireUser: RequestHandler;
  apiKeys: ApiKeyService;
  log: Logger;
}): Router {
  const r = Router();
  const { apiKeys, log } = deps;
  r.use('/v1/api-keys', deps.requireUser, requireSession());

  r.post('/v1/api-keys', requireJson(), async (req, res) => {
    const created = await apiKeys.create(req.user!.id, req.body);
    // The id and prefix only: the key itself is never logged.
    log.info({ request_id: req.id, key_id: created.id, prefix: created.prefix }, 'API key created');
    res.set('Cache-Control', 'no-store');
    res.setHeader('Location', `/v1/api-keys/${created.id}`);
    res.status(201).json(created);
  });
  r.get('/v1/api-keys', async (req, res) => {
    res.json(await apiKeys.list(req.user!.id));
  });
  r.delete('/v1/api-keys/:id', async (req, res) => {
    await apiKeys.revoke(req.user!.id, req.params.id);
    log.info({ request_id: req.id, key_id: req.params.id }, 'API key revoked');
    res.status(204).end();
  });
  return r;
}
