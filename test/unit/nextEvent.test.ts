// The test helpers that wait for a service's events: nextEvent (the next one), and recordEvents (an
// EventLog: everything from the call on, for a wait chosen after the action). First match wins, the
// deadline is kept and says what it saw, and no listener or timer outlives the wait (leak-check
// fails the file otherwise).
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { EventLog, nextEvent, recordEvents } from '../helpers/events.ts';

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

describe('recordEvents / EventLog', () => {
  it('keeps what came after it was called, so a wait started later still sees it', async () => {
    const e = emitter();
    e.emit('reaped', { rescued: 1 }); // before: not recorded
    const log = recordEvents(e, 'reaped');
    e.emit('reaped', { rescued: 2 });
    e.emit('claimed', { count: 9 });
    expect(log.seen).toEqual([{ rescued: 2 }]);
    await expect(log.first((r) => r.rescued === 2, 'two')).resolves.toEqual({ rescued: 2 });
    const later = log.first((r) => r.rescued === 3, 'three');
    e.emit('reaped', { rescued: 3 });
    await expect(later).resolves.toEqual({ rescued: 3 });
    log.close();
    expect(e.listenerCount('reaped')).toBe(0);
  });

  it('until() resolves with the first truthy answer, looking again at every new event', async () => {
    const e = emitter();
    const log = recordEvents(e, 'reaped');
    const total = log.until((seen) => {
      const n = seen.reduce((s, r) => s + r.rescued, 0);
      return n >= 5 && n;
    }, 'five rescued');
    for (const rescued of [2, 2, 3]) e.emit('reaped', { rescued });
    await expect(total).resolves.toBe(7);
    log.close();
  });

  it('rejects at the deadline, never before, saying what it waited for and the last event', async () => {
    const e = emitter();
    const log = recordEvents(e, 'reaped');
    e.emit('reaped', { rescued: 0 });
    const t0 = performance.now();
    await expect(log.first((r) => r.rescued > 0, 'a rescue', 100)).rejects.toThrow(
      'timed out after 100 ms waiting for a rescue (1 seen, the last {"rescued":0})',
    );
    expect(performance.now() - t0).toBeGreaterThanOrEqual(99);
    log.close();
  });

  it('rejects with the error of a check that throws', async () => {
    const log = recordEvents(emitter(), 'reaped');
    await expect(
      log.until(() => {
        throw new Error('bad check');
      }, 'anything'),
    ).rejects.toThrow('bad check');
    log.close();
  });

  it('merge() holds what its logs saw, then follows each of them until closed', async () => {
    const [a, b] = [emitter(), emitter()];
    const [la, lb] = [recordEvents(a, 'reaped'), recordEvents(b, 'reaped')];
    a.emit('reaped', { rescued: 1 });
    const both = EventLog.merge([la, lb]);
    b.emit('reaped', { rescued: 2 });
    const three = both.until((seen) => seen.length === 3 && seen, 'three');
    a.emit('reaped', { rescued: 3 });
    expect((await three).map((r) => r.rescued).sort()).toEqual([1, 2, 3]);
    both.close();
    b.emit('reaped', { rescued: 4 });
    expect(both.seen).toHaveLength(3);
    la.close();
    lb.close();
  });
});
