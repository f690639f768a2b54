import { describe, expect, it } from 'vitest';
import zlib from 'node:zlib';
import { cleanText, completeUtf8Length, encodeBody } from '../../src/jobs/storedText.ts';

describe('encodeBody: lossless storage of response bodies', () => {
  const utf8 = (s: string) => Buffer.from(s, 'utf8');
  it.each([
    ['plain ASCII', utf8('hello'), false, { body: 'hello', encoding: 'utf8' }],
    ['multi-byte UTF-8', utf8('grüße ✓ 🎉'), false, { body: 'grüße ✓ 🎉', encoding: 'utf8' }],
    ['empty', Buffer.alloc(0), false, { body: '', encoding: 'utf8' }],
    ['NUL inside', utf8('a\0b'), false, { body: utf8('a\0b').toString('base64'), encoding: 'base64' }],
    ['invalid UTF-8', Buffer.from([0x61, 0xff, 0x62]), false, { body: 'Yf9i', encoding: 'base64' }],
    [
      'lone surrogate bytes (CESU)',
      Buffer.from([0xed, 0xa0, 0x80]),
      false,
      { body: '7aCA', encoding: 'base64' },
    ],
  ] as const)('%s', (_name, bytes, truncated, expected) => {
    expect(encodeBody(bytes, truncated)).toEqual(expected);
  });

  it('gzip bytes are stored as base64 and decode back to the exact bytes', () => {
    const gz = zlib.gzipSync('{"ok":true}');
    const r = encodeBody(gz, false);
    expect(r.encoding).toBe('base64');
    expect(Buffer.from(r.body, 'base64').equals(gz)).toBe(true);
  });

  it('a text body cut inside a multi-byte character stays text (the partial character is dropped)', () => {
    const full = utf8('ab✓'); // ✓ is 3 bytes
    expect(encodeBody(full.subarray(0, 4), true)).toEqual({ body: 'ab', encoding: 'utf8' });
    expect(encodeBody(full.subarray(0, 3), true)).toEqual({ body: 'ab', encoding: 'utf8' });
    // Not truncated: the same bytes are invalid UTF-8, so they are kept exactly, as base64.
    expect(encodeBody(full.subarray(0, 4), false).encoding).toBe('base64');
  });

  it.each([
    [[0x61], 1],
    [[0x61, 0xe2], 1],
    [[0x61, 0xe2, 0x9c], 1],
    [[0x61, 0xe2, 0x9c, 0x93], 4],
    [[0xf0, 0x9f, 0x8e], 0],
    [[0xf0, 0x9f, 0x8e, 0x89], 4],
    [[0xc3], 0],
    [[0xc3, 0xbc], 2],
  ])('completeUtf8Length(%j) = %i', (bytes, n) => {
    expect(completeUtf8Length(Buffer.from(bytes))).toBe(n);
  });
});

describe('cleanText: deterministic text for error columns', () => {
  it.each([
    ['keeps ordinary text', 'timed out after 100 ms', 'timed out after 100 ms'],
    ['NUL becomes U+FFFD', 'a\0b', 'a\uFFFDb'],
    [
      'C0 and C1 controls become U+FFFD, tab and newline stay',
      'a\x01\x1b\x7f\x85\tb\nc',
      'a\uFFFD\uFFFD\uFFFD\uFFFD\tb\nc',
    ],
    ['lone surrogate becomes U+FFFD', 'x\ud800y', 'x\uFFFDy'],
  ])('%s', (_n, input, out) => {
    expect(cleanText(input, 100)).toBe(out);
  });
  it('cuts to the maximum without leaving half a surrogate pair', () => {
    const s = cleanText(`${'a'.repeat(9)}🎉`, 10);
    expect(s).toBe(`${'a'.repeat(9)}\uFFFD`);
    expect(s.isWellFormed()).toBe(true);
  });
});
