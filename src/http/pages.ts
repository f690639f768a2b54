// Server-rendered pages of the sign-in flow: no scripts, no third-party assets, a CSP that allows only
// the one inline stylesheet (by hash) and forms posting back to us.
import crypto from 'node:crypto';
import { escapeHtml } from '../lib/html.ts';

// Tests build their own hostile pages with the same escaping.
export { escapeHtml };

const STYLE = `body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}
button{font-size:1.1rem;padding:.6rem 1.4rem;cursor:pointer}code,textarea{font-family:ui-monospace,monospace}
textarea{width:100%;height:6rem;word-break:break-all}pre{background:#f4f4f4;padding:1rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}`;

const styleHash = crypto.createHash('sha256').update(STYLE).digest('base64');

/** Headers every HTML page is sent with. */
export const PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy': `default-src 'none'; style-src 'sha256-${styleHash}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-store',
};

/**
 * Headers of the confirm page (GET /v1/auth/verify), whose URL holds the token. `strict-origin` still
 * keeps the token out of every Referer (origin only), but unlike `no-referrer` it lets the browser send
 * a real Origin with the form POST: under `no-referrer` the POST carries `Origin: null`, which the
 * login-CSRF check refuses, and browsers omit Sec-Fetch-Site on plain-HTTP origins other than localhost.
 */
export const CONFIRM_PAGE_HEADERS: Record<string, string> = {
  ...PAGE_HEADERS,
  'Referrer-Policy': 'strict-origin',
};

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

/** The page a magic link opens: a button, because a GET (mail scanners, previews) must not sign in. */
export function confirmPage(token: string, email: string): string {
  return page(
    'Sign in — dist-job-scheduler',
    `<h1>Sign in to dist-job-scheduler</h1><p>This link signs you in as <strong id="account">${escapeHtml(email)}</strong>.</p>
<p>If that is not your email address, do not continue: someone else sent you their link. Otherwise press the button to finish signing in.</p>
<form method="post" action="/v1/auth/verify"><input type="hidden" name="token" value="${escapeHtml(token)}"><button type="submit" id="sign-in">Sign in as ${escapeHtml(email)}</button></form>`,
  );
}

/** Shown for an unusable link. */
export function invalidLinkPage(): string {
  return page(
    'Link not valid — dist-job-scheduler',
    `<h1>This sign-in link cannot be used</h1><p id="error">It is invalid, has expired, or was already used. Request a new one.</p>`,
  );
}

/** Shown when the sign-in form was posted from another site (login CSRF); the link is not used up. */
export function crossSiteRefusedPage(): string {
  return page(
    'Sign-in refused — dist-job-scheduler',
    `<h1>Sign-in refused</h1><p id="error" data-reason="cross-site">This sign-in form was sent from another website, so it was not accepted. Your link has not been used: open it again from your email and press the button there.</p>`,
  );
}
