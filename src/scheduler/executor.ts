// Fires one attempt with undici: no redirects, an overall deadline, and a capped read of the response
// body so memory stays flat whatever the target sends. Connections (the shared keep-alive agent and
// the SSRF guard on every resolved address) are outboundAgent.ts's.
import type { Agent, Dispatcher } from 'undici';
import { checkTargetUrl, type TargetPolicy } from '../jobs/urlPolicy.ts';
import { parseRetryAfterMs } from '../jobs/backoff.ts';
import { encodeBody } from '../jobs/storedText.ts';
import { webhookHeaders } from '../webhooks/signing.ts';
import type { SchedulerEvents } from './events.ts';
import { message, redirectError, result, type ExecutionResult } from './executionResult.ts';
import { guardedLookup, outboundAgent, unreachableHost, type LookupFn } from './outboundAgent.ts';

// Part of the executor's surface: callers pass a lookup, and compare the text an unreachable host stores.
export { unreachableHostText, type LookupFn } from './outboundAgent.ts';

export interface OutboundRequest {
  webhookId: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
  timeoutMs: number;
  secrets: string[];
}

export interface ExecutorDeps {
  events: SchedulerEvents;
  /** DNS resolver (default dns.lookup; tests inject one that maps names to loopback). */
  lookup?: LookupFn;
  /** The monotonic clock deadlines and durations are measured on (tests move it; default performance.now). */
  now?: () => number;
}

export interface ExecutorOptions {
  /** Which targets jobs may reach (TARGET_ALLOWLIST over the built-in blocks). */
  policy: TargetPolicy;
  /** Response bytes stored at most; the rest is not read (RESPONSE_BODY_MAX_BYTES). */
  maxResponseBytes: number;
  /** The user-agent header of every attempt. */
  userAgent: string;
  /** Connections per origin; keep-alive sockets are reused across jobs to the same target (default 128). */
  connectionsPerOrigin?: number;
}

export class Executor {
  readonly agent: Agent;
  private readonly now: () => number;
  constructor(
    deps: ExecutorDeps,
    private readonly opts: ExecutorOptions,
  ) {
    this.now = deps.now ?? (() => performance.now());
    const lookup = guardedLookup(opts.policy, deps.lookup, (r) => deps.events.emit('lookupRefused', r));
    this.agent = outboundAgent(lookup, opts.connectionsPerOrigin ?? 128);
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
