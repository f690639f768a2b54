// The console's browser session: the session token in an HttpOnly, SameSite=Strict cookie, and the
// CSRF rule a request carrying it must pass. Pure functions; the middleware (requireUser) applies them.
//
// Why a cookie at all: a token that page script can read (localStorage, a URL) is stolen by any XSS
// and leaks through history and logs. HttpOnly keeps it from script; SameSite=Strict keeps other
// sites' navigations and forms from carrying it; the CSRF rule below covers what SameSite does not
// (sibling subdomains are "same-site", and old browsers ignore the attribute).

/** The header the console sends with every API call. A cross-site page cannot send a custom header
 * without a CORS preflight, which this API never answers, and an HTML form cannot send one at all. */
export const CONSOLE_HEADER = 'x-djs-console';
export const CONSOLE_HEADER_VALUE = '1';

export interface CookieSettings {
  /** Secure cookies (HTTPS only): everywhere but development and tests on plain HTTP. */
  secure: boolean;
  maxAgeSeconds: number;
}

/**
 * `__Host-` binds a Secure cookie to this exact host and path `/` (no Domain attribute can be set by
 * a sibling subdomain to shadow it). Browsers refuse that prefix without Secure, so plain-HTTP
 * development uses the bare name.
 */
export const cookieName = (secure: boolean) => (secure ? '__Host-djs_session' : 'djs_session');

/** Whether cookies must be Secure: production, or any deployment whose public URL is HTTPS. */
export function cookieSecure(nodeEnv: string, publicUrl: string): boolean {
  return nodeEnv === 'production' || publicUrl.startsWith('https:');
}

/** The Set-Cookie value that stores a session token. */
export function sessionCookie(token: string, s: CookieSettings): string {
  return [
    `${cookieName(s.secure)}=${token}`,
    'Path=/',
    `Max-Age=${s.maxAgeSeconds}`,
    'HttpOnly',
    'SameSite=Strict',
    ...(s.secure ? ['Secure'] : []),
  ].join('; ');
}

/** The Set-Cookie value that deletes the session cookie. */
export function clearedSessionCookie(secure: boolean): string {
  return [
    `${cookieName(secure)}=`,
    'Path=/',
    'Max-Age=0',
    'HttpOnly',
    'SameSite=Strict',
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

const TOKEN_CHARS = /^[A-Za-z0-9_.-]{1,4096}$/;

/** The session token from a Cookie header, or undefined (absent or not token-shaped). */
export function sessionTokenFrom(cookieHeader: string | undefined, secure: boolean): string | undefined {
  if (!cookieHeader) return undefined;
  const name = cookieName(secure);
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    return TOKEN_CHARS.test(value) ? value : undefined;
  }
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Why a request that authenticates with the cookie must be refused (null: it may proceed).
 * - Every such request carries the console header: a form or a cross-site fetch cannot.
 * - A state-changing one must also come from our own origin: Sec-Fetch-Site, set by the browser and
 *   never by script, must say `same-origin` when present; otherwise Origin must equal the public
 *   origin (browsers send Origin on every POST, PATCH and DELETE from fetch, so its absence means
 *   something other than our console sent it, and it is refused).
 */
export function csrfRefusal(
  req: { method: string; header: (name: string) => string | undefined },
  publicOrigin: string,
): string | null {
  if (req.header(CONSOLE_HEADER) !== CONSOLE_HEADER_VALUE)
    return `a request authenticated by the session cookie must send the header ${CONSOLE_HEADER}: ${CONSOLE_HEADER_VALUE}`;
  if (SAFE_METHODS.has(req.method.toUpperCase())) return null;
  const site = req.header('sec-fetch-site');
  if (site !== undefined) return site === 'same-origin' ? null : 'the request came from another site';
  const origin = req.header('origin');
  if (origin === undefined) return 'a request authenticated by the session cookie must send Origin';
  return origin === publicOrigin ? null : 'the request came from another origin';
}
