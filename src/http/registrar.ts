// Express routes from the contract (src/contract/): a route is its operation plus a handler. From the
// operation the registrar applies access (requireUser, then requireSession or requireScope), parses
// the `{id}` (a malformed one is the resource's 404, as another user's row is), the query and the
// body (requireJson and the operation's JSON parser first), and answers with the operation's status,
// headers (Location, ETag, Idempotent-Replayed, Cache-Control) and JSON. A handler returns what the
// operation's response schema says (every field of its z.output: see Lenient), so a field it lacks
// does not compile.
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { z, ZodType } from 'zod';
import {
  isZod,
  resolveSchema,
  type Guard,
  type IdParam,
  type OperationSpec,
  type RequestSchemas,
  type ResponseSpec,
} from '../contract/index.ts';
import { isUuid, notFound, parseOrThrow } from '../errors.ts';
import { requireJson, requireScope, requireSession } from './middleware.ts';

export interface RegistrarDeps {
  /** Authenticates (bearer or console cookie): see middleware.ts. */
  requireUser: RequestHandler;
  /** This deployment's request schemas (the services' own). */
  schemas: RequestSchemas;
  /** The JSON parsers of job creation (large limits), run only after authentication. */
  parsers: { job: RequestHandler; batch: RequestHandler };
}

type User = NonNullable<Request['user']>;
type Output<S> = S extends ZodType ? z.output<S> : unknown;

/** What a handler is given: the request parsed as its operation says. */
export interface Context<O extends OperationSpec> {
  req: Request;
  res: Response;
  /** The caller (absent on public operations). */
  user: O['access'] extends { kind: 'public' } ? undefined : User;
  /** The `{id}` path parameter, a well-formed UUID. */
  id: O['params'] extends { id: IdParam } ? string : undefined;
  query: O extends { query: { schema: infer S } } ? Output<S> : undefined;
  /** Parsed by the operation's schema, or as sent when the service checks it (`checkedBy`). */
  body: O extends { body: infer B }
    ? B extends { checkedBy: 'service' }
      ? unknown
      : Output<B extends { schema: infer S } ? S : never>
    : undefined;
}

/** Response headers whose value the handler gives; the others are constants (see send). */
type ValueHeader = 'Location' | 'ETag';
type HeadersOf<R> = R extends { headers: readonly (infer H)[] }
  ? [Extract<H, ValueHeader>] extends [never]
    ? unknown
    : { headers: Record<Extract<H, ValueHeader>, string> }
  : unknown;
/**
 * A response body as handlers may give it: z.output of its schema, every field it requires required
 * at every depth, each leaf of its primitive type, null allowed at leaves. Leaves are that loose because the
 * domain's row mappers type them so (src/jobs/representation.ts: an instant is `string | null`, a
 * method `string`); once they are typed by the schemas, this becomes z.output itself. Values are
 * checked against the schemas at run time by test/integration/openapi.test.ts.
 */
export type Lenient<T> = T extends null | undefined
  ? T
  : T extends string
    ? string | null
    : T extends number
      ? number | null
      : T extends boolean
        ? boolean | null
        : T extends readonly (infer E)[]
          ? readonly Lenient<E>[]
          : { [K in keyof T]: Lenient<T[K]> };
type ReplyTo<S, R> = { status: S } & (R extends { schema: infer B extends ZodType }
  ? { body: Lenient<z.output<B>> }
  : { body?: undefined }) &
  HeadersOf<R>;

/** One of the operation's responses: its status, the body its schema says, the headers it names. */
export type Reply<O extends OperationSpec> = {
  [S in keyof O['responses'] & number]: ReplyTo<S, O['responses'][S]>;
}[keyof O['responses'] & number];

export type Handler<O extends OperationSpec> = (ctx: Context<O>) => Reply<O> | Promise<Reply<O>>;

const expressPath = (path: string) => path.replace(/\{(\w+)\}/g, ':$1');
/** Matches what Express would route to `path` (case-insensitive, an optional trailing slash). */
const matcher = (path: string) =>
  new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{\w+\\?\}/g, '[^/]+')}/?$`, 'i');
const under = (path: string, prefix: string) =>
  path.toLowerCase() === prefix.toLowerCase() || path.toLowerCase().startsWith(`${prefix.toLowerCase()}/`);
const noStore = (r: ResponseSpec) => r.headers?.includes('Cache-Control') === true;

/** Registers the contract's operations on routers, and knows which ones it has. */
export class Registrar {
  private readonly registered: OperationSpec[] = [];

  constructor(private readonly deps: RegistrarDeps) {}

  /**
   * A router whose guarded prefixes need a credential (or a session) before anything else, known
   * route or not; then the routes registered on it.
   */
  router(guards: readonly Guard[] = []): Routes {
    const router = Router();
    for (const g of guards) {
      router.use(g.prefix, this.deps.requireUser);
      if (g.access === 'session') router.use(g.prefix, requireSession());
    }
    const add = (op: OperationSpec, handlers: RequestHandler[]) => {
      this.check(op, guards);
      this.registered.push(op);
      router[op.method](expressPath(op.path), ...handlers);
    };
    return {
      router,
      json: (op, handler, opts) =>
        add(op, [
          ...(opts?.before ?? []),
          ...this.access(op, guards),
          ...this.bodyParsers(op),
          this.endpoint(op, handler as unknown as Handler<OperationSpec>),
        ]),
      raw: (op, ...handlers) => add(op, [...this.access(op, guards), ...handlers]),
    };
  }

  /** Fails unless every operation has been registered, exactly once (at startup, not at a request). */
  assertComplete(operations: readonly OperationSpec[]): void {
    const missing = operations.filter((op) => !this.registered.includes(op));
    if (missing.length) throw new Error(`no route for ${missing.map((op) => op.id).join(', ')}`);
  }

  private check(op: OperationSpec, guards: readonly Guard[]) {
    if (this.registered.includes(op)) throw new Error(`${op.id} is registered twice`);
    // Express takes the first route that matches: `/v1/jobs/{id}` first would swallow `/v1/jobs/counts`.
    const literal = op.path.replace(/\{\w+\}/g, 'x');
    const shadow = this.registered.find((o) => o.method === op.method && matcher(o.path).test(literal));
    if (shadow && shadow.path !== op.path) throw new Error(`${op.id}: register it before ${shadow.id}`);
    for (const g of guards.filter((g) => under(op.path, g.prefix))) {
      if (op.access.kind === 'public' || (g.access === 'session' && op.access.kind !== 'session'))
        throw new Error(`${op.id}: its access (${op.access.kind}) contradicts the guard of ${g.prefix}`);
    }
  }

  /** The access rule's middleware, less what a guard of the router already applies. */
  private access(op: OperationSpec, guards: readonly Guard[]): RequestHandler[] {
    const guard = guards.find((g) => under(op.path, g.prefix));
    const out: RequestHandler[] = [];
    if (op.access.kind === 'public') return out;
    if (!guard) out.push(this.deps.requireUser);
    if (op.access.kind === 'session' && guard?.access !== 'session') out.push(requireSession());
    if (op.access.kind === 'scope') out.push(requireScope(op.access.scope));
    return out;
  }

  /** A JSON body: 415 unless JSON, then the operation's parser (the small one already ran app-wide). */
  private bodyParsers(op: OperationSpec): RequestHandler[] {
    if (!op.body || op.body.contentType) return [];
    const parser = op.body.parser ?? 'small';
    return [requireJson(), ...(parser === 'small' ? [] : [this.deps.parsers[parser]])];
  }

  private endpoint(op: OperationSpec, handler: Handler<OperationSpec>): RequestHandler {
    const { schemas } = this.deps;
    const query =
      op.query && (isZod(op.query.schema) || typeof op.query.schema === 'function')
        ? resolveSchema(op.query.schema, schemas)
        : undefined;
    const body =
      op.body && op.body.checkedBy !== 'service' ? resolveSchema(op.body.schema, schemas) : undefined;
    const secret = Object.values(op.responses).some(noStore);
    return async (req, res) => {
      let id: string | undefined;
      if (op.params?.id) {
        id = String(req.params.id);
        if (!isUuid(id)) throw notFound(op.params.id.resource);
      }
      const sent: unknown = req.body;
      const ctx = {
        req,
        res,
        user: req.user,
        id,
        query: query ? parseOrThrow(query, req.query) : undefined,
        body: body ? parseOrThrow(body, sent ?? {}) : sent,
      } as Context<OperationSpec>;
      // Before the handler: whatever a route of secrets answers, errors included, is never cached.
      if (secret) res.set('Cache-Control', 'no-store');
      send(op, res, await handler(ctx));
    };
  }
}

/** The routes of one router. */
export interface Routes {
  router: Router;
  /** A JSON operation: parsed and answered by the registrar; `before` runs ahead of authentication. */
  json<O extends OperationSpec>(
    op: O,
    handler: NoInfer<Handler<O>>,
    opts?: { before?: RequestHandler[] },
  ): void;
  /** An operation answered by hand (an HTML page, the document itself): access only. */
  raw(op: OperationSpec, ...handlers: RequestHandler[]): void;
}

function send(op: OperationSpec, res: Response, reply: Reply<OperationSpec>) {
  const spec = op.responses[reply.status];
  if (!spec) throw new Error(`${op.id} answered ${reply.status}, which it does not declare`);
  const given = (reply as { headers?: Record<string, string> }).headers ?? {};
  for (const h of spec.headers ?? []) {
    if (h === 'Idempotent-Replayed') res.setHeader(h, 'true');
    else if (h === 'Location' || h === 'ETag') res.setHeader(h, given[h]!);
  }
  res.status(reply.status);
  if (spec.schema === undefined) res.end();
  else res.json(reply.body);
}
