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
  // The client went away, or a response is already under way: nothing sensible can be written.
  if (err.code === 'ECONNRESET' || !socket.writable || (socket as { _httpMessage?: unknown })._httpMessage) {
    socket.destroy();
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
