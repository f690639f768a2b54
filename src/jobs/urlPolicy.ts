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

/**
 * Parses an address. "::a.b.c.d" is the deprecated IPv4-compatible form (::/96), but ipaddr.js reads
 * it as IPv4-mapped "::ffff:a.b.c.d", which would judge it by the IPv4 it carries; some resolvers and
 * inet_ntop implementations print ::/96 that way.
 */
function parseAddress(ip: string): Addr {
  const compat = /^::([^:]*\.[^:]*)$/.exec(ip);
  if (compat)
    return ipaddr.fromByteArray([...new Array<number>(12).fill(0), ...ipaddr.IPv4.parse(compat[1]!).octets]);
  return ipaddr.parse(ip);
}

function unmap(a: Addr): Addr {
  return a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress()
    ? (a as ipaddr.IPv6).toIPv4Address()
    : a;
}

function allowlisted(a: Addr, policy: TargetPolicy): boolean {
  return policy.allow.some(([net, bits]) => a.kind() === net.kind() && a.match(net, bits));
}

/** ipaddr.js IPv4 range names as users read them; each starts with a consonant ("a …" in messages). */
const IPV4_LABELS: Record<string, string> = {
  unspecified: 'non-routable (unspecified) address',
  broadcast: 'broadcast address',
  multicast: 'multicast address',
  linkLocal: 'link-local address',
  loopback: 'loopback address',
  carrierGradeNat: 'carrier-grade NAT address',
  private: 'private address',
  reserved: 'reserved address',
  as112: 'special-purpose (AS112) address',
  amt: 'special-purpose (AMT) address',
};

const cidr = (c: string) => ipaddr.parseCIDR(c) as [ipaddr.IPv6, number];
const GLOBAL_UNICAST = cidr('2000::/3');
const NAT64_WELL_KNOWN = cidr('64:ff9b::/96'); // RFC 6052
const NAT64_LOCAL_USE = cidr('64:ff9b:1::/48'); // RFC 8215
const SIX_TO_FOUR = cidr('2002::/16'); // RFC 3056: 2002:AABB:CCDD::/48 carries A.B.C.D

/**
 * IPv6 ranges refused whatever they carry, first match wins. Only 2000::/3 is global unicast, so the
 * entries outside it are here for a precise reason, not to block them (the fallback does). Inside it:
 * the IANA special-purpose registry's blocks that are not globally reachable or not plain unicast.
 * All of 2001::/23 is refused, including its few anycast services: none is a webhook receiver.
 */
const IPV6_BLOCKED: [ipaddr.IPv6, number, string][] = (
  [
    ['::/128', 'non-routable (unspecified) address'],
    ['::1/128', 'loopback address'],
    // Deprecated (RFC 4291): a host may tunnel them to the IPv4 or not route them at all, so they are
    // refused rather than judged by the IPv4 they carry.
    ['::/96', 'deprecated IPv4-compatible address'],
    ['::ffff:0:0:0/96', 'deprecated IPv4-translated address'], // SIIT (RFC 2765)
    ['100::/64', 'discard-only address'], // RFC 6666
    ['100:0:0:1::/64', 'dummy-prefix address'],
    ['5f00::/16', 'segment-routing (SRv6) address'], // RFC 9602
    ['fc00::/7', 'unique local address'],
    ['fe80::/10', 'link-local address'],
    ['fec0::/10', 'deprecated site-local address'],
    ['ff00::/8', 'multicast address'],
    ['2001::/32', 'Teredo address'], // tunnels to an obfuscated IPv4; not judged by it
    ['2001:2::/48', 'benchmarking address'], // RFC 5180
    ['2001:10::/28', 'deprecated ORCHID address'], // RFC 4843
    ['2001:20::/28', 'hash-identifier (ORCHIDv2) address'], // RFC 7343
    ['2001::/23', 'reserved IETF protocol address'], // RFC 2928
    ['2001:db8::/32', 'documentation address'], // RFC 3849
    ['3fff::/20', 'documentation address'], // RFC 9637
  ] as const
).map(([c, why]) => [...cidr(c), why]);

export type Nat64PrefixLength = 32 | 40 | 48 | 56 | 64 | 96;

/**
 * The IPv4 address embedded in an IPv4-embedded IPv6 address with a prefix of the given length
 * (RFC 6052 section 2.2): the four bytes after the prefix, skipping bits 64..71 (the "u" octet),
 * whatever the suffix holds (translators ignore it, so an attacker may fill it with anything).
 */
export function ipv4FromNat64(ip: string, prefixLength: Nat64PrefixLength): string {
  const b = ipaddr.IPv6.parse(ip).toByteArray();
  const v4: number[] = [];
  for (let i = prefixLength / 8; v4.length < 4; i++) if (i !== 8) v4.push(b[i]!);
  return v4.join('.');
}

function ipv6Reason(v6: ipaddr.IPv6, policy: TargetPolicy): string | null {
  // Translation prefixes reach the IPv4 they carry: judge that IPv4 (allowlist included).
  const nat64 = v6.match(NAT64_WELL_KNOWN) ? 96 : v6.match(NAT64_LOCAL_USE) ? 48 : null;
  if (nat64) {
    const inner = blockedAddressReason(ipv4FromNat64(v6.toString(), nat64), policy);
    return inner ? `translated IPv6 of a blocked IPv4 (${inner})` : null;
  }
  if (v6.match(SIX_TO_FOUR)) {
    const inner = blockedAddressReason(v6.toByteArray().slice(2, 6).join('.'), policy);
    return inner ? `6to4 address of a blocked IPv4 (${inner})` : null;
  }
  const special = IPV6_BLOCKED.find(([net, bits]) => v6.match(net, bits));
  if (special) return special[2];
  return v6.match(GLOBAL_UNICAST) ? null : 'reserved (not global unicast) address';
}

/**
 * Why an IP address may not be a target, or null when it may. Only public unicast is allowed: IPv4
 * by ipaddr.js ranges, IPv6 only in 2000::/3 outside the special-purpose blocks; IPv4-mapped, NAT64
 * and 6to4 forms are judged by the IPv4 address they carry. Allowlisted addresses always pass. The
 * text never contains the address: it is stored and shown to the job's owner.
 */
export function blockedAddressReason(ip: string, policy: TargetPolicy): string | null {
  let addr: Addr;
  try {
    addr = unmap(parseAddress(ip.replace(/^\[|\]$/g, '').replace(/%.*$/, '')));
  } catch {
    return 'not an IP address';
  }
  if (allowlisted(addr, policy)) return null;
  if (
    METADATA_IPS.some((m) => m.kind() === addr.kind() && m.toNormalizedString() === addr.toNormalizedString())
  ) {
    return 'cloud metadata address';
  }
  if (addr.kind() === 'ipv6') return ipv6Reason(addr as ipaddr.IPv6, policy);
  const range = addr.range();
  return range === 'unicast' ? null : (IPV4_LABELS[range] ?? 'special-purpose address');
}

/** A bracket-free hostname that is an IP literal, normalised (WHATWG URL already folds 0x7f.1, 2130706433, 0177.0.0.1). */
export function ipLiteral(hostname: string): string | null {
  const h = hostname.replace(/^\[|\]$/g, '');
  // Every IPv4 form ipaddr accepts (decimal, hex, octal, 1 to 4 parts) is made of these characters,
  // and IPv6 needs a colon: anything else is a name. ipaddr answers "not an IP" by throwing
  // internally, which cost ~5% of the API's CPU when every job URL was a name.
  if (!h.includes(':') && !MAYBE_IPV4.test(h)) return null;
  return ipaddr.isValid(h) ? h : null;
}
const MAYBE_IPV4 = /^[0-9a-fx.]+$/i;

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
