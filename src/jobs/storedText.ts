// What a target sends back is stored in Postgres `text` columns, which hold neither NUL nor invalid
// UTF-8; one such byte used to fail the whole batched result write for every tenant. Pure, so the
// rules are unit-tested and the scheduler and the completer's fallback apply the same ones.

export type BodyEncoding = 'utf8' | 'base64';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A response body as stored: lossless. Valid UTF-8 without NUL is kept as text; anything else
 * (binary, gzip, NUL, invalid UTF-8) is base64 of the exact bytes. A body cut at the size cap may end
 * inside a multi-byte character: those trailing bytes are dropped so a truncated text stays text.
 */
export function encodeBody(bytes: Buffer, truncated: boolean): { body: string; encoding: BodyEncoding } {
  const b = truncated ? bytes.subarray(0, completeUtf8Length(bytes)) : bytes;
  if (!b.includes(0)) {
    try {
      return { body: strictUtf8.decode(b), encoding: 'utf8' };
    } catch {
      // not UTF-8: fall through to base64 of the original bytes
    }
  }
  return { body: bytes.toString('base64'), encoding: 'base64' };
}

/** Length of `b` without an incomplete UTF-8 sequence at its end (at most 3 bytes are dropped). */
export function completeUtf8Length(b: Buffer): number {
  const n = b.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const byte = b[n - back]!;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead byte
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

/**
 * Text derived from what a target sent (error messages quoting headers, parser errors) made safe for
 * a `text` column: NUL and other C0/C1 controls except tab and newline become U+FFFD, lone surrogates
 * become U+FFFD, and the result is cut to `max` characters. Deterministic: the same input always
 * stores the same text.
 */
export function cleanText(s: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const t = s.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '\uFFFD');
  return (t.length > max ? t.slice(0, max) : t).toWellFormed();
}
