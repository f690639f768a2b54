// The key per-IP rate limits count by, from Express's req.ip. Pure: no I/O, no logging.
//
// req.ip is whatever the trusted proxy chain says, so it may be any string (X-Forwarded-For: not-an-ip)
// and must never reach an `inet` cast unchecked. The key is itself a valid `inet` literal: storing it
// and comparing with `=` count exactly the same thing.
import ipaddr from 'ipaddr.js';

// The longest textual IPv6 address (with an embedded IPv4 part) is 45 characters; allow a zone id.
const MAX_LENGTH = 64;

/**
 * A rate-limit key for a client address, or null when there is no usable address (then only the
 * per-email limit applies):
 * - IPv4 in dotted-quad form → itself, e.g. `203.0.113.7`;
 * - IPv4-mapped IPv6 (`::ffff:203.0.113.7`, a dual-stack socket's view of an IPv4 peer) → the IPv4;
 * - any other IPv6 → its /64 network, e.g. `2001:db8:1:2::/64`, because a single subscriber is usually
 *   given a whole /64 and could otherwise rotate addresses to escape a per-address limit;
 * - anything else (empty, garbage, short or octal/hex IPv4 forms, CIDR, host:port) → null.
 */
export function rateLimitKey(ip: string | null | undefined): string | null {
  if (!ip || ip.length > MAX_LENGTH) return null;
  // Only the canonical dotted quad: `127.1` or `0x7f.0.0.1` parse in ipaddr.js but no proxy writes them.
  if (ipaddr.IPv4.isValidFourPartDecimal(ip)) return ipaddr.IPv4.parse(ip).toString();
  if (!ipaddr.IPv6.isValid(ip)) return null;
  const v6 = ipaddr.IPv6.parse(ip);
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  // Keep the first 64 bits; the zone id (fe80::1%eth0) is local to the peer and dropped with the host bits.
  const network = new ipaddr.IPv6([...v6.parts.slice(0, 4), 0, 0, 0, 0]);
  return `${network.toString()}/64`;
}
