// Fires one attempt with undici: one shared keep-alive Agent, an SSRF guard at connect time (every
// resolved address is checked, IP literals too), no redirects, an overall deadline, and a capped read
// of the response body so memory stays flat whatever the target sends.
import dns from 'node:dns';
import { Agent, request, errors as undiciErrors } from 'undici';
import { blockedAddressReason, checkTargetUrl, type TargetPolicy } from '../jobs/urlPolicy.ts';
import type { AttemptResult } from '../jobs/stateMachine.ts';
import { parseRetryAfterMs } from '../jobs/backoff.ts';
import { webhookHeaders } from './signing.ts';

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
  responseTruncated: boolean;
  retryAfterMs: number | null;
  /** performance.now() when the request was handed to undici. */
  sentAt: number;
  durationMs: number;
}

class BlockedTargetError extends Error {
  readonly code = 'EBLOCKED';
}

export interface ExecutorOptions {
  policy: TargetPolicy;
  maxResponseBytes: number;
  userAgent: string;
  /** Connections per origin; keep-alive sockets are reused across jobs to the same target. */
  connectionsPerOrigin?: number;
  /** DNS resolver (tests inject one that maps names to loopback). */
  lookup?: LookupFn;
}

/** Builds the guarded lookup: refuses a hostname if any address it resolves to is blocked. */
export function guardedLookup(policy: TargetPolicy, base: LookupFn = dns.lookup): LookupFn {
  const fn = (hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    base(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err);
      const list = addresses;
      for (const a of list) {
        const why = blockedAddressReason(a.address, policy);
        if (why) return callback(new BlockedTargetError(`${hostname} resolves to ${a.address}, a ${why}`));
      }
      if (list.length === 0)
        return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }));
      if (options.all) return callback(null, list);
      return callback(null, list[0]!.address, list[0]!.family);
    });
  };
  return fn as unknown as LookupFn;
}

function isBlocked(err: unknown): err is Error {
  for (
    let e = err as { cause?: unknown; code?: unknown } | undefined, i = 0;
    e && i < 5;
    e = e.cause as typeof e, i++
  ) {
    if (e instanceof BlockedTargetError || e.code === 'EBLOCKED') return true;
  }
  return false;
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

export class Executor {
  readonly agent: Agent;
  constructor(private readonly opts: ExecutorOptions) {
    this.agent = new Agent({
      connections: opts.connectionsPerOrigin ?? 128,
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 60_000,
      pipelining: 1,
      connect: { timeout: 10_000, lookup: guardedLookup(opts.policy, opts.lookup) },
    });
  }

  /** Runs one attempt. Never throws: every failure becomes a classified result. */
  async execute(req: OutboundRequest, signal: AbortSignal): Promise<ExecutionResult> {
    const sentAt = performance.now();
    const base = {
      statusCode: null,
      responseBody: null,
      responseTruncated: false,
      retryAfterMs: null,
      sentAt,
    };
    const done = (r: Partial<ExecutionResult> & Pick<ExecutionResult, 'result'>): ExecutionResult => ({
      ...base,
      error: null,
      ...r,
      durationMs: Math.round(performance.now() - sentAt),
    });
    const check = checkTargetUrl(req.url, this.opts.policy);
    if (!check.ok) return done({ result: { kind: 'blocked' }, error: `target not allowed: ${check.reason}` });

    const body = req.body ?? '';
    // The timestamp is for the receiver's clock check, so it is wall-clock time by design.
    const signed = webhookHeaders(req.secrets, req.webhookId, Math.floor(Date.now() / 1000), body);
    const headers = { ...req.headers, 'user-agent': this.opts.userAgent, ...signed };
    // Our own timer (not AbortSignal.timeout) so it is cleared the moment the attempt ends, rather
    // than lingering for timeout_ms after each of thousands of fast requests.
    const deadlineCtl = new AbortController();
    const deadline = deadlineCtl.signal;
    const timer = setTimeout(() => deadlineCtl.abort(new Error('deadline')), req.timeoutMs);
    const combined = AbortSignal.any([signal, deadline]);
    try {
      const res = await request(check.url, {
        method: req.method as 'GET',
        headers,
        body: req.body ?? undefined,
        dispatcher: this.agent,
        signal: combined,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      const max = this.opts.maxResponseBytes;
      if (max === 0) {
        truncated = true;
      } else {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          const room = max - size;
          if (chunk.length >= room) {
            chunks.push(chunk.subarray(0, room));
            size = max;
            truncated = chunk.length > room;
            break;
          }
          chunks.push(chunk);
          size += chunk.length;
        }
      }
      // Stop reading: whatever else the target sends is discarded with the socket.
      if (!res.body.destroyed) res.body.destroy();
      const status = res.statusCode;
      const ra = res.headers['retry-after'];
      return done({
        result: { kind: 'response', statusCode: status },
        statusCode: status,
        error:
          status >= 300 && status < 400
            ? `redirect to ${String(res.headers.location ?? '(none)').slice(0, 500)} not followed`
            : null,
        responseBody: Buffer.concat(chunks).toString('utf8'),
        responseTruncated: truncated,
        retryAfterMs:
          status === 429 || status === 503
            ? parseRetryAfterMs(Array.isArray(ra) ? ra[0] : ra, Date.now())
            : null,
      });
    } catch (err) {
      if (signal.aborted)
        return done({
          result: { kind: 'aborted', reason: String(signal.reason) },
          error: `aborted: ${String(signal.reason)}`,
        });
      if (
        deadline.aborted ||
        err instanceof undiciErrors.HeadersTimeoutError ||
        err instanceof undiciErrors.BodyTimeoutError
      ) {
        return done({ result: { kind: 'timeout' }, error: `timed out after ${req.timeoutMs} ms` });
      }
      if (isBlocked(err))
        return done({ result: { kind: 'blocked' }, error: `target not allowed: ${message(err)}` });
      return done({ result: { kind: 'network_error' }, error: message(err) });
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.agent.destroy();
  }
}
