// Hostile values for API fuzzing and the ways a value rides in an HTTP request (a JSON value or key, a
// header, a query parameter, a path segment, a form field, the whole body). One value, many channels:
// each channel encodes it the way a real (or malicious) client would.
import fc from 'fast-check';

export const GENERATORS = ['nul', 'c0', 'surrogate', 'huge', 'deep', 'wrong_type'] as const;
export type Generator = (typeof GENERATORS)[number];

/** One hostile value; which fields are set says what it is. */
export interface Hostile {
  gen: Generator;
  /** Short, reproducible description (never the megabyte itself). */
  desc: string;
  /** A string value (may hold NUL, controls, lone surrogates, a megabyte). */
  str?: string;
  /** Raw bytes where a string goes (invalid UTF-8: WTF-8 surrogates, overlong NUL, stray bytes). */
  bytes?: Buffer;
  /** Raw JSON text where a JSON value goes (nesting, numbers out of range, other types). */
  json?: string;
  /** A text field given several times (repeated header or parameter; in JSON, an array). */
  repeat?: string[];
  /** Put the bytes in the request target or form body without percent-encoding them. */
  raw?: boolean;
}

/** Where a value goes: sets the sizes that are "just under the limit" for that route and channel. */
export interface ChannelLimits {
  /** Bytes of a string that still fit under the limit (body limit, or Node's header limit). */
  bodyChars: number;
  /** Nesting depth that still fits under the body limit. */
  fitDepth: number;
  /** Whether to also try 100,000-deep nesting (routes with a large body limit). */
  veryDeep?: boolean;
}

export const MiB = 1 << 20;

/** WTF-8: UTF-8, except that a lone surrogate becomes its own 3-byte sequence (what a sloppy client sends). */
export function wtf8(s: string): Buffer {
  if (s.isWellFormed()) return Buffer.from(s, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Buffer.from(out);
}

/** The bytes a hostile text value stands for (for headers, targets and forms). */
export function textBytes(h: Hostile): Buffer {
  if (h.bytes) return h.bytes;
  if (h.str !== undefined) return wtf8(h.str);
  return Buffer.from(h.json ?? '', 'utf8');
}

const UNRESERVED = new Uint8Array(256).map((_, b) =>
  /[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? 1 : 0,
);
const HEX = Buffer.from('0123456789ABCDEF', 'latin1');
/** Percent-encodes every byte but the unreserved ones (RFC 3986), so any bytes survive the target. */
export function percentEncode(b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(b.length * 3);
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    const byte = b[i]!;
    if (UNRESERVED[byte]) out[n++] = byte;
    else {
      out[n++] = 0x25; // %
      out[n++] = HEX[byte >> 4]!;
      out[n++] = HEX[byte & 15]!;
    }
  }
  return out.subarray(0, n);
}

/** A value in a request target or form body: percent-encoded, or raw when the value asks for it. */
export const targetPart = (h: Hostile, b: Buffer = textBytes(h)): Buffer => (h.raw ? b : percentEncode(b));

/** The JSON text of a hostile value in a JSON value position. */
export function jsonValue(h: Hostile): Buffer {
  if (h.json !== undefined) return Buffer.from(h.json, 'utf8');
  if (h.bytes) return Buffer.concat([Buffer.from('"'), h.bytes, Buffer.from('"')]);
  if (h.repeat) return Buffer.from(JSON.stringify(h.repeat), 'utf8');
  // JSON.stringify escapes lone surrogates ("\ud800") and controls ("\u0000"): well-formed JSON text.
  return Buffer.from(JSON.stringify(h.str ?? ''), 'utf8');
}

/** The JSON text of a hostile value in a key position (`"key": value`); a repeat is a duplicate key. */
export function jsonKey(h: Hostile, value: string): Buffer {
  if (h.repeat) return Buffer.from(h.repeat.map((k) => `${JSON.stringify(k)}:${value}`).join(','), 'utf8');
  const key = h.bytes
    ? Buffer.concat([Buffer.from('"'), h.bytes, Buffer.from('"')])
    : Buffer.from(JSON.stringify(h.str ?? h.json ?? ''), 'utf8');
  return Buffer.concat([key, Buffer.from(`:${value}`, 'utf8')]);
}

/** The hostile value inserted raw into some text (JSON body, form body): no escaping at all. */
export function insertRaw(h: Hostile, text: string, pos: number): Buffer {
  const at = Math.min(pos, text.length);
  if (h.str !== undefined && (h.gen === 'nul' || h.gen === 'c0' || h.gen === 'surrogate'))
    return Buffer.concat([wtf8(text.slice(0, at)), wtf8(h.str), wtf8(text.slice(at))]);
  if (h.bytes) return Buffer.concat([wtf8(text.slice(0, at)), h.bytes, wtf8(text.slice(at))]);
  return jsonValue(h); // huge, deep, wrong type: the whole body is that JSON text
}

const escapeForDesc = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…(${s.length})` : s);

/** Inserts `what` into `base` at `pos` (or replaces the whole of it). */
const mix = (base: string, what: string, pos: number, replace: boolean) =>
  replace ? what : base.slice(0, pos % (base.length + 1)) + what + base.slice(pos % (base.length + 1));

const placement = fc.record({ pos: fc.nat({ max: 1000 }), replace: fc.boolean(), raw: rawFlag() });
function rawFlag() {
  return fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });
}

/** NUL characters in or instead of the base value. */
export const nul = (base: string): fc.Arbitrary<Hostile> =>
  fc.tuple(placement, fc.integer({ min: 1, max: 3 })).map(([p, n]) => ({
    gen: 'nul' as const,
    str: mix(base, '\u0000'.repeat(n), p.pos, p.replace),
    raw: p.raw,
    desc: `${n}×U+0000 ${p.replace ? 'instead of' : `at ${p.pos % (base.length + 1)} of`} ${escapeForDesc(base)}`,
  }));

// Every other C0 control, DEL, and CR LF (header injection) and a C1 control for good measure.
const C0 = [
  ...Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)),
  '\u007f',
  '\r\n',
  '\r\nX-Injected: 1',
  '\u0085',
];
/** Other C0 controls in or instead of the base value. */
export const c0 = (base: string): fc.Arbitrary<Hostile> =>
  fc.tuple(placement, fc.constantFrom(...C0)).map(([p, c]) => ({
    gen: 'c0' as const,
    str: mix(base, c, p.pos, p.replace),
    raw: p.raw,
    desc: `${escapeForDesc(c)} ${p.replace ? 'instead of' : `at ${p.pos % (base.length + 1)} of`} ${escapeForDesc(base)}`,
  }));

const SURROGATES = ['\ud800', '\udbff', '\udc00', '\udfff', '\udc00\ud800', 'a\ud83d'];
const BAD_UTF8: [string, number[]][] = [
  ['WTF-8 U+D800', [0xed, 0xa0, 0x80]],
  ['WTF-8 U+DFFF', [0xed, 0xbf, 0xbf]],
  ['overlong NUL', [0xc0, 0x80]],
  ['stray 0xFF', [0xff]],
  ['truncated 0xC3', [0xc3]],
];
/** Lone UTF-16 surrogates (as JSON escapes "\ud800" or as WTF-8 bytes) or otherwise invalid UTF-8. */
export const surrogate = (base: string): fc.Arbitrary<Hostile> =>
  fc.oneof(
    fc.tuple(placement, fc.constantFrom(...SURROGATES)).map(([p, s]) => ({
      gen: 'surrogate' as const,
      str: mix(base, s, p.pos, p.replace),
      raw: p.raw,
      desc: `lone surrogate ${escapeForDesc(s)} ${p.replace ? 'instead of' : `at ${p.pos % (base.length + 1)} of`} ${escapeForDesc(base)}`,
    })),
    fc.tuple(placement, fc.constantFrom(...BAD_UTF8)).map(([p, [name, b]]) => {
      const at = p.replace ? 0 : p.pos % (base.length + 1);
      const head = p.replace ? '' : base.slice(0, at);
      const tail = p.replace ? '' : base.slice(at);
      return {
        gen: 'surrogate' as const,
        bytes: Buffer.concat([wtf8(head), Buffer.from(b), wtf8(tail)]),
        raw: p.raw,
        desc: `invalid UTF-8 (${name}) ${p.replace ? 'instead of' : `at ${at} of`} ${escapeForDesc(base)}`,
      };
    }),
  );

/** A 1 MiB string, or one whose bytes just fit under what the channel's limit lets through. */
export const huge = (base: string, limits: ChannelLimits): fc.Arbitrary<Hostile> =>
  fc.tuple(fc.boolean(), fc.constantFrom('a', 'é', '😀', base || 'x', '%')).map(([mib, unit]) => {
    const units = mib ? Math.ceil(MiB / unit.length) : Math.floor(limits.bodyChars / Buffer.byteLength(unit));
    return {
      gen: 'huge' as const,
      str: unit.repeat(units),
      desc: `${units}×${escapeForDesc(unit)} (${Buffer.byteLength(unit) * units} bytes)`,
    };
  });

const nested = (shape: 'array' | 'object' | 'mixed', depth: number) => {
  if (shape === 'array') return '['.repeat(depth) + ']'.repeat(depth);
  if (shape === 'object') return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  return '[{"a":'.repeat(depth / 2) + '1' + '}]'.repeat(depth / 2);
};
/** Deeply nested JSON: 10,000 deep, as deep as fits under the limit, and 100,000 where the limit allows. */
export const deep = (limits: ChannelLimits): fc.Arbitrary<Hostile> =>
  fc
    .tuple(
      fc.constantFrom(10_000, limits.fitDepth, ...(limits.veryDeep ? [100_000] : [])),
      fc.constantFrom('array' as const, 'object' as const, 'mixed' as const),
    )
    .map(([depth, shape]) => {
      // An object level costs 6 bytes, an array level 2: keep "fits the limit" true for every shape.
      const d = depth === limits.fitDepth && shape !== 'array' ? Math.floor(depth / 3) : depth;
      return { gen: 'deep' as const, json: nested(shape, d), desc: `${d}-deep ${shape}` };
    });

const WRONG_JSON = [
  '0',
  '-1',
  '1.5',
  '1e309',
  '-1e309',
  '9007199254740993',
  '1e-400',
  '-0',
  'true',
  'false',
  'null',
  '[]',
  '{}',
  '""',
  '["x"]',
  '{"x":"y"}',
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
];
const WRONG_TEXT = [
  '',
  ' ',
  'null',
  'undefined',
  '[]',
  '{}',
  'true',
  '-1',
  '1e309',
  'NaN',
  'Infinity',
  '0x10',
];
const WRONG_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', '', ' '];
/** Wrong types: other JSON types for a value, odd strings and repeats for text, prototype keys for keys. */
export const wrongType = (base: string, channel: 'json' | 'text' | 'key'): fc.Arbitrary<Hostile> => {
  const repeat = fc.constantFrom([base, base], [base, 'x'], [base, '', base]).map((r) => ({
    gen: 'wrong_type' as const,
    repeat: [...r],
    desc: `given ${r.length} times: ${JSON.stringify(r).slice(0, 80)}`,
  }));
  if (channel === 'json')
    return fc.oneof(
      fc
        .constantFrom(
          ...WRONG_JSON,
          JSON.stringify(base), // a string where a number goes ("3600")
          `[${JSON.stringify(base)}]`,
          `{"value":${JSON.stringify(base)}}`,
        )
        .map((j) => ({ gen: 'wrong_type' as const, json: j, desc: `JSON ${j.slice(0, 80)}` })),
      repeat,
    );
  const words = channel === 'key' ? WRONG_KEYS : WRONG_TEXT;
  return fc.oneof(
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(...words)
        .map((s) => ({ gen: 'wrong_type' as const, str: s, desc: `text ${JSON.stringify(s)}` })),
    },
    { weight: 1, arbitrary: repeat },
  );
};

/** All six generators for a field with this base value, channel and limits. */
export function hostile(
  gen: Generator,
  base: string,
  channel: 'json' | 'text' | 'key',
  limits: ChannelLimits,
): fc.Arbitrary<Hostile> {
  switch (gen) {
    case 'nul':
      return nul(base);
    case 'c0':
      return c0(base);
    case 'surrogate':
      return surrogate(base);
    case 'huge':
      return huge(base, limits);
    case 'deep':
      return channel === 'key'
        ? deep(limits).map((h) => ({ ...h, str: h.json, json: undefined }))
        : deep(limits);
    case 'wrong_type':
      return wrongType(base, channel);
  }
}
