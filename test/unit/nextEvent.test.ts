// The test helper that waits for a service's event: first match wins, the deadline is kept and says
// what it saw, and no listener or timer outlives the wait (leak-check fails the file otherwise).
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { nextEvent } from '../helpers/events.ts';

interface Map {
  reaped: [{ rescued: number }];
  claimed: [{ count: number }];
}
const emitter = () => new EventEmitter<Map>();

describe('nextEvent', () => {
  it.each([
    ['the first payload of that event', undefined, { rescued: 0 }],
    ['the first payload the predicate accepts', (r: { rescued: number }) => r.rescued > 0, { rescued: 5 }],
  ])('resolves with %s, then stops listening', async (_what, where, expected) => {
    const e = emitter();
    const p = nextEvent(e, 'reaped', where);
    expect(e.listenerCount('reaped')).toBe(1);
    e.emit('claimed', { count: 3 });
    e.emit('reaped', { rescued: 0 });
    e.emit('reaped', { rescued: 5 });
    await expect(p).resolves.toEqual(expected);
    expect(e.listenerCount('reaped')).toBe(0);
  });

  it('does not see an event emitted before it was called', async () => {
    const e = emitter();
    e.emit('reaped', { rescued: 1 });
    await expect(nextEvent(e, 'reaped', undefined, 50)).rejects.toThrow(/none came/);
  });

  it('rejects at the deadline, never before, naming the event and the last payload it refused', async () => {
    const e = emitter();
    const t0 = performance.now();
    const p = nextEvent(e, 'reaped', (r) => r.rescued > 0, 100);
    e.emit('reaped', { rescued: 0 });
    await expect(p).rejects.toThrow(
      "timed out after 100 ms waiting for a 'reaped' event that matches " +
        '(saw 1 that did not, the last {"rescued":0})',
    );
    expect(performance.now() - t0).toBeGreaterThanOrEqual(99);
    expect(e.listenerCount('reaped')).toBe(0);
  });

  it('rejects with the error of a predicate that throws, and stops listening', async () => {
    const e = emitter();
    const p = nextEvent(e, 'claimed', () => {
      throw new Error('bad predicate');
    });
    e.emit('claimed', { count: 1 });
    await expect(p).rejects.toThrow('bad predicate');
    expect(e.listenerCount('claimed')).toBe(0);
  });
});
