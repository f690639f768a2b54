// OpenTelemetry traces, exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set. Unset, no
// OTel module is loaded (every import below is dynamic or type-only) and each helper returns after
// one null check. Spans are explicit (no auto-instrumentation): the API request, the job insert, the
// scheduler's claim, each attempt and its outbound request. Attributes never hold a URL's path or
// query string, a header value or a body: the target appears as host and port only (paths can carry
// secrets too, e.g. chat webhook URLs).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as OtelApi from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace';

type Attributes = Record<string, string | number | boolean>;

interface TracingState {
  api: typeof OtelApi;
  tracer: OtelApi.Tracer;
  provider: { forceFlush(): Promise<void>; shutdown(): Promise<void> };
}

let state: TracingState | null = null;
const noop = () => {};

export interface TracingOptions {
  /** OTEL_EXPORTER_OTLP_ENDPOINT (the base URL; traces go to `/v1/traces`). Unset: no tracing. */
  endpoint?: string | undefined;
  /** OTEL_SERVICE_NAME. */
  serviceName: string;
  /** Tests: export here (synchronously) instead of OTLP. */
  exporter?: SpanExporter;
  serviceVersion?: string;
}

/** Whether tracing was initialised: the one check on the hot path. */
export function isTracingEnabled(): boolean {
  return state !== null;
}

/** Loads the SDK and registers it globally; does nothing without an endpoint (or a test exporter). */
export async function initTracing(opts: TracingOptions): Promise<void> {
  if (state || (!opts.endpoint && !opts.exporter)) return;
  const [api, core, hooks, sdk, resources, semconv] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
  ]);
  // SDK 3 reads no environment here: the sampler (parent-based, always on), span limits and batch
  // settings are its defaults; only the OTLP exporter still reads OTEL_EXPORTER_OTLP_*.
  let processor;
  if (opts.exporter) {
    processor = new sdk.SimpleSpanProcessor({ exporter: opts.exporter });
  } else {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    const url = `${opts.endpoint!.replace(/\/+$/, '')}/v1/traces`;
    processor = new sdk.BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }) });
  }
  const provider = new sdk.TracerProvider({
    resource: resources.resourceFromAttributes({
      [semconv.ATTR_SERVICE_NAME]: opts.serviceName,
      ...(opts.serviceVersion ? { [semconv.ATTR_SERVICE_VERSION]: opts.serviceVersion } : {}),
    }),
    spanProcessors: [processor],
  });
  // AsyncLocalStorage carries the active span from the request middleware to the job insert.
  api.context.setGlobalContextManager(new hooks.AsyncLocalStorageContextManager().enable());
  api.propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
  api.trace.setGlobalTracerProvider(provider);
  state = { api, tracer: provider.getTracer('dist-job-scheduler', opts.serviceVersion), provider };
}

/** Flushes and stops the exporter; afterwards the helpers are no-ops again. */
export async function shutdownTracing(): Promise<void> {
  const s = state;
  if (!s) return;
  state = null;
  try {
    await s.provider.forceFlush();
  } finally {
    await s.provider.shutdown();
    s.api.trace.disable();
    s.api.propagation.disable();
    s.api.context.disable();
  }
}

/**
 * One SERVER span per API request: named `METHOD route-template`, with the status code. The span is
 * the active context for the rest of the request (also in body-parser's stream callbacks, which run
 * outside the middleware's async context: the request's emitter is bound to it).
 */
export function traceHttpRequest(
  req: IncomingMessage,
  res: ServerResponse,
  routeOf: () => string,
  next: () => void,
): void {
  const s = state;
  if (!s) {
    next();
    return;
  }
  const { api } = s;
  const method = req.method ?? 'GET';
  const parent = api.propagation.extract(api.ROOT_CONTEXT, req.headers);
  const span = s.tracer.startSpan(
    method,
    { kind: api.SpanKind.SERVER, attributes: { 'http.request.method': method } },
    parent,
  );
  const ctx = api.trace.setSpan(parent, span);
  let ended = false;
  const end = (finished: boolean) => {
    if (ended) return;
    ended = true;
    const route = routeOf();
    span.updateName(`${method} ${route}`);
    span.setAttribute('http.route', route);
    if (finished) {
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: api.SpanStatusCode.ERROR });
    } else {
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: 'connection closed before the response' });
    }
    span.end();
  };
  res.once('finish', () => end(true));
  res.once('close', () => end(false));
  api.context.bind(ctx, req);
  api.context.with(ctx, next);
}

/** Runs `fn` in a child span of the active one (INTERNAL unless told); ends it with fn's outcome. */
export async function inSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (setAttributes: (a: Attributes) => void) => Promise<T>,
  kind?: 'client',
): Promise<T> {
  const s = state;
  if (!s) return fn(noop);
  const { api } = s;
  return s.tracer.startActiveSpan(
    name,
    { attributes, kind: kind === 'client' ? api.SpanKind.CLIENT : api.SpanKind.INTERNAL },
    async (span) => {
      try {
        return await fn((a) => span.setAttributes(a));
      } catch (err) {
        span.setStatus({ code: api.SpanStatusCode.ERROR, message: (err as Error)?.name ?? 'error' });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/** The active span's W3C `traceparent`, to store with a job; null when not tracing. */
export function activeTraceparent(): string | null {
  const s = state;
  if (!s) return null;
  const carrier: Record<string, string> = {};
  s.api.propagation.inject(s.api.context.active(), carrier);
  return carrier.traceparent ?? null;
}

/** A claim that returned jobs, as a span from `startTime` (epoch ms) to now. Null when not tracing. */
export function recordClaimSpan(startTime: number, attributes: Attributes): TraceParent | null {
  const s = state;
  if (!s) return null;
  const span = s.tracer.startSpan('djs.claim', { attributes, startTime }, s.api.ROOT_CONTEXT);
  span.end();
  return { ctx: s.api.trace.setSpan(s.api.ROOT_CONTEXT, span) };
}

/** An opaque parent context handed from the claim to its attempts. */
export interface TraceParent {
  ctx: OtelApi.Context;
}

/** One attempt of a job: its span and the outbound request's child span. */
export interface AttemptTrace {
  /** The headers to add to the outbound request (`traceparent`, and `tracestate` if any). */
  readonly headers: Record<string, string>;
  /** Ends the outbound request's span. */
  requestDone(statusCode: number | null, error: boolean): void;
  /** Ends the attempt's span with what was decided. */
  end(attributes: Attributes, error: boolean): void;
}

/**
 * Starts an attempt's span under the claim, linked to the trace the job was created in, and the
 * outbound request's CLIENT span under it (whose context goes to the receiver). Null when not tracing.
 */
export function startAttempt(
  parent: TraceParent | null | undefined,
  storedTraceparent: string | null,
  attributes: Attributes,
  target: { method: string; url: string },
): AttemptTrace | null {
  const s = state;
  if (!s) return null;
  const { api, tracer } = s;
  const links: OtelApi.Link[] = [];
  if (storedTraceparent) {
    const created = api.trace.getSpanContext(
      api.propagation.extract(api.ROOT_CONTEXT, { traceparent: storedTraceparent }),
    );
    if (created && api.isSpanContextValid(created)) links.push({ context: created });
  }
  const parentCtx = parent?.ctx ?? api.ROOT_CONTEXT;
  const attempt = tracer.startSpan('djs.attempt', { attributes, links }, parentCtx);
  const attemptCtx = api.trace.setSpan(parentCtx, attempt);
  const requestAttrs: Attributes = { 'http.request.method': target.method };
  try {
    const u = new URL(target.url);
    requestAttrs['server.address'] = u.hostname;
    requestAttrs['server.port'] = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  } catch {
    // The executor refuses it anyway; no target attributes.
  }
  const request = tracer.startSpan(
    target.method,
    { kind: api.SpanKind.CLIENT, attributes: requestAttrs },
    attemptCtx,
  );
  const headers: Record<string, string> = {};
  api.propagation.inject(api.trace.setSpan(attemptCtx, request), headers);
  let requestEnded = false;
  let attemptEnded = false;
  const requestDone = (statusCode: number | null, error: boolean) => {
    if (requestEnded) return;
    requestEnded = true;
    if (statusCode !== null) request.setAttribute('http.response.status_code', statusCode);
    if (error || (statusCode !== null && statusCode >= 500))
      request.setStatus({ code: api.SpanStatusCode.ERROR });
    request.end();
  };
  return {
    headers,
    requestDone,
    end(attrs, error) {
      if (attemptEnded) return;
      attemptEnded = true;
      requestDone(null, false);
      attempt.setAttributes(attrs);
      if (error) attempt.setStatus({ code: api.SpanStatusCode.ERROR });
      attempt.end();
    },
  };
}

/** Drops any user header that would collide with ours (jobs stored before they were reserved). */
export function withTraceHeaders(
  headers: Record<string, string>,
  trace: AttemptTrace | null,
): Record<string, string> {
  if (!trace) return headers;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    const lower = k.toLowerCase();
    if (lower !== 'traceparent' && lower !== 'tracestate') out[k] = v;
  }
  return { ...out, ...trace.headers };
}
