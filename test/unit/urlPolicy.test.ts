import { describe, expect, it } from 'vitest';
import { blockedAddressReason, checkTargetUrl, createTargetPolicy } from '../../src/jobs/urlPolicy.ts';

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
    ['http://[::ffff:169.254.169.254]/', /metadata|linkLocal/],
    ['http://0.0.0.0/', /unspecified/],
    ['http://[::]/', /unspecified/],
    ['http://10.0.0.1/', /private/],
    ['http://172.16.5.4/', /private/],
    ['http://192.168.1.1/', /private/],
    ['http://100.64.0.1/', /carrierGradeNat/],
    ['http://169.254.169.254/latest/meta-data/', /metadata/],
    ['http://168.63.129.16/', /metadata/],
    ['http://[fd00:ec2::254]/', /metadata/],
    ['http://[fe80::1]/', /linkLocal/],
    ['http://[fc00::1]/', /uniqueLocal/],
    ['http://224.0.0.1/', /multicast/],
    ['http://[ff02::1]/', /multicast/],
    ['http://255.255.255.255/', /broadcast/],
    ['http://[64:ff9b::7f00:1]/', /translated/],
    ['http://[2002:7f00:1::]/', /6to4/],
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
