// Fires one attempt with undici: one shared keep-alive Agent, an SSRF guard at connect time (every
// resolved address is checked, IP literals too), no redirects, an overall deadline, and a capped read
// of the response body so memory stays flat whatever the target sends.
import dns from 'node:dns';
import { Agent, type Dispatcher } from 'undici';
import { blockedAddressReason, checkTargetUrl, type TargetPolicy } from '../jobs/urlPolicy.ts';
import type { AttemptResult } from '../jobs/stateMachine.ts';
import { parseRetryAfterMs } from '../jobs/backoff.ts';
import { cleanText, encodeBody, type BodyEncoding } from '../jobs/storedText.ts';
import { webhookHeaders } from '../webhooks/signing.ts';

/** Stored error texts are capped by a CHECK on job_executions.error. */
const MAX_ERROR_CHARS = 2000;

export type LookupFn = typeof dns.lookup;

export interface OutboundRequest {
  webhookId: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
  timeoutMs: number;
  secrets: string[];
}

export interface ExecutionResult {
  result: AttemptResult | { kind: 'aborted'; reason: string };
  statusCode: number | null;
  error: string | null;
  responseBody: string | null;
  /** How responseBody is stored: text, or base64 of bytes that are not NUL-free UTF-8. */
  responseEncoding: BodyEncoding;
  responseTruncated: boolean;
  retryAfterMs: number | null;
  /** performance.now() (the executor's clock) when the request was handed to undici. */
  sentAt: number;
  durationMs: number;
}

function result(
  sentAt: number,
  r: Partial<ExecutionResult> & Pick<ExecutionResult, 'result'>,
  endedAt: number,
): ExecutionResult {
  return {
    statusCode: null,
    responseBody: null,
    responseEncoding: 'utf8',
    responseTruncated: false,
    retryAfterMs: null,
    sentAt,
    ...r,
    error: r.error == null ? null : cleanText(r.error, MAX_ERROR_CHARS),
    durationMs: Math.round(endedAt - sentAt),
  };
}

/**
 * A hostname that resolved to nothing jobs may reach: no such name, no address, a resolver error, or
 * an address the policy blocks. One error for all of them, with one stored text and one outcome
 * (a retryable network error), so that the attempts of a job cannot tell a user which internal names
 * exist (a blocked answer) and which do not (NXDOMAIN). The detail goes to the server log only.
 */
export class UnreachableHostError extends Error {
  readonly code = 'EDJSUNREACHABLE';
  constructor(hostname: string) {
    super(unreachableHostText(hostname));
  }
}

/** The stored error of an UnreachableHostError: the same for every reason. */
export const unreachableHostText = (hostname: string) =>
  `${hostname} did not resolve to an address this service may reach (unknown name, or not allowed)`;

/** What the guarded lookup refused, for the server log (never stored where a user can read it). */
export interface RefusedLookup {
  hostname: string;
  reason: string;
}

export interface ExecutorOptions {
  policy: TargetPolicy;
  maxResponseBytes: number;
  userAgent: string;
  /** Connections per origin; keep-alive sockets are reused across jobs to the same target. */
  connectionsPerOrigin?: number;
  /** DNS resolver (tests inject one that maps names to loopback). */
  lookup?: LookupFn;
  /** Told why a hostname was refused (for the server log). */
  onRefusedLookup?: (r: RefusedLookup) => void;
  /** The monotonic clock deadlines and durations are measured on (tests move it; default performance.now). */
  now?: () => number;
}

/**
 * Builds the guarded lookup: refuses a hostname if any address it resolves to is blocked. Every
 * refusal, and every failure to resolve, is the same UnreachableHostError (see there).
 */
export function guardedLookup(
  policy: TargetPolicy,
  base: LookupFn = dns.lookup,
  onRefused: (r: RefusedLookup) => void = () => {},
): LookupFn {
  const fn = (hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    const refuse = (reason: string) => {
      onRefused({ hostname, reason });
      callback(new UnreachableHostError(hostname));
    };
    base(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return refuse(`lookup failed: ${err.code ?? err.message}`);
      const list = addresses;
      for (const a of list) {
        const why = blockedAddressReason(a.address, policy);
        if (why) return refuse(`resolves to a ${why}`);
      }
      if (list.length === 0) return refuse('no address');
      if (options.all) return callback(null, list);
      return callback(null, list[0]!.address, list[0]!.family);
    });
  };
  return fn as unknown as LookupFn;
}

function unreachableHost(err: unknown): UnreachableHostError | null {
  for (let e = err as { cause?: unknown } | undefined, i = 0; e && i < 5; e = e.cause as typeof e, i++) {
    if (e instanceof UnreachableHostError) return e;
  }
  return null;
}

function message(err: unknown): string {
  const parts: string[] = [];
  for (
    let e = err as { cause?: unknown; message?: unknown; code?: unknown } | undefined, i = 0;
    e && i < 4;
    e = e.cause as typeof e, i++
  ) {
    const m = typeof e.message === 'string' ? e.message : 'error';
    parts.push(typeof e.code === 'string' && !m.includes(e.code) ? `${m} (${e.code})` : m);
  }
  return parts.join(': ').slice(0, 2000);
}

/**
 * The stored text for a refused redirect: the Location without its query string or fragment (they
 * often carry tokens), and never logged.
 */
export function redirectError(location: string | string[] | undefined): string {
  const raw = Array.isArray(location) ? location[0] : location;
  if (!raw) return 'redirect (no Location) not followed';
  const cut = raw.search(/[?#]/);
  return `redirect to ${(cut === -1 ? raw : raw.slice(0, cut)).slice(0, 500)} not followed`;
}

export class Executor {
  readonly agent: Agent;
  private readonly now: () => number;
  constructor(private readonly opts: ExecutorOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.agent = new Agent({
      connections: opts.connectionsPerOrigin ?? 128,
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 60_000,
      pipelining: 1,
      // HTTP/1.1 only, as before undici 8 (which offers h2 over TLS by default): with h2 the jobs to an
      // origin would share one multiplexed session (`connections` would no longer bound sockets) and
      // a new https origin's burst would wait behind a single protocol probe.
      allowH2: false,
      connect: { timeout: 10_000, lookup: guardedLookup(opts.policy, opts.lookup, opts.onRefusedLookup) },
    });
  }

  /**
   * Runs one attempt. Never throws: every failure becomes a classified result. Uses undici's
   * low-level dispatch (no response stream objects) because this is the per-job hot path.
   */
  execute(req: OutboundRequest, signal: AbortSignal): Promise<ExecutionResult> {
    const { now } = this;
    const sentAt = now();
    const check = this.checkUrl(req.url);
    if (!check.ok) {
      return Promise.resolve(
        result(sentAt, { result: { kind: 'blocked' }, error: `target not allowed: ${check.reason}` }, now()),
      );
    }
    const url = check.url;
    const body = req.body ?? '';
    // The timestamp is for the receiver's clock check, so it is wall-clock time by design.
    const signed = webhookHeaders(req.secrets, req.webhookId, Math.floor(Date.now() / 1000), body);
    const headers = { ...req.headers, 'user-agent': this.opts.userAgent, ...signed };
    const max = this.opts.maxResponseBytes;

    return new Promise<ExecutionResult>((resolve) => {
      let controller: Dispatcher.DispatchController | null = null;
      let settled = false;
      let statusCode = 0;
      let responseHeaders: Record<string, string | string[] | undefined> = {};
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;

      const timedOut = (): Partial<ExecutionResult> & Pick<ExecutionResult, 'result'> => ({
        result: { kind: 'timeout' },
        error: `timed out after ${req.timeoutMs} ms`,
      });
      // The deadline covers the whole exchange: whatever ends at or after it (the last body byte, a
      // reset) is a timeout, even when it is handled before the deadline's timer has run (a timer
      // fires late when the event loop is busy, and the response's I/O may come first). Decided on
      // the same reading of the clock as the recorded duration, so a succeeded attempt never reads
      // longer than its timeout_ms. An abort (cancel, lost lease, shutdown) stays what it is.
      const finish = (r: Partial<ExecutionResult> & Pick<ExecutionResult, 'result'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        const endedAt = now();
        const late = r.result.kind !== 'aborted' && endedAt - sentAt >= req.timeoutMs;
        resolve(result(sentAt, late ? timedOut() : r, endedAt));
      };
      const response = () => {
        const ra = responseHeaders['retry-after'];
        const stored = encodeBody(size ? Buffer.concat(chunks, size) : Buffer.alloc(0), truncated);
        if (statusCode > 599) {
          // undici accepts any three digits ("HTTP/1.1 999"); such an answer is not a verdict.
          finish({
            result: { kind: 'invalid_response' },
            error: `invalid response: status code ${statusCode} is outside 100-599`,
            responseBody: stored.body,
            responseEncoding: stored.encoding,
            responseTruncated: truncated,
          });
          return;
        }
        finish({
          result: { kind: 'response', statusCode },
          statusCode,
          error: statusCode >= 300 && statusCode < 400 ? redirectError(responseHeaders.location) : null,
          responseBody: stored.body,
          responseEncoding: stored.encoding,
          responseTruncated: truncated,
          retryAfterMs:
            statusCode === 429 || statusCode === 503
              ? parseRetryAfterMs(Array.isArray(ra) ? ra[0] : ra, Date.now())
              : null,
        });
      };
      // Stop reading: whatever else the target sends is discarded with the socket.
      const stopReading = (ctl: Dispatcher.DispatchController) => {
        response();
        ctl.abort(new Error('response body limit reached'));
      };
      const onAbort = () => {
        finish({
          result: { kind: 'aborted', reason: String(signal.reason) },
          error: `aborted: ${String(signal.reason)}`,
        });
        controller?.abort(new Error('aborted'));
      };
      // The overall deadline (connect + headers + body), whatever the target trickles. Node arms
      // timers against the event loop's cached millisecond clock, which can lag performance.now():
      // a timer may fire a fraction of a millisecond before the deadline measured from sentAt. An
      // attempt must never be cut short (its recorded duration would read 1999 ms for a 2000 ms
      // timeout), so an early firing waits out the remainder.
      const onDeadline = () => {
        const left = req.timeoutMs - (now() - sentAt);
        if (left > 0) {
          timer = setTimeout(onDeadline, Math.ceil(left));
          return;
        }
        finish(timedOut());
        controller?.abort(new Error('deadline'));
      };
      let timer = setTimeout(onDeadline, req.timeoutMs);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });

      this.agent.dispatch(
        {
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: req.method,
          headers,
          body: req.body ?? undefined,
          // Off: the deadline above alone ends an attempt. undici's own timeouts run on its coarse
          // "fast timers" and could end one up to ~0.5 s before its timeout_ms.
          headersTimeout: 0,
          bodyTimeout: 0,
        },
        {
          onRequestStart(ctl) {
            controller = ctl;
            if (settled) ctl.abort(new Error('aborted'));
          },
          onResponseStart(ctl, code, hdrs) {
            if (code < 200) return; // 1xx informational: the real response follows
            statusCode = code;
            responseHeaders = hdrs;
            if (max === 0) {
              truncated = true;
              stopReading(ctl);
            }
          },
          onResponseData(ctl, chunk) {
            if (settled) return;
            const room = max - size;
            if (chunk.length >= room) {
              chunks.push(chunk.subarray(0, room));
              size = max;
              truncated = chunk.length > room;
              if (truncated) stopReading(ctl);
              return;
            }
            chunks.push(chunk);
            size += chunk.length;
          },
          onResponseEnd() {
            response();
          },
          onResponseError(_ctl, err) {
            if (settled) return;
            const unreachable = unreachableHost(err);
            if (unreachable) {
              // Never sent. The text alone, without undici's wrapping: it must read the same for
              // every reason (UnreachableHostError).
              finish({ result: { kind: 'network_error' }, error: unreachable.message });
            } else {
              finish({ result: { kind: 'network_error' }, error: message(err) });
            }
          },
        },
      );
    });
  }

  // The policy is fixed for this executor, so a URL's verdict is too; recurring jobs to the same
  // endpoints skip re-parsing. Resolved addresses are still checked on every connect.
  private readonly urlChecks = new Map<string, ReturnType<typeof checkTargetUrl>>();
  private checkUrl(raw: string): ReturnType<typeof checkTargetUrl> {
    let v = this.urlChecks.get(raw);
    if (!v) {
      if (this.urlChecks.size >= 10_000) this.urlChecks.clear();
      v = checkTargetUrl(raw, this.opts.policy);
      this.urlChecks.set(raw, v);
    }
    return v;
  }

  async close(): Promise<void> {
    await this.agent.destroy();
  }
}
