// /v1/auth/* and /v1/me on the contract's operations (src/contract/auth.ts). The sign-in page and its
// form answer HTML, so they are registered by hand (raw), from the same table.
import express, { type Router } from 'express';
import { AppError } from '../../errors.ts';
import type { AuthService } from '../../auth/service.ts';
import { authOperations as ops } from '../../contract/auth.ts';
import {
  CONFIRM_PAGE_HEADERS,
  PAGE_HEADERS,
  confirmPage,
  crossSiteRefusedPage,
  invalidLinkPage,
} from '../pages.ts';
import type { Registrar } from '../registrar.ts';
import { clearedSessionCookie, csrfRefusal, sessionCookie } from '../sessionCookie.ts';
import type { Request, RequestHandler } from 'express';

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
  routes: Registrar;
  auth: AuthService;
  publicUrl: string;
  /** The console's session cookie: Secure or not, and its lifetime (the session's). */
  cookie: { secure: boolean; maxAgeSeconds: number };
}): Router {
  const { auth } = deps;
  const r = deps.routes.router();
  const publicOrigin = new URL(deps.publicUrl).origin;

  r.json(ops.requestMagicLink, async ({ req, body }) => {
    await auth.requestLink(body.email, req.ip);
    return { status: 202, body: { status: 'sent' } };
  });

  // No side effect: link scanners and previews open GET links.
  r.raw(ops.showSignInPage, async (req, res) => {
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

  r.raw(
    ops.signInWithForm,
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

  r.json(ops.createSession, async ({ body }) => ({ status: 200, body: await auth.signIn(body.token) }));

  // Logout ends sessions; API keys live on until revoked (a backend must not stop when a person signs out).
  // The console's cookie is cleared before authenticating, so even a request whose session already
  // ended leaves none; but not for a request the CSRF rule refuses, or another site could sign the
  // user out of the console with a plain form.
  const clearCookie: RequestHandler = (req, res, next) => {
    if (csrfRefusal({ method: req.method, header: (n) => req.get(n) }, publicOrigin) === null)
      res.append('Set-Cookie', clearedSessionCookie(deps.cookie.secure));
    next();
  };
  r.json(
    ops.logout,
    async ({ user }) => {
      await auth.logout(user.id);
      return { status: 204 };
    },
    { before: [clearCookie] },
  );

  // Who is calling, and with what: a session may call every route; a key, the routes its scopes allow.
  r.json(ops.getMe, ({ req, user }) => {
    const c = req.credential!;
    return {
      status: 200,
      body: {
        id: user.id,
        email: user.email,
        created_at: user.created_at.toISOString(),
        credential:
          c.kind === 'session' ? { kind: 'session' } : { kind: 'api_key', key_id: c.keyId, scopes: c.scopes },
      },
    };
  });

  return r.router;
}
