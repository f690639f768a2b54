// /v1/auth/* and /v1/me.
import express, { Router } from 'express';
import { z } from 'zod';
import { AppError, parseOrThrow } from '../../errors.ts';
import { emailSchema, type AuthService } from '../../auth/service.ts';
import {
  CONFIRM_PAGE_HEADERS,
  PAGE_HEADERS,
  confirmPage,
  crossSiteRefusedPage,
  invalidLinkPage,
} from '../pages.ts';
import { requireJson, requireSession } from '../middleware.ts';
import { clearedSessionCookie, csrfRefusal, sessionCookie } from '../sessionCookie.ts';
import type { Request, RequestHandler } from 'express';

// Exported for the OpenAPI document, which is generated from them.
export const magicLinkBody = z.strictObject({ email: emailSchema });
export const sessionBody = z.strictObject({ token: z.string().min(1).max(500) });

/**
 * Login CSRF: may this POST to the sign-in form be processed? Otherwise a page on another site could
 * post the attacker's own link token and sign the victim's browser into the attacker's account.
 *
 * - Sec-Fetch-Site (set by the browser, never by page script) decides when present: only `same-origin`
 *   (our confirm page's button) and `none` (user-initiated) pass; `same-site` (a sibling subdomain may be
 *   someone else's), `cross-site` and unknown values do not.
 * - Without it (older browsers; browsers also omit it on plain-HTTP origins other than localhost),
 *   Origin must equal PUBLIC_URL's origin. `Origin: null` is refused: an attacker's page gets it by
 *   choosing `Referrer-Policy: no-referrer` or a sandboxed frame (our confirm page uses strict-origin so
 *   that our own form sends its real origin).
 * - With neither header the POST is allowed: browsers send Origin on every cross-origin POST (Firefox
 *   since 70, others much longer), so such a request comes from a non-browser client (curl, a script)
 *   that a third-party page cannot drive. Only pre-2019 browsers that send neither stay unprotected.
 */
function isSameOriginFormPost(req: Request, publicOrigin: string): boolean {
  const site = req.get('sec-fetch-site');
  if (site !== undefined) return site === 'same-origin' || site === 'none';
  const origin = req.get('origin');
  if (origin !== undefined) return origin === publicOrigin;
  return true;
}

export function authRoutes(deps: {
  auth: AuthService;
  publicUrl: string;
  requireUser: RequestHandler;
  /** The console's session cookie: Secure or not, and its lifetime (the session's). */
  cookie: { secure: boolean; maxAgeSeconds: number };
}): Router {
  const r = Router();
  const { auth, requireUser } = deps;
  const publicOrigin = new URL(deps.publicUrl).origin;

  r.post('/v1/auth/magic-link', requireJson(), async (req, res) => {
    const { email } = parseOrThrow(magicLinkBody, req.body ?? {});
    await auth.requestLink(email, req.ip);
    res.status(202).json({ status: 'sent' });
  });

  // No side effect: link scanners and previews open GET links.
  r.get('/v1/auth/verify', async (req, res) => {
    const token = typeof req.query.token === 'string' ? req.query.token : '';
    res.set(PAGE_HEADERS);
    if (!token || token.length > 500) {
      res.status(400).type('html').send(invalidLinkPage());
      return;
    }
    // The page names the account before the button (login CSRF: an attacker's own link, sent to a
    // victim, would otherwise sign the victim into the attacker's account without a word).
    const email = await auth.linkEmail(token);
    if (email === null) {
      res.status(401).type('html').send(invalidLinkPage());
      return;
    }
    res.set(CONFIRM_PAGE_HEADERS);
    res.status(200).type('html').send(confirmPage(token, email));
  });

  r.post(
    '/v1/auth/verify',
    // Refused before the body is read, so a refused POST never touches (or uses up) the link.
    (req, res, next) => {
      if (isSameOriginFormPost(req, publicOrigin)) {
        next();
        return;
      }
      res.set(PAGE_HEADERS);
      res.status(403).type('html').send(crossSiteRefusedPage());
    },
    express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 5 }),
    async (req, res) => {
      res.set(PAGE_HEADERS);
      const body = req.body as Record<string, unknown> | undefined;
      const token = typeof body?.token === 'string' ? body.token : '';
      try {
        const s = await auth.signIn(token);
        // Into the console, signed in by an HttpOnly cookie: the token is never shown, put in a URL
        // or handed to page script. 303 turns the POST into a GET of the console.
        res.append('Set-Cookie', sessionCookie(s.access_token, deps.cookie));
        res.redirect(303, '/');
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
    const { token } = parseOrThrow(sessionBody, req.body ?? {});
    res.set('Cache-Control', 'no-store');
    res.status(200).json(await auth.signIn(token));
  });

  // Logout ends sessions; API keys live on until revoked (a backend must not stop when a person signs out).
  // The console's cookie is cleared before authenticating, so even a request whose session already
  // ended leaves none; but not for a request the CSRF rule refuses, or another site could sign the
  // user out of the console with a plain form.
  const clearCookie: RequestHandler = (req, res, next) => {
    if (csrfRefusal({ method: req.method, header: (n) => req.get(n) }, publicOrigin) === null)
      res.append('Set-Cookie', clearedSessionCookie(deps.cookie.secure));
    next();
  };
  r.post('/v1/auth/logout', clearCookie, requireUser, requireSession(), async (req, res) => {
    await auth.logout(req.user!.id);
    res.status(204).end();
  });

  // Who is calling, and with what: a session may call every route; a key, the routes its scopes allow.
  r.get('/v1/me', requireUser, (req, res) => {
    const u = req.user!;
    const c = req.credential!;
    res.json({
      id: u.id,
      email: u.email,
      created_at: u.created_at.toISOString(),
      credential:
        c.kind === 'session' ? { kind: 'session' } : { kind: 'api_key', key_id: c.keyId, scopes: c.scopes },
    });
  });

  return r;
}
