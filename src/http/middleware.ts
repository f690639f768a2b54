// Cross-cutting HTTP concerns: request ids, access logs + metrics, content types, error mapping.
import crypto from 'node:crypto';
import type { NextFunction, Request, Response, RequestHandler, ErrorRequestHandler } from 'express';
import { AppError, fail, isDatabaseUnavailable, serviceUnavailable } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { traceHttpRequest } from '../observability/tracing.ts';
import type { AuthService, Credential } from '../auth/service.ts';
import { csrfRefusal, sessionTokenFrom } from './sessionCookie.ts';
import { hasScope, type Scope } from '../auth/apiKeys.ts';

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    user?: { id: string; email: string; created_at: Date };
    /** How the request authenticated (set with `user`). */
    credential?: Credential;
  }
}

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Accepts a well-formed incoming X-Request-Id (from a proxy) or makes one; echoes it back. */
export function requestId(): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    req.id = incoming && SAFE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    res.setHeader('X-Request-Id', req.id);
    next();
  };
}

/** One log line and one histogram sample per request; the path only (never the query string or bodies). */
export function accessLog(log: Logger, metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const route = routeOf(req);
      metrics.httpDuration.observe(
        { route, method: req.method, status_class: `${Math.floor(res.statusCode / 100)}xx` },
        seconds,
      );
      log.info(
        {
          request_id: req.id,
          method: req.method,
          path: req.path,
          route,
          status: res.statusCode,
          duration_ms: Math.round(seconds * 1e4) / 10,
          user_id: req.user?.id,
        },
        'request',
      );
    });
    next();
  };
}

/** The route template that matched (`/v1/jobs/:id`), never the path itself; `unmatched` otherwise. */
function routeOf(req: Request): string {
  return req.route ? `${req.baseUrl}${(req.route as { path: string }).path}` : 'unmatched';
}

/** One trace span per request (route template and status only); next() at once when not tracing. */
export function traceRequests(): RequestHandler {
  return (req, res, next) => traceHttpRequest(req, res, () => routeOf(req), next);
}

/** Refuses a request body that is not JSON (415) on routes that take one. */
export function requireJson(): RequestHandler {
  return (req, _res, next) => {
    if (!req.is('application/json')) {
      next(fail('unsupported_media_type', 'send the body as application/json'));
      return;
    }
    next();
  };
}

/** Maps thrown errors to `{"error": {code, message, details?}}`; unknown errors become a bare 500. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const appErr = toAppError(err);
    if (!appErr) {
      log.error({ request_id: req.id, err }, 'unhandled error');
    } else if (appErr.status >= 500) {
      log.warn(
        { request_id: req.id, code: appErr.code, err: { message: (err as Error).message } },
        'request failed',
      );
    }
    const e = appErr ?? fail('internal_error', 'internal server error');
    if (res.headersSent) return;
    for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
    res
      .status(e.status)
      .json({ error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } });
  };
}

function toAppError(err: unknown): AppError | null {
  if (err instanceof AppError) return err;
  if (isDatabaseUnavailable(err)) return serviceUnavailable('the database is unavailable; retry shortly', 5);
  // body-parser errors carry a `type`; they are the client's fault, never a 500.
  const type = (err as { type?: unknown })?.type;
  switch (type) {
    case 'entity.parse.failed':
      return fail('malformed_json', 'the request body is not valid JSON');
    case 'encoding.invalid_utf8':
      return fail('invalid_utf8', 'the request body is not valid UTF-8');
    case 'entity.too.large':
      return fail('payload_too_large', 'the request body is too large');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return fail('unsupported_media_type', 'unsupported body encoding or charset');
    case 'request.aborted':
      return fail('request_aborted', 'the request was aborted');
    case 'parameters.too.many':
      return fail('payload_too_large', 'too many form parameters');
    default:
      break;
  }
  const status = (err as { status?: unknown })?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return fail('bad_request', 'the request could not be read');
  }
  return null;
}

/**
 * Whether a credential grants `scope`: a session every scope, a key the ones it carries; no credential
 * none. For what a route shows rather than whether it runs (jobAsSeenBy); requireScope gates routes.
 */
export function credentialAllows(credential: Credential | undefined, scope: Scope): boolean {
  if (credential === undefined) return false;
  return credential.kind === 'session' || hasScope(credential.scopes, scope);
}

/** Lets a request through only if its credential grants `scope` (a session grants every scope). */
export function requireScope(scope: Scope): RequestHandler {
  return (req, _res, next) => {
    const c = req.credential;
    if (c?.kind === 'api_key' && !hasScope(c.scopes, scope)) {
      next(
        fail('insufficient_scope', `this API key lacks the scope ${scope}`, {
          details: { needed: scope },
          headers: { 'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${scope}"` },
        }),
      );
      return;
    }
    next();
  };
}

/** Lets a request through only with a session: managing keys, secrets and sessions is for people. */
export function requireSession(): RequestHandler {
  return (req, _res, next) => {
    if (req.credential?.kind !== 'session') {
      next(fail('session_required', 'this route needs a session token (sign in); API keys cannot use it'));
      return;
    }
    next();
  };
}

/**
 * Resolves the request's credential to req.user or answers 401. A bearer (session token or API key) in
 * Authorization wins; without one, the console's session cookie is used, and only if the request
 * passes the CSRF rule (sessionCookie.ts): a cookie rides along on requests the user never meant.
 */
export function requireUser(
  auth: AuthService,
  cookie: { secure: boolean; publicOrigin: string },
): RequestHandler {
  return async (req, _res, next) => {
    const header = req.get('authorization');
    // Only a bearer credential replaces the cookie: a proxy's Basic auth (a staging password) rides
    // along on every browser request and must not lock the console out.
    const bearer = header !== undefined && /^\s*bearer\s/i.test(header);
    const fromCookie = bearer ? undefined : sessionTokenFrom(req.get('cookie'), cookie.secure);
    if (fromCookie !== undefined) {
      const refusal = csrfRefusal({ method: req.method, header: (n) => req.get(n) }, cookie.publicOrigin);
      if (refusal) throw fail('csrf_rejected', refusal);
    }
    const p =
      fromCookie !== undefined ? await auth.authenticateSession(fromCookie) : await auth.authenticate(header);
    req.user = p.user;
    req.credential = p.credential;
    next();
  };
}
