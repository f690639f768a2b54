import { afterEach, describe, expect, it, vi } from 'vitest';
import { Coalescer, CoalescerFull } from '../../src/lib/coalescer.ts';
import { createWeight } from '../../src/jobs/createInput.ts';

/** A flush the test finishes by hand: every call is recorded with a way to answer it. */
function manualFlush<T>() {
  const calls: {
    items: T[];
    answer: (r: PromiseSettledResult<string>[]) => void;
    fail: (e: unknown) => void;
  }[] = [];
  const flush = (items: T[]) =>
    new Promise<PromiseSettledResult<string>[]>((answer, fail) => calls.push({ items, answer, fail }));
  return { calls, flush };
}
const ok = (value: string): PromiseSettledResult<string> => ({ status: 'fulfilled', value });
const echo = (items: number[]) => items.map((i) => ok(`r${i}`));
/** One full turn of the event loop (the coalescer flushes in setImmediate). */
const turn = () => new Promise((r) => setImmediate(r));

describe('Coalescer', () => {
  it('an item alone is flushed alone on the next turn, and gets its own result', async () => {
    const m = manualFlush<number>();
    const c = new Coalescer(m.flush, { maxInFlight: 2, maxBatch: 100 });
    const p = c.submit(1);
    expect(m.calls).toHaveLength(0);
    await turn();
    expect(m.calls.map((x) => x.items)).toEqual([[1]]);
    m.calls[0]!.answer([ok('one')]);
    await expect(p).resolves.toBe('one');
  });

  it('items submitted in one turn share one flush, each getting the result at its position', async () => {
    const m = manualFlush<number>();
    const c = new Coalescer(m.flush, { maxInFlight: 2, maxBatch: 100 });
    const ps = [1, 2, 3].map((i) => c.submit(i));
    await turn();
    expect(m.calls.map((x) => x.items)).toEqual([[1, 2, 3]]);
    m.calls[0]!.answer(echo([1, 2, 3]));
    expect(await Promise.all(ps)).toEqual(['r1', 'r2', 'r3']);
  });

  it('with every flush in flight, arrivals wait and leave together when one finishes', async () => {
    const m = manualFlush<number>();
    const c = new Coalescer(m.flush, { maxInFlight: 2, maxBatch: 100 });
    const first = c.submit(1);
    await turn();
    const second = c.submit(2);
    await turn();
    expect(m.calls.map((x) => x.items)).toEqual([[1], [2]]);
    const waiting = [3, 4, 5, 6].map((i) => c.submit(i));
    await turn();
    expect(m.calls).toHaveLength(2); // no third flush while two are in flight
    expect(c.waiting).toBe(4);
    m.calls[1]!.answer(echo([2]));
    await expect(second).resolves.toBe('r2');
    expect(m.calls.map((x) => x.items)).toEqual([[1], [2], [3, 4, 5, 6]]);
    expect(c.waiting).toBe(0);
    m.calls[2]!.answer(echo([3, 4, 5, 6]));
    m.calls[0]!.answer(echo([1]));
    expect(await Promise.all([first, ...waiting])).toEqual(['r1', 'r3', 'r4', 'r5', 'r6']);
  });

  it('maxBatch splits what waits into several flushes', async () => {
    const m = manualFlush<number>();
    const c = new Coalescer(m.flush, { maxInFlight: 2, maxBatch: 2 });
    const ps = [1, 2, 3, 4, 5].map((i) => c.submit(i));
    await turn();
    expect(m.calls.map((x) => x.items)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    m.calls[0]!.answer(echo([1, 2]));
    await ps[0];
    expect(m.calls.map((x) => x.items)[2]).toEqual([5]);
    m.calls[1]!.answer(echo([3, 4]));
    m.calls[2]!.answer(echo([5]));
    expect(await Promise.all(ps)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
  });

  it("one item's failure reaches only its caller; a failed flush fails its whole batch, and the next works", async () => {
    const m = manualFlush<number>();
    const c = new Coalescer(m.flush, { maxInFlight: 1, maxBatch: 100 });
    const [a, b] = [c.submit(1), c.submit(2)];
    await turn();
    m.calls[0]!.answer([{ status: 'rejected', reason: new Error('bad 1') }, ok('r2')]);
    await expect(a).rejects.toThrow('bad 1');
    await expect(b).resolves.toBe('r2');

    const [d, e] = [c.submit(3), c.submit(4)];
    await turn();
    m.calls[1]!.fail(new Error('database down'));
    await expect(d).rejects.toThrow('database down');
    await expect(e).rejects.toThrow('database down');

    const f = c.submit(5);
    await turn();
    m.calls[2]!.answer([ok('r5')]);
    await expect(f).resolves.toBe('r5');
  });

  it('a flush that answers the wrong number of results fails its batch instead of mismatching answers', async () => {
    const m = manualFlush<number>();
    const c = new Coalescer(m.flush, { maxInFlight: 1, maxBatch: 100 });
    const [a, b] = [c.submit(1), c.submit(2)];
    await turn();
    m.calls[0]!.answer([ok('only one')]);
    await expect(a).rejects.toThrow('1 results for 2 items');
    await expect(b).rejects.toThrow('1 results for 2 items');
  });

  it('a flush that throws synchronously fails its batch and frees its slot', async () => {
    let n = 0;
    const c = new Coalescer<number, string>(
      (items) => {
        if (n++ === 0) throw new Error('sync boom');
        return Promise.resolve(items.map((i) => ok(`r${i}`)));
      },
      { maxInFlight: 1, maxBatch: 100 },
    );
    await expect(c.submit(1)).rejects.toThrow('sync boom');
    await expect(c.submit(2)).resolves.toBe('r2');
  });

  it('a weight budget caps a flush, but a heavy item still goes (alone)', async () => {
    const m = manualFlush<number>();
    const c = new Coalescer(m.flush, { maxInFlight: 1, maxBatch: 100, weigh: (i) => i, maxBatchWeight: 10 });
    const ps = [4, 5, 2, 30, 3].map((i) => c.submit(i));
    await turn();
    expect(m.calls.map((x) => x.items)).toEqual([[4, 5]]); // 4 + 5 fit, + 2 would not
    m.calls[0]!.answer(echo([4, 5]));
    await ps[1];
    expect(m.calls[1]!.items).toEqual([2]); // 2 + 30 would not fit
    m.calls[1]!.answer(echo([2]));
    await ps[2];
    expect(m.calls[2]!.items).toEqual([30]); // heavier than the budget, alone
    m.calls[2]!.answer(echo([30]));
    await ps[3];
    expect(m.calls[3]!.items).toEqual([3]);
    m.calls[3]!.answer(echo([3]));
    expect(await Promise.all(ps)).toEqual(['r4', 'r5', 'r2', 'r30', 'r3']);
  });

  it('with maxWaiting items queued, submit refuses at once; room again once a flush takes them', async () => {
    const m = manualFlush<number>();
    const c = new Coalescer(m.flush, { maxInFlight: 1, maxBatch: 100, maxWaiting: 2 });
    const first = c.submit(1);
    await turn(); // in flight: no longer waiting
    const waiting = [c.submit(2), c.submit(3)];
    await expect(c.submit(4)).rejects.toBeInstanceOf(CoalescerFull);
    m.calls[0]!.answer(echo([1]));
    await first;
    expect(c.waiting).toBe(0);
    const again = c.submit(5);
    m.calls[1]!.answer(echo([2, 3]));
    expect(await Promise.all(waiting)).toEqual(['r2', 'r3']);
    await turn();
    m.calls[2]!.answer(echo([5]));
    await expect(again).resolves.toBe('r5');
  });

  it('keys take turns: a key with many waiting cannot push another key behind all of them', async () => {
    const m = manualFlush<string>();
    const c = new Coalescer(m.flush, { maxInFlight: 1, maxBatch: 4, keyOf: (s) => s[0]! });
    const first = c.submit('a0');
    await turn(); // in flight alone
    const later = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'b1', 'c1', 'b2'].map((x) => c.submit(x));
    m.calls[0]!.answer([ok('a0')]);
    await first;
    // One per key in turn (a, b, c, a), not the first four to arrive (a1–a4).
    expect(m.calls[1]!.items).toEqual(['a1', 'b1', 'c1', 'a2']);
    m.calls[1]!.answer(m.calls[1]!.items.map(ok));
    await later[0];
    // The key just served waits its turn again: b before a.
    expect(m.calls[2]!.items).toEqual(['b2', 'a3', 'a4', 'a5']);
    m.calls[2]!.answer(m.calls[2]!.items.map(ok));
    await later[2];
    expect(m.calls[3]!.items).toEqual(['a6']);
    m.calls[3]!.answer([ok('a6')]);
    expect(await Promise.all(later)).toEqual(['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'b1', 'c1', 'b2']);
  });

  it('maxWaitingPerKey refuses only the key that has that many waiting', async () => {
    const m = manualFlush<string>();
    const c = new Coalescer(m.flush, {
      maxInFlight: 1,
      maxBatch: 100,
      keyOf: (s) => s[0]!,
      maxWaitingPerKey: 2,
    });
    const first = c.submit('a0');
    await turn();
    const waiting = [c.submit('a1'), c.submit('a2')];
    const refused = await c.submit('a3').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CoalescerFull);
    expect((refused as CoalescerFull).perKey).toBe(true);
    const other = c.submit('b1'); // another key still gets in
    m.calls[0]!.answer([ok('a0')]);
    await first;
    m.calls[1]!.answer(m.calls[1]!.items.map(ok));
    expect(await Promise.all([...waiting, other])).toEqual(['a1', 'a2', 'b1']);
  });

  it('refuses a configuration that could never flush', () => {
    expect(() => new Coalescer(() => Promise.resolve([]), { maxInFlight: 0, maxBatch: 1 })).toThrow();
    expect(() => new Coalescer(() => Promise.resolve([]), { maxInFlight: 1, maxBatch: 0 })).toThrow();
  });
});

describe('Coalescer for writes that must happen (retry, dropOldest, drain, stop)', () => {
  // Timers faked, setImmediate real: the backoff moves only when the test says so.
  const fakeTimers = () => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  afterEach(() => void vi.useRealTimers());
  const down = new Error('database down');
  const retrying = (onRetry?: (err: unknown, waiting: number) => void) =>
    ({ maxInFlight: 1, maxBatch: 100, retry: { firstDelayMs: 50, maxDelayMs: 150, onRetry } }) as const;

  it('a failed flush keeps its items, first in line, and flushes them again after the backoff', async () => {
    fakeTimers();
    const m = manualFlush<number>();
    const told: [unknown, number][] = [];
    const c = new Coalescer(
      m.flush,
      retrying((err, n) => told.push([err, n])),
    );
    const settled: string[] = [];
    const ps = [1, 2].map((i) => c.submit(i).then((r) => void settled.push(r)));
    await turn();
    m.calls[0]!.fail(down);
    await turn();
    expect(told).toEqual([[down, 2]]);
    const later = c.submit(3).then((r) => void settled.push(r));
    await turn();
    expect(m.calls).toHaveLength(1); // nothing starts during the backoff
    expect(c.waiting).toBe(3);
    vi.advanceTimersByTime(49);
    await turn();
    expect(m.calls).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(m.calls[1]!.items).toEqual([1, 2, 3]); // the failed ones ahead of what came since
    m.calls[1]!.answer(echo([1, 2, 3]));
    await Promise.all([...ps, later]);
    expect(settled).toEqual(['r1', 'r2', 'r3']);
  });

  it('only the items that failed wait again; the backoff doubles up to its cap and resets after a success', async () => {
    fakeTimers();
    const m = manualFlush<number>();
    const delays: number[] = [];
    const c = new Coalescer(m.flush, retrying());
    const wait = async (n: number) => {
      // How long until flush number n starts, counted from when the last failure is seen.
      await turn();
      for (let ms = 0; ms <= 1000; ms += 10) {
        if (m.calls.length >= n) return delays.push(ms);
        vi.advanceTimersByTime(10);
        await turn();
      }
      throw new Error(`flush ${n} never started`);
    };
    const [a, b] = [c.submit(1), c.submit(2)];
    await turn();
    m.calls[0]!.answer([ok('r1'), { status: 'rejected', reason: down }]);
    await expect(a).resolves.toBe('r1');
    await wait(2);
    expect(m.calls[1]!.items).toEqual([2]);
    for (let n = 2; n <= 4; n++) {
      m.calls[n - 1]!.fail(down);
      await wait(n + 1);
    }
    expect(delays).toEqual([50, 100, 150, 150]);
    m.calls[4]!.answer([ok('r2')]);
    await expect(b).resolves.toBe('r2');
    const d = c.submit(4);
    await turn();
    m.calls[5]!.fail(down);
    await wait(7);
    expect(delays.at(-1)).toBe(50); // back to the first delay after a success
    m.calls[6]!.answer([ok('r4')]);
    await expect(d).resolves.toBe('r4');
  });

  it("whenFull 'dropOldest' takes the new item and gives up the oldest waiting one", async () => {
    const m = manualFlush<number>();
    const c = new Coalescer(m.flush, {
      maxInFlight: 1,
      maxBatch: 100,
      maxWaiting: 2,
      whenFull: 'dropOldest',
    });
    const first = c.submit(1);
    await turn(); // in flight: not waiting, never dropped
    const [two, three, four] = [c.submit(2), c.submit(3), c.submit(4)];
    await expect(two).rejects.toBeInstanceOf(CoalescerFull);
    expect(c.waiting).toBe(2);
    m.calls[0]!.answer(echo([1]));
    await first;
    expect(m.calls[1]!.items).toEqual([3, 4]);
    m.calls[1]!.answer(echo([3, 4]));
    expect(await Promise.all([three, four])).toEqual(['r3', 'r4']);
  });

  it('pending() lists every item not answered yet, in flight or waiting again after a failure', async () => {
    fakeTimers();
    const m = manualFlush<number>();
    const c = new Coalescer(m.flush, retrying());
    const ps = [c.submit(1)];
    await turn();
    ps.push(c.submit(2));
    expect(c.pending()).toEqual([1, 2]);
    m.calls[0]!.fail(down);
    await turn();
    expect(c.pending()).toEqual([1, 2]);
    vi.advanceTimersByTime(50);
    m.calls[1]!.answer(echo([1, 2]));
    await Promise.all(ps);
    expect(c.pending()).toEqual([]);
  });

  it('drain resolves once nothing waits or is in flight, or false at its timeout', async () => {
    fakeTimers();
    const m = manualFlush<number>();
    const c = new Coalescer(m.flush, retrying());
    expect(await c.drain(10)).toBe(true);
    void c.submit(1);
    const drained = c.drain(1000);
    await turn();
    m.calls[0]!.fail(down); // waits again: not drained
    await turn();
    vi.advanceTimersByTime(50);
    m.calls[1]!.answer(echo([1]));
    expect(await drained).toBe(true);
    void c.submit(2);
    const late = c.drain(100);
    await turn();
    vi.advanceTimersByTime(100);
    expect(await late).toBe(false);
  });

  it('stop cancels a pending retry and starts no more flushes; what waits stays unanswered', async () => {
    fakeTimers();
    const m = manualFlush<number>();
    const c = new Coalescer(m.flush, retrying());
    let answered = false;
    void c.submit(1).finally(() => (answered = true));
    await turn();
    m.calls[0]!.fail(down);
    await turn();
    c.stop();
    expect(vi.getTimerCount()).toBe(0);
    void c.submit(2);
    await turn();
    expect(m.calls).toHaveLength(1);
    expect(c.pending()).toEqual([1, 2]);
    expect(answered).toBe(false);
  });
});

describe('the weight of a create in its shared INSERT', () => {
  it('counts bytes, not UTF-16 units: multi-byte bodies, URLs and headers weigh what they send', () => {
    const ascii = createWeight({ url: 'https://e.com/a', body: 'x'.repeat(1000), headers: { k: 'v' } });
    const euro = createWeight({ url: 'https://e.com/a', body: '€'.repeat(1000), headers: { k: 'v' } });
    expect(euro - ascii).toBe(2000); // '€' is 3 bytes in UTF-8, 1 UTF-16 unit
    const emoji = createWeight({ url: 'https://e.com/a', body: null, headers: { k: '😀'.repeat(10) } });
    const plain = createWeight({ url: 'https://e.com/a', body: null, headers: { k: 'ab'.repeat(10) } });
    expect(emoji - plain).toBe(20); // 4 bytes vs 2 UTF-16 units each
  });
});
