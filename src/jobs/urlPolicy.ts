// Outbound target policy (SSRF guard), pure: the API checks a job's URL at create time and the
// scheduler checks every resolved address at connect time with the same rules.
import ipaddr from 'ipaddr.js';

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

/** Addresses that are "public unicast" by range but are cloud metadata/wire-server endpoints. */
const METADATA_IPS = ['169.254.169.254', '168.63.129.16', '100.100.100.200', 'fd00:ec2::254'].map((a) =>
  ipaddr.parse(a),
);
const BLOCKED_NAMES = new Set([
  'localhost',
  'metadata',
  'metadata.google.internal',
  'instance-data',
  'instance-data.ec2.internal',
]);
const BLOCKED_SUFFIXES = ['.localhost', '.internal', '.local', '.localdomain', '.home.arpa'];

export interface TargetPolicy {
  allow: [Addr, number][];
}

/** Parses TARGET_ALLOWLIST CIDRs; throws with the bad entry named. */
export function createTargetPolicy(cidrs: string[]): TargetPolicy {
  return {
    allow: cidrs.map((c) => {
      try {
        return c.includes('/')
          ? ipaddr.parseCIDR(c)
          : ([ipaddr.parse(c), ipaddr.parse(c).kind() === 'ipv4' ? 32 : 128] as [Addr, number]);
      } catch {
        throw new Error(`TARGET_ALLOWLIST entry "${c}" is not a CIDR`);
      }
    }),
  };
}

function unmap(a: Addr): Addr {
  return a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress()
    ? (a as ipaddr.IPv6).toIPv4Address()
    : a;
}

function allowlisted(a: Addr, policy: TargetPolicy): boolean {
  return policy.allow.some(([net, bits]) => a.kind() === net.kind() && a.match(net, bits));
}

/**
 * Why an IP address may not be a target, or null when it may. Only plain public unicast is allowed
 * (IPv4-mapped and NAT64/6to4 forms are judged by the IPv4 address they carry), unless allowlisted.
 */
export function blockedAddressReason(ip: string, policy: TargetPolicy): string | null {
  let addr: Addr;
  try {
    addr = unmap(ipaddr.parse(ip.replace(/^\[|\]$/g, '').replace(/%.*$/, '')));
  } catch {
    return 'not an IP address';
  }
  if (allowlisted(addr, policy)) return null;
  if (
    METADATA_IPS.some((m) => m.kind() === addr.kind() && m.toNormalizedString() === addr.toNormalizedString())
  ) {
    return 'cloud metadata address';
  }
  // Embedded IPv4 in translation prefixes (64:ff9b::/96, 6to4): judge the IPv4 they reach.
  if (addr.kind() === 'ipv6') {
    const v6 = addr as ipaddr.IPv6;
    const range = v6.range();
    if (range === 'rfc6052' || range === 'rfc6145') {
      const b = v6.toByteArray().slice(12);
      const inner = blockedAddressReason(ipaddr.fromByteArray(b).toString(), policy);
      return inner ? `translated IPv6 of a blocked IPv4 (${inner})` : null;
    }
    if (range === '6to4') {
      const b = v6.toByteArray().slice(2, 6);
      const inner = blockedAddressReason(ipaddr.fromByteArray(b).toString(), policy);
      return inner ? `6to4 of a blocked IPv4 (${inner})` : null;
    }
  }
  const range = addr.range();
  return range === 'unicast' ? null : `${range} address`;
}

/** A bracket-free hostname that is an IP literal, normalised (WHATWG URL already folds 0x7f.1, 2130706433, 0177.0.0.1). */
export function ipLiteral(hostname: string): string | null {
  const h = hostname.replace(/^\[|\]$/g, '');
  return ipaddr.isValid(h) ? h : null;
}

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

/** Checks a job URL without DNS: scheme, length, userinfo, IP literals and names that can only be local. */
export function checkTargetUrl(raw: string, policy: TargetPolicy): UrlCheck {
  if (raw.length > 2048) return { ok: false, reason: 'must be at most 2048 characters' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'must be an absolute http(s) URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { ok: false, reason: 'scheme must be http or https' };
  if (url.username || url.password) return { ok: false, reason: 'must not contain credentials (userinfo)' };
  const host = url.hostname.replace(/\.$/, '').toLowerCase();
  if (!host) return { ok: false, reason: 'must have a host' };
  const ip = ipLiteral(host);
  if (ip) {
    const why = blockedAddressReason(ip, policy);
    return why ? { ok: false, reason: `host is a ${why}` } : { ok: true, url };
  }
  if (host === 'localhost' || host.endsWith('.localhost')) {
    // "localhost" is loopback by definition: allowed exactly when loopback is allowlisted.
    return blockedAddressReason('127.0.0.1', policy)
      ? { ok: false, reason: 'host is local' }
      : { ok: true, url };
  }
  if (BLOCKED_NAMES.has(host) || BLOCKED_SUFFIXES.some((s) => host.endsWith(s))) {
    return { ok: false, reason: 'host is a local or metadata name' };
  }
  if (!host.includes('.')) return { ok: false, reason: 'host must be a fully qualified domain name' };
  return { ok: true, url };
}
