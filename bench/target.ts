// The loopback target of the benchmark, in its own process so it never steals the measured
// process's event loop. Answers 204 (or a 1 MiB body in "big" mode) and records the lateness of
// each request that carries an `x-due` header (epoch ms): arrival − due.
import http from 'node:http';

const mode = process.argv[2] ?? 'small';
const big = Buffer.alloc(1024 * 1024, 'b');
let count = 0;
let lateness: number[] = [];
const now = () => performance.timeOrigin + performance.now();

const server = http.createServer((req, res) => {
  const due = req.headers['x-due'];
  if (typeof due === 'string') lateness.push(now() - Number(due));
  // A schedule's occurrence: lateness against its planned time.
  const planned = req.headers['djs-scheduled-for'];
  if (typeof planned === 'string') lateness.push(now() - Date.parse(planned));
  count++;
  req.resume();
  req.on('end', () => {
    if (mode === 'big') {
      res.writeHead(200, { 'content-length': String(big.length) });
      res.on('error', () => {});
      res.end(big);
    } else {
      res.writeHead(204).end();
    }
  });
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  process.send!({ port: (server.address() as { port: number }).port });
});
process.on('message', (m: string) => {
  if (m === 'stats') process.send!({ count, lateness });
  // Cheap progress probe: serialising thousands of samples would stall this process's event loop
  // (and so the requests whose lateness it measures).
  if (m === 'count') process.send!({ count, lateness: [] });
  if (m === 'reset') {
    count = 0;
    lateness = [];
    process.send!({ ok: true });
  }
});
process.on('disconnect', () => process.exit(0));
