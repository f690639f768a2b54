// Fails a test file that leaves a pool, server, socket or timer behind: such leaks make suites hang
// or flake later, far from their cause.
import { afterAll, beforeAll, expect } from 'vitest';
import { openPoolCount } from '../../src/db/pool.ts';

const WATCHED = new Set(['Timeout', 'TCPServerWrap', 'TCPSocketWrap', 'Immediate']);

function watched(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo())
    if (WATCHED.has(r)) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

let baseline = new Map<string, number>();
beforeAll(() => {
  baseline = watched();
});

afterAll(async () => {
  expect(openPoolCount(), 'a pg pool created in this file was not ended').toBe(0);
  // Sockets and timers close on the next turns of the event loop after end()/close(); give them a moment.
  const deadline = Date.now() + 2000;
  let leaked: string[];
  for (;;) {
    const now = watched();
    leaked = [...now]
      .filter(([k, n]) => n > (baseline.get(k) ?? 0))
      .map(([k, n]) => `${k} x${n - (baseline.get(k) ?? 0)}`);
    if (leaked.length === 0 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  expect(leaked, 'handles left open by this test file').toEqual([]);
});
