// A raw HTTP/1.1 client for hostile-input tests. Node's own client refuses to send what these tests
// need to send (NUL, CR/LF and other controls in headers, bytes that are not Latin-1, invalid UTF-8,
// malformed percent-escapes in the request target), so the request is written byte for byte on a socket.
import net from 'node:net';

export interface RawRequest {
  method: string;
  /** The request target exactly as sent (raw bytes allowed: a Buffer is written as is). */
  target: string | Buffer;
  /** Header lines as sent; a Buffer value is written byte for byte. Host and Connection are added. */
  headers?: [string, string | Buffer][];
  body?: string | Buffer;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type RawResult = { ok: true; res: RawResponse } | { ok: false; error: string };

/** Bytes of a header value, target or body: a string as UTF-8 (lone surrogates become U+FFFD), a Buffer as is. */
export const bytes = (s: string | Buffer): Buffer => (Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8'));

/** The request as the bytes on the wire. */
export function serialize(req: RawRequest): Buffer {
  const body = req.body === undefined ? undefined : bytes(req.body);
  const parts: Buffer[] = [
    Buffer.from(`${req.method} `, 'latin1'),
    bytes(req.target),
    Buffer.from(' HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n', 'latin1'),
  ];
  for (const [name, value] of req.headers ?? [])
    parts.push(Buffer.from(`${name}: `, 'latin1'), bytes(value), Buffer.from('\r\n', 'latin1'));
  if (body !== undefined) parts.push(Buffer.from(`Content-Length: ${body.length}\r\n`, 'latin1'));
  parts.push(Buffer.from('\r\n', 'latin1'));
  if (body !== undefined) parts.push(body);
  return Buffer.concat(parts);
}

/** Parses a complete response (the server closes the connection); null while incomplete. */
export function parseResponse(buf: Buffer): RawResponse | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!m) return null;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = buf.subarray(end + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const out: Buffer[] = [];
    let at = 0;
    for (;;) {
      const eol = body.indexOf('\r\n', at);
      if (eol < 0) return null;
      const size = parseInt(body.subarray(at, eol).toString('latin1'), 16);
      if (Number.isNaN(size)) return null;
      if (size === 0) break;
      if (body.length < eol + 2 + size) return null;
      out.push(body.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    body = Buffer.concat(out);
  } else if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (body.length < n) return null;
    body = body.subarray(0, n);
  }
  return { status: Number(m[1]), headers, body: body.toString('utf8') };
}

/**
 * Sends one request on a fresh connection and reads the response until the server closes. A server
 * may answer before reading a large body and then reset the connection: a complete response read
 * before the reset still counts.
 */
export function rawRequest(port: number, req: RawRequest, timeoutMs = 15_000): Promise<RawResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = net.connect(port, '127.0.0.1');
    const finish = (why?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const res = parseResponse(Buffer.concat(chunks));
      resolve(res ? { ok: true, res } : { ok: false, error: why ?? 'connection closed without a response' });
    };
    const timer = setTimeout(() => finish(`no response within ${timeoutMs} ms`), timeoutMs);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
    });
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('error', (err: NodeJS.ErrnoException) => finish(`socket error ${err.code ?? err.message}`));
    // Never half-close: Node's server aborts a request whose client sent FIN before the answer.
    socket.on('connect', () => socket.write(serialize(req)));
  });
}
