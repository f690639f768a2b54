// Probes /healthz while other clients keep the API busy: how long a cheap request waits behind
// expensive ones on the server's event loop. The busy clients run in another process (in the
// measuring one they would compete with the server for its event loop, when it runs in-process, and
// measure themselves). Used by test/verification/api-event-loop.test.ts and the bench's freeze scenario.
import { spawn } from 'node:child_process';
import { once } from 'node:events';

const ZONES = Intl.supportedValuesOf('timeZone');
const spell = (z: string, i: number) =>
  [...z].map((c, j) => ((i >> (j % 16)) & 1 ? c.toUpperCase() : c.toLowerCase())).join('');

/**
 * Expensive previews that miss every cache: the hardening issue's reproduction (`0 0 29 2 *\/7`,
 * count 100), and valid ones over decades in random zones, spelled randomly, from random years.
 */
export function heavyPreviewUrls(base: string, n: number, only?: 'repro'): string[] {
  return Array.from({ length: n }, (_, i) => {
    const timezone = spell(ZONES[(i * 7919) % ZONES.length]!, i);
    const year = 2030 + ((i * 37) % 3000);
    const q: Record<string, string> = [
      { cron: '0 0 29 2 */7', count: '100', timezone },
      { cron: '0 0 29 2 *', count: '12', timezone, from: `${year}-01-01T00:00:00Z` },
      { cron: '0 0 1 1 *', count: '50', timezone, from: `${year}-03-01T00:00:00Z` },
      { cron: '30 2 * * 0', count: '100', timezone, from: `${year}-06-01T00:00:00Z` },
    ][only === 'repro' ? 0 : i % 4]!;
    return `${base}/v1/schedules/preview?${new URLSearchParams(q).toString()}`;
  });
}

export interface ProbeResult {
  /** Requests the busy clients completed, by status. */
  requests: number;
  statuses: Record<string, number>;
  probes: number;
  p50: number;
  p99: number;
  max: number;
}

/** `clients` loops request `urls` (round robin) for `durationMs` while /healthz is probed every 10 ms. */
export async function healthUnderLoad(o: {
  base: string;
  auth: string;
  urls: string[];
  clients: number;
  durationMs: number;
}): Promise<ProbeResult> {
  const load = spawn(
    process.execPath,
    [
      '-e',
      `const urls = JSON.parse(require('fs').readFileSync(0, 'utf8'));
       let n = 0, stop = false; const statuses = {};
       process.on('SIGTERM', () => { stop = true; });
       const worker = async () => { while (!stop) {
         const res = await fetch(urls[n++ % urls.length], { headers: { authorization: process.env.AUTH } });
         await res.arrayBuffer(); statuses[res.status] = (statuses[res.status] || 0) + 1; } };
       Promise.all(Array.from({ length: ${o.clients} }, worker)).then(() => console.log(JSON.stringify({ n, statuses })));`,
    ],
    { env: { ...process.env, AUTH: o.auth }, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = once(load, 'exit'); // listened to at once: with no clients it exits right away
  let out = '';
  load.stdout.on('data', (d: Buffer) => (out += d.toString()));
  load.stdin.end(JSON.stringify(o.urls));
  await new Promise((r) => setTimeout(r, 500)); // the clients get going
  const latencies: number[] = [];
  const until = performance.now() + o.durationMs;
  while (performance.now() < until) {
    const t0 = performance.now();
    const res = await fetch(`${o.base}/healthz`);
    await res.arrayBuffer();
    latencies.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 10));
  }
  load.kill('SIGTERM');
  await exited;
  const { n, statuses } = JSON.parse(out) as { n: number; statuses: Record<string, number> };
  latencies.sort((a, b) => a - b);
  const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { requests: n, statuses, probes: latencies.length, p50: p(0.5), p99: p(0.99), max: p(1) };
}
