// /v1/auth/* and /v1/me.
import express, { Router } from 'express';
import { z } from 'zod';
import { AppError } from '../../errors.ts';
import { emailSchema, type AuthService } from '../../auth/service.ts';
import { PAGE_HEADERS, confirmPage, invalidLinkPage, signedInPage } from '../pages.ts';
import { requireJson, zodDetails } from '../middleware.ts';
import type { RequestHandler } from 'express';

const magicLinkBody = z.strictObject({ email: emailSchema });
const sessionBody = z.strictObject({ token: z.string().min(1).max(500) });

/** Resolves the bearer to req.user or answers 401. */
export function requireUser(auth: AuthService): RequestHandler {
  return async (req, _res, next) => {
    req.user = await auth.authenticate(req.get('authorization'));
    next();
  };
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {});
  if (!r.success)
    throw new AppError(400, 'validation_failed', 'the request is not valid', zodDetails(r.error.issues));
  return r.data;
}

export function authRoutes(deps: { auth: AuthService; publicUrl: string }): Router {
  const r = Router();
  const { auth } = deps;

  r.post('/v1/auth/magic-link', requireJson(), async (req, res) => {
    const { email } = parse(magicLinkBody, req.body);
    await auth.requestLink(email, req.ip ?? null);
    res.status(202).json({ status: 'sent' });
  });

  // No side effect: link scanners and previews open GET links.
  r.get('/v1/auth/verify', (req, res) => {
    const token = typeof req.query.token === 'string' ? req.query.token : '';
    res.set(PAGE_HEADERS);
    if (!token || token.length > 500) {
      res.status(400).type('html').send(invalidLinkPage());
      return;
    }
    res.status(200).type('html').send(confirmPage(token));
  });

  r.post(
    '/v1/auth/verify',
    express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 5 }),
    async (req, res) => {
      res.set(PAGE_HEADERS);
      const body = req.body as Record<string, unknown> | undefined;
      const token = typeof body?.token === 'string' ? body.token : '';
      try {
        const s = await auth.signIn(token);
        res
          .status(200)
          .type('html')
          .send(
            signedInPage({
              email: s.user.email,
              accessToken: s.access_token,
              expiresAt: s.expires_at,
              publicUrl: deps.publicUrl,
            }),
          );
      } catch (err) {
        if (err instanceof AppError && err.code === 'invalid_token') {
          res.status(401).type('html').send(invalidLinkPage());
          return;
        }
        throw err;
      }
    },
  );

  r.post('/v1/auth/session', requireJson(), async (req, res) => {
    const { token } = parse(sessionBody, req.body);
    res.set('Cache-Control', 'no-store');
    res.status(200).json(await auth.signIn(token));
  });

  r.post('/v1/auth/logout', requireUser(auth), async (req, res) => {
    await auth.logout(req.user!.id);
    res.status(204).end();
  });

  r.get('/v1/me', requireUser(auth), (req, res) => {
    const u = req.user!;
    res.json({ id: u.id, email: u.email, created_at: u.created_at.toISOString() });
  });

  return r;
}
