// Waiting on what a service reports (scheduler.events) instead of polling metrics or sleeping.
import type { EventEmitter } from 'node:events';

/** The payload (first argument) of event `K` in an emitter's event map. */
export type EventPayload<M, K extends keyof M> = M[K] extends [infer P, ...unknown[]] ? P : never;

/**
 * Resolves with the payload of the next `name` event that `where` accepts (any, without it), or
 * rejects after `timeoutMs` saying what it waited for and what it saw instead. Either way its listener
 * and timer are gone. Call it before the action that causes the event: a past event is not seen.
 * Pass the emitter typed as `EventEmitter<Map>` (TestScheduler.events is): TypeScript reads the
 * payload types from that, not from a subclass such as SchedulerEvents.
 */
export function nextEvent<M extends Record<keyof M, unknown[]>, K extends keyof M & string>(
  emitter: EventEmitter<M>,
  name: K,
  where?: (payload: EventPayload<M, K>) => boolean,
  timeoutMs = 15_000,
): Promise<EventPayload<M, K>> {
  // The typed overloads do not take a listener built for a generic K; the plain view does.
  const untyped = emitter as unknown as EventEmitter;
  return new Promise((resolve, reject) => {
    const seen: unknown[] = [];
    const done = () => {
      clearTimeout(timer);
      untyped.off(name, listener);
    };
    const listener = (payload: EventPayload<M, K>) => {
      let accepted: boolean;
      try {
        accepted = where ? where(payload) : true;
      } catch (err) {
        done();
        return reject(err instanceof Error ? err : new Error(String(err)));
      }
      if (!accepted) return void seen.push(payload);
      done();
      resolve(payload);
    };
    const timer = setTimeout(() => {
      done();
      const saw = seen.length
        ? `saw ${seen.length} that did not, the last ${JSON.stringify(seen.at(-1))}`
        : 'none came';
      const what = `a '${name}' event${where ? ' that matches' : ''}`;
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${saw})`));
    }, timeoutMs);
    untyped.on(name, listener);
  });
}
