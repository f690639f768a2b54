import { describe, expect, it } from 'vitest';
import { rateLimitKey } from '../../src/lib/clientIp.ts';

describe('rateLimitKey', () => {
  const cases: [string | null | undefined, string | null][] = [
    // IPv4: itself.
    ['203.0.113.7', '203.0.113.7'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    // IPv4-mapped IPv6 (a dual-stack socket's view of an IPv4 peer): the IPv4 address.
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['::FFFF:127.0.0.1', '127.0.0.1'],
    ['::ffff:cb00:7107', '203.0.113.7'],
    ['0:0:0:0:0:ffff:cb00:7107', '203.0.113.7'],
    // Other IPv6: the /64 network, canonical (RFC 5952) form, host bits zero.
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8::/64'],
    ['2001:db8:0:0:1::', '2001:db8::/64'],
    ['2001:db8::203.0.113.7', '2001:db8::/64'],
    ['fe80::1%eth0', 'fe80::/64'],
    ['::1', '::/64'],
    ['::', '::/64'],
    // Unusable: null, so only the per-email limit applies.
    [undefined, null],
    [null, null],
    ['', null],
    ['not-an-ip', null],
    ['999.1.1.1', null],
    ['1.2.3', null],
    ['127.1', null],
    ['0x7f.0.0.1', null],
    ['2130706433', null],
    ['010.0.0.1', null],
    [' 203.0.113.7', null],
    ['203.0.113.7 ', null],
    ['203.0.113.7:8080', null],
    ['203.0.113.0/24', null],
    ['2001:db8::/64', null],
    ['[2001:db8::1]', null],
    ['[2001:db8::1]:443', null],
    ['2001:db8::1::2', null],
    ['2001:db8:1:2:3:4:5:6:7', null],
    ['203.0.113.7, 198.51.100.1', null],
    ['1'.repeat(1000), null],
  ];
  it.each(cases)('%j → %j', (ip, key) => {
    expect(rateLimitKey(ip)).toBe(key);
  });

  it('every address of one /64 gets the same key; the neighbouring /64 another', () => {
    const keys = new Set(
      ['2001:db8:a:b::1', '2001:db8:a:b:ffff:ffff:ffff:ffff', '2001:db8:a:b:1234:5678:9abc:def0'].map(
        rateLimitKey,
      ),
    );
    expect([...keys]).toEqual(['2001:db8:a:b::/64']);
    expect(rateLimitKey('2001:db8:a:c::1')).toBe('2001:db8:a:c::/64');
  });
});
