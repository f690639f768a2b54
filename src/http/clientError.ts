// Requests Node's HTTP parser refuses before Express sees them (a NUL or control character in a
// header, a request line or headers over Node's 16 KiB limit) would otherwise get Node's bare
// "400 Bad Request" with no body. Every answer of ours carries the error envelope, these included.
import type http from 'node:http';
import type { Duplex } from 'node:stream';

const envelope = (status: number, code: string, message: string) => {
  const body = JSON.stringify({ error: { code, message } });
  return (
    `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
};

/** Answers a request the parser refused with our envelope, then closes the connection. */
export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy(); // the client went away
    return;
  }
  // Garbage after a request still being answered (e.g. a CR LF that ended its headers early): let
  // that answer go out, then close; the garbage itself gets none.
  const pending = (socket as { _httpMessage?: http.ServerResponse })._httpMessage;
  if (pending) {
    pending.shouldKeepAlive = false;
    if (pending.writableFinished) socket.destroy();
    else pending.once('finish', () => socket.destroy());
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  socket.end(
    tooLarge
      ? envelope(431, 'headers_too_large', 'the request line or headers are too large')
      : envelope(400, 'bad_request', 'the request could not be parsed as HTTP'),
  );
}

/** Installs answerClientError on a server. */
export function withClientErrors(server: http.Server): http.Server {
  server.on('clientError', answerClientError);
  return server;
}
