import { describe, expect, it } from 'vitest';
import {
  blockedAddressReason,
  checkTargetUrl,
  createTargetPolicy,
  ipv4FromNat64,
  type Nat64PrefixLength,
} from '../../src/jobs/urlPolicy.ts';

const strict = createTargetPolicy([]);
const loopbackAllowed = createTargetPolicy(['127.0.0.0/8', '::1/128']);

describe('target URL policy (no allowlist)', () => {
  const blocked: [string, RegExp][] = [
    ['http://127.0.0.1/', /loopback/],
    ['http://127.1/', /loopback/],
    ['http://2130706433/', /loopback/], // decimal
    ['http://0x7f000001/', /loopback/], // hex
    ['http://0x7f.0.0.1/', /loopback/],
    ['http://0177.0.0.1/', /loopback/], // octal
    ['http://017700000001/', /loopback/],
    ['http://[::1]/', /loopback/],
    ['http://[::ffff:127.0.0.1]/', /loopback/], // IPv4-mapped
    ['http://[::ffff:7f00:1]/', /loopback/],
    ['http://[::ffff:169.254.169.254]/', /metadata/],
    ['http://0.0.0.0/', /unspecified/],
    ['http://[::]/', /unspecified/],
    ['http://10.0.0.1/', /private/],
    ['http://172.16.5.4/', /private/],
    ['http://192.168.1.1/', /private/],
    ['http://100.64.0.1/', /carrier-grade NAT/],
    ['http://169.254.169.254/latest/meta-data/', /metadata/],
    ['http://168.63.129.16/', /metadata/],
    ['http://[fd00:ec2::254]/', /metadata/],
    ['http://[fe80::1]/', /link-local/],
    ['http://[fc00::1]/', /unique local/],
    ['http://224.0.0.1/', /multicast/],
    ['http://[ff02::1]/', /multicast/],
    ['http://255.255.255.255/', /broadcast/],
    ['http://[64:ff9b::7f00:1]/', /translated.*loopback/],
    ['http://[64:ff9b:1:a9fe:a9:fe00:808:808]/', /translated.*metadata/], // /96 reading: 8.8.8.8
    ['http://[2002:7f00:1::]/', /6to4.*loopback/],
    ['http://[::8.8.8.8]/', /IPv4-compatible/], // URL serialises it as [::808:808]
    ['http://[::ffff:0:7f00:1]/', /IPv4-translated/],
    ['http://[2001::1]/', /Teredo/],
    ['http://[2001:db8::1]/', /documentation/],
    ['http://[3fff::1]/', /documentation/],
    ['http://[100::1]/', /discard/],
    ['http://localhost/', /local/],
    ['http://LOCALHOST./', /local/],
    ['http://api.localhost/', /local/],
    ['http://metadata.google.internal/computeMetadata/v1/', /metadata/],
    ['http://db.internal/', /local|metadata/],
    ['http://printer.local/', /local/],
    ['http://intranet/', /fully qualified/],
    ['ftp://example.com/', /scheme/],
    ['file:///etc/passwd', /scheme/],
    ['gopher://example.com/', /scheme/],
    ['http://user:pass@example.com/', /credentials/],
    ['http://user@example.com/', /credentials/],
    ['not a url', /absolute/],
    [`https://example.com/${'a'.repeat(2048)}`, /2048/],
  ];
  it.each(blocked)('refuses %s', (url, why) => {
    const r = checkTargetUrl(url, strict);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(why);
  });

  const allowed = [
    'https://example.com/hook',
    'http://example.com:8080/a?b=c',
    'https://8.8.8.8/',
    'https://[2001:4860:4860::8888]/',
    'https://[64:ff9b::808:808]/',
    'https://[64:ff9b:1:808:8:800::]/',
    'https://[2002:808:808::1]/',
    'https://sub.domain.example.org./path',
    'https://xn--bcher-kva.example/',
  ];
  it.each(allowed)('accepts %s', (url) => {
    expect(checkTargetUrl(url, strict).ok).toBe(true);
  });
});

describe('target URL policy with an allowlist', () => {
  it('exempts allowlisted ranges, and localhost when loopback is allowlisted', () => {
    expect(checkTargetUrl('http://127.0.0.1:4000/', loopbackAllowed).ok).toBe(true);
    expect(checkTargetUrl('http://localhost:4000/', loopbackAllowed).ok).toBe(true);
    expect(checkTargetUrl('http://[::1]:4000/', loopbackAllowed).ok).toBe(true);
  });
  it('still refuses ranges that are not allowlisted', () => {
    expect(checkTargetUrl('http://10.0.0.1/', loopbackAllowed).ok).toBe(false);
    expect(checkTargetUrl('http://169.254.169.254/', loopbackAllowed).ok).toBe(false);
  });
  it('rejects a malformed allowlist entry with its name', () => {
    expect(() => createTargetPolicy(['10.0.0.0/33'])).toThrow(/10.0.0.0\/33/);
    expect(() => createTargetPolicy(['nope'])).toThrow(/nope/);
  });
  it('judges resolved addresses the same way (connect-time check)', () => {
    expect(blockedAddressReason('127.0.0.1', strict)).toMatch(/loopback/);
    expect(blockedAddressReason('::ffff:10.1.2.3', strict)).toMatch(/private/);
    expect(blockedAddressReason('93.184.216.34', strict)).toBeNull();
    expect(blockedAddressReason('127.0.0.1', loopbackAllowed)).toBeNull();
  });
});

// IANA IPv6 special-purpose registry: only 2000::/3 is global unicast, and inside it the blocks that
// are not globally reachable are refused. Boundaries on both sides of each block.
describe('IPv6 address ranges (no allowlist)', () => {
  const blocked: [string, RegExp][] = [
    ['::', /unspecified/],
    ['::1', /loopback/],
    ['::2', /IPv4-compatible/],
    ['::808:808', /IPv4-compatible/], // carries public 8.8.8.8, still refused
    ['::8.8.8.8', /IPv4-compatible/], // the form inet_ntop prints; ipaddr.js alone reads it as mapped
    ['0:0:0:0:0:0:8.8.8.8', /IPv4-compatible/],
    ['::7f00:1', /IPv4-compatible/],
    ['::ffff:ffff', /IPv4-compatible/],
    ['::ffff:0:808:808', /IPv4-translated/],
    ['::1:0:0:0', /not global unicast/],
    ['100::', /discard/],
    ['100::ffff:ffff:ffff:ffff', /discard/],
    ['100:0:0:1::1', /dummy/],
    ['5f00::1', /segment-routing/],
    ['fc00::1', /unique local/],
    ['fdff:ffff::1', /unique local/],
    ['fd00:ec2::254', /metadata/],
    ['fe80::1', /link-local/],
    ['fe80::1%eth0', /link-local/],
    ['febf:ffff::1', /link-local/],
    ['fec0::1', /site-local/],
    ['ff02::1', /multicast/],
    ['ff0e::1', /multicast/],
    ['1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', /not global unicast/], // just below 2000::/3
    ['4000::', /not global unicast/], // just above 2000::/3
    ['64:ff9b:0:0:1::1', /not global unicast/], // 64:ff9b::/32 outside the /96 well-known prefix
    ['64:ff9b:2::1', /not global unicast/], // after the 64:ff9b:1::/48 local-use prefix
    ['2001::', /Teredo/],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', /Teredo/], // RFC 4380 example
    ['2001:0:ffff:ffff::1', /Teredo/],
    ['2001:1::1', /IETF protocol/], // PCP anycast
    ['2001:2::1', /benchmarking/],
    ['2001:2:0:ffff::1', /benchmarking/],
    ['2001:3::1', /IETF protocol/], // AMT
    ['2001:4:112::1', /IETF protocol/], // AS112-v6
    ['2001:10::1', /deprecated ORCHID/],
    ['2001:1f:ffff::1', /deprecated ORCHID/],
    ['2001:20::1', /ORCHIDv2/],
    ['2001:2f:ffff::1', /ORCHIDv2/],
    ['2001:30::1', /IETF protocol/], // DETs
    ['2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff', /IETF protocol/], // top of 2001::/23
    ['2001:db8::', /documentation/],
    ['2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', /documentation/],
    ['3fff::', /documentation/],
    ['3fff:fff:ffff::1', /documentation/],
  ];
  it.each(blocked)('refuses %s', (ip, why) => {
    expect(blockedAddressReason(ip, strict)).toMatch(why);
  });

  const allowed = [
    '2000::1', // bottom of 2000::/3
    '2001:200::1', // first address after 2001::/23
    '2001:4860:4860::8888',
    '2001:db7:ffff:ffff:ffff:ffff:ffff:ffff', // just below 2001:db8::/32
    '2001:db9::1', // just above it
    '2003::1', // just above 2002::/16
    '2606:4700:4700::1111',
    '2620:4f:8000::1', // AS112 direct delegation: globally reachable in the registry
    '2a00:1450:4001::1',
    '3ffe:ffff::1', // just below 3fff::/20
    '3fff:1000::1', // just above it
    '3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', // top of 2000::/3
  ];
  it.each(allowed)('accepts %s', (ip) => {
    expect(blockedAddressReason(ip, strict)).toBeNull();
  });
});

describe('IPv6 forms that carry an IPv4 address', () => {
  // IPv4-mapped (::ffff:0:0/96) is the IPv4 itself.
  const mapped: [string, RegExp | null][] = [
    ['::ffff:8.8.8.8', null],
    ['::ffff:808:808', null],
    ['::ffff:127.0.0.1', /loopback/],
    ['::ffff:10.1.2.3', /private/],
    ['::ffff:a9fe:a9fe', /metadata/],
    ['::ffff:0.0.0.0', /unspecified/],
  ];
  it.each(mapped)('IPv4-mapped %s', (ip, why) => {
    const r = blockedAddressReason(ip, strict);
    if (why) expect(r).toMatch(why);
    else expect(r).toBeNull();
  });

  // RFC 6052 section 2.4: 192.0.2.33 under 2001:db8:122:344::/N for each N. The second column fills
  // the "u" octet (bits 64..71) and the suffix with ones: a translator ignores them, and so must we.
  const layouts: [Nat64PrefixLength, string, string][] = [
    [32, '2001:db8:c000:221::', '2001:db8:c000:221:ff00:ffff:ffff:ffff'],
    [40, '2001:db8:1c0:2:21::', '2001:db8:1c0:2:ff21:ffff:ffff:ffff'],
    [48, '2001:db8:122:c000:2:2100::', '2001:db8:122:c000:ff02:21ff:ffff:ffff'],
    [56, '2001:db8:122:3c0:0:221::', '2001:db8:122:3c0:ff00:221:ffff:ffff'],
    [64, '2001:db8:122:344:c0:2:2100:0', '2001:db8:122:344:ffc0:2:21ff:ffff'],
    [96, '2001:db8:122:344::192.0.2.33', '2001:db8:122:344:ffff:ffff:c000:221'],
  ];
  it.each(layouts)('decodes the IPv4 at prefix length /%i (%s)', (len, ip, noisy) => {
    expect(ipv4FromNat64(ip, len)).toBe('192.0.2.33');
    expect(ipv4FromNat64(noisy, len)).toBe('192.0.2.33');
  });

  const translated: [string, RegExp | null][] = [
    // Well-known prefix 64:ff9b::/96: the IPv4 is the last 32 bits.
    ['64:ff9b::808:808', null],
    ['64:ff9b::8.8.8.8', null],
    ['64:ff9b::7f00:1', /^translated IPv6 of a blocked IPv4 \(loopback address\)$/],
    ['64:ff9b::a9fe:a9fe', /translated.*metadata/],
    ['64:ff9b::a00:1', /translated.*private/],
    ['64:ff9b::c0a8:101', /translated.*private/],
    ['64:ff9b::6440:1', /translated.*carrier-grade NAT/],
    ['64:ff9b::', /translated.*unspecified/],
    ['64:ff9b::e000:1', /translated.*multicast/],
    // Local-use prefix 64:ff9b:1::/48 (RFC 8215): the IPv4 is at the /48 layout, not the last 32 bits.
    ['64:ff9b:1:a9fe:a9:fe00:808:808', /translated.*metadata/],
    ['64:ff9b:1:a9fe:a9:fe00::', /translated.*metadata/],
    ['64:ff9b:1:a9fe:fe:fe00::', /^translated IPv6 of a blocked IPv4 \(link-local address\)$/],
    ['64:ff9b:1:7f00:0:100::', /translated.*loopback/],
    ['64:ff9b:1:a00:0:100::', /translated.*private/],
    ['64:ff9b:1:808:8:800::', null],
    // 6to4 (2002::/16): the IPv4 is bits 16..47.
    ['2002:808:808::1', null],
    ['2002:808:808:ffff:ffff:ffff:ffff:ffff', null],
    ['2002:7f00:1::', /^6to4 address of a blocked IPv4 \(loopback address\)$/],
    ['2002:a9fe:a9fe::1', /6to4.*metadata/],
    ['2002:a00:1:1::1', /6to4.*private/],
    ['2002:c0a8:101::', /6to4.*private/],
    ['2002:6440:1::', /6to4.*carrier-grade NAT/],
    ['2002:c000:201::', /6to4.*reserved/],
    ['2002::1', /6to4.*unspecified/],
    ['2002:e000:1::', /6to4.*multicast/],
  ];
  it.each(translated)('NAT64/6to4 %s', (ip, why) => {
    const r = blockedAddressReason(ip, strict);
    if (why) expect(r).toMatch(why);
    else expect(r).toBeNull();
  });
});

describe('IPv6 with an allowlist', () => {
  const cases: [string[], string, boolean][] = [
    [['fc00::/7'], 'fd12:3456::1', true],
    [['fc00::/7'], 'fe80::1', false],
    [['2001:db8::/32'], '2001:db8::1', true], // e.g. a lab using documentation space
    [['2001:db8::/32'], '3fff::1', false],
    [['::1/128'], '::1', true],
    [['::1/128'], '::2', false],
    [['::/96'], '::a00:1', true], // only an explicit entry admits IPv4-compatible addresses
    [['64:ff9b::/96'], '64:ff9b::7f00:1', true], // the IPv6 itself is allowlisted
    // An embedded IPv4 is judged with the allowlist too, as it would be when dialled directly…
    [['10.0.0.0/8'], '64:ff9b::a00:1', true],
    [['10.0.0.0/8'], '64:ff9b:1:a00:0:100::', true],
    [['10.0.0.0/8'], '2002:a00:1::', true],
    [['10.0.0.0/8'], '::ffff:10.0.0.1', true],
    [['10.0.0.0/8'], '64:ff9b::7f00:1', false],
    [['169.254.169.254/32'], '64:ff9b:1:a9fe:a9:fe00:808:808', true],
    // …but an IPv4-compatible address is refused outright, not judged by its IPv4.
    [['10.0.0.0/8'], '::a00:1', false],
    [['10.0.0.0/8'], '::10.0.0.1', false],
  ];
  it.each(cases)('allowlist %j: %s allowed=%s', (allow, ip, ok) => {
    const r = blockedAddressReason(ip, createTargetPolicy(allow));
    if (ok) expect(r).toBeNull();
    else expect(r).toEqual(expect.any(String));
  });
});

describe('reasons never contain the address', () => {
  // They are stored with the job and shown to its owner; an address would map the internal network.
  const addresses = [
    '10.1.2.3',
    '169.254.169.254',
    '::ffff:10.1.2.3',
    '::8.8.8.8',
    '::7f00:1',
    'fd12:3456::1',
    'fe80::1%eth0',
    '64:ff9b::a00:1',
    '64:ff9b:1:a9fe:a9:fe00:808:808',
    '2002:a00:1::',
    '2001:db8::1',
    '2001::1',
    '4000::1',
    'not-an-ip',
  ];
  const addressLike = /\d+\.\d+\.\d+\.\d+|[0-9a-f]*:[0-9a-f]*:|%/i;
  it.each(addresses)('%s', (ip) => {
    const why = blockedAddressReason(ip, strict);
    expect(why).toEqual(expect.any(String));
    expect(why).not.toMatch(addressLike);
    const url = ip.includes(':') ? `http://[${ip.replace(/%.*/, '')}]/` : `http://${ip}/`;
    const r = checkTargetUrl(url, strict);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).not.toMatch(addressLike);
  });
});
