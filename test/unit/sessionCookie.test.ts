// The console cookie and its CSRF rule, as pure functions: which requests carrying the cookie may act.
import { describe, expect, it } from 'vitest';
import {
  clearedSessionCookie,
  cookieName,
  cookieSecure,
  csrfRefusal,
  sessionCookie,
  sessionTokenFrom,
} from '../../src/http/sessionCookie.ts';

const ORIGIN = 'https://djs.example.com';
const req = (method: string, headers: Record<string, string>) => ({
  method,
  header: (n: string) => headers[n.toLowerCase()],
});

describe('csrfRefusal', () => {
  const allowed: [string, string, Record<string, string>][] = [
    ['a GET with the console header', 'GET', { 'x-djs-console': '1' }],
    [
      'a GET with the header, even cross-site (reads are not actions; CORS hides the answer)',
      'GET',
      { 'x-djs-console': '1', 'sec-fetch-site': 'cross-site' },
    ],
    [
      'a POST from our page (Sec-Fetch-Site)',
      'POST',
      { 'x-djs-console': '1', 'sec-fetch-site': 'same-origin' },
    ],
    [
      'a DELETE from our origin (no Sec-Fetch-Site: plain HTTP)',
      'DELETE',
      { 'x-djs-console': '1', origin: ORIGIN },
    ],
    [
      'a PATCH from our page with both',
      'PATCH',
      { 'x-djs-console': '1', 'sec-fetch-site': 'same-origin', origin: ORIGIN },
    ],
  ];
  it.each(allowed)('allows %s', (_n, method, headers) => {
    expect(csrfRefusal(req(method, headers), ORIGIN)).toBeNull();
  });

  const refused: [string, string, Record<string, string>, RegExp][] = [
    ['a GET without the console header (a link, an <img>)', 'GET', {}, /x-djs-console/],
    [
      'a form POST (cannot set headers)',
      'POST',
      { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
      /x-djs-console/,
    ],
    [
      'a wrong header value',
      'POST',
      { 'x-djs-console': 'yes', 'sec-fetch-site': 'same-origin' },
      /x-djs-console/,
    ],
    [
      'a POST from a sibling subdomain (same-site)',
      'POST',
      { 'x-djs-console': '1', 'sec-fetch-site': 'same-site' },
      /another site/,
    ],
    [
      'a POST the browser marks cross-site, even with our Origin',
      'POST',
      { 'x-djs-console': '1', 'sec-fetch-site': 'cross-site', origin: ORIGIN },
      /another site/,
    ],
    [
      'a user-initiated POST (Sec-Fetch-Site: none)',
      'POST',
      { 'x-djs-console': '1', 'sec-fetch-site': 'none' },
      /another site/,
    ],
    [
      'a POST from another origin',
      'POST',
      { 'x-djs-console': '1', origin: 'https://evil.example' },
      /another origin/,
    ],
    [
      'a POST with Origin: null (sandboxed frame)',
      'POST',
      { 'x-djs-console': '1', origin: 'null' },
      /another origin/,
    ],
    [
      'a POST on another port',
      'DELETE',
      { 'x-djs-console': '1', origin: 'https://djs.example.com:8443' },
      /another origin/,
    ],
    ['a POST with neither Origin nor Sec-Fetch-Site', 'POST', { 'x-djs-console': '1' }, /must send Origin/],
  ];
  it.each(refused)('refuses %s', (_n, method, headers, why) => {
    expect(csrfRefusal(req(method, headers), ORIGIN)).toMatch(why);
  });
});

describe('the cookie', () => {
  it('is HttpOnly, SameSite=Strict, path /; Secure with the __Host- prefix outside plain-HTTP development', () => {
    expect(sessionCookie('a.b.c', { secure: false, maxAgeSeconds: 60 })).toBe(
      'djs_session=a.b.c; Path=/; Max-Age=60; HttpOnly; SameSite=Strict',
    );
    expect(sessionCookie('a.b.c', { secure: true, maxAgeSeconds: 60 })).toBe(
      '__Host-djs_session=a.b.c; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure',
    );
    expect(clearedSessionCookie(true)).toBe(
      '__Host-djs_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure',
    );
    expect(cookieSecure('production', 'http://localhost:3000')).toBe(true);
    expect(cookieSecure('development', 'https://djs.example.com')).toBe(true);
    expect(cookieSecure('development', 'http://localhost:3000')).toBe(false);
    expect(cookieSecure('test', 'http://127.0.0.1:1234')).toBe(false);
  });

  it('is read by its exact name only, and only when token-shaped', () => {
    expect(sessionTokenFrom('a=1; djs_session=x.y.z; b=2', false)).toBe('x.y.z');
    expect(sessionTokenFrom('djs_session=x.y.z', true)).toBeUndefined();
    expect(sessionTokenFrom(`${cookieName(true)}=x.y.z`, true)).toBe('x.y.z');
    expect(sessionTokenFrom('xdjs_session=x.y.z', false)).toBeUndefined();
    expect(sessionTokenFrom('djs_session="x y"', false)).toBeUndefined();
    expect(sessionTokenFrom('djs_session=', false)).toBeUndefined();
    expect(sessionTokenFrom(undefined, false)).toBeUndefined();
    expect(sessionTokenFrom('garbage;;;=;', false)).toBeUndefined();
  });
});
