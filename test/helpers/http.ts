// Real HTTP servers on loopback for tests: a recording receiver and a Resend stand-in.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  start: number;
  end: number;
}

export interface TestServer {
  url: string;
  port: number;
  requests: Recorded[];
  close(): Promise<void>;
}

/** Starts a server whose handler may delay and answer as it likes; every request is recorded. */
export async function startServer(
  handler: (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: string,
    n: number,
  ) => void | Promise<void>,
): Promise<TestServer> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: Recorded = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        start: performance.now(),
        end: 0,
      };
      requests.push(rec);
      res.on('close', () => (rec.end = performance.now()));
      void Promise.resolve(handler(req, res, rec.body, requests.length)).catch(() => res.destroy());
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

type Handler = Parameters<typeof startServer>[0];

/**
 * A file's test targets: `target(handler)` starts a server and remembers it; `closeAll()` (in
 * afterEach or afterAll) closes every one started so far.
 */
export function targets() {
  const open: TestServer[] = [];
  return {
    target: async (handler: Handler): Promise<TestServer> => {
      const s = await startServer(handler);
      open.push(s);
      return s;
    },
    closeAll: async (): Promise<void> => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    },
  };
}

/** Polls `fn` until it returns a truthy value or the deadline passes (then throws with `what`). */
type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

export async function waitFor<T>(
  fn: () => T | Promise<T>,
  what: string,
  timeoutMs = 15_000,
  everyMs = 20,
): Promise<Truthy<T>> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as Truthy<T>;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
