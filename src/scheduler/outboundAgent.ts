// The connection side of an attempt: one shared keep-alive undici Agent whose every connect goes
// through the guarded lookup (every resolved address is checked, at connect time, so a name cannot
// resolve to something else between the URL check and the connect).
import dns from 'node:dns';
import { Agent } from 'undici';
import { blockedAddressReason, type TargetPolicy } from '../jobs/urlPolicy.ts';

export type LookupFn = typeof dns.lookup;

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

/** The UnreachableHostError an undici error was caused by, if any (undici wraps connect errors). */
export function unreachableHost(err: unknown): UnreachableHostError | null {
  for (let e = err as { cause?: unknown } | undefined, i = 0; e && i < 5; e = e.cause as typeof e, i++) {
    if (e instanceof UnreachableHostError) return e;
  }
  return null;
}

/** The agent every attempt is dispatched on; `lookup` decides which addresses it may connect to. */
export function outboundAgent(lookup: LookupFn, connectionsPerOrigin: number): Agent {
  return new Agent({
    connections: connectionsPerOrigin,
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 60_000,
    pipelining: 1,
    // HTTP/1.1 only, as before undici 8 (which offers h2 over TLS by default): with h2 the jobs to an
    // origin would share one multiplexed session (`connections` would no longer bound sockets) and
    // a new https origin's burst would wait behind a single protocol probe.
    allowH2: false,
    connect: { timeout: 10_000, lookup },
  });
}
