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

/**
 * Every `name` event from the moment of the call on, kept: call it before the action, then wait for
 * the one you want after (e.g. by a job id the action returns). Build it with `recordEvents`.
 */
export class EventLog<P> {
  /** What was recorded so far, in order. */
  readonly seen: P[] = [];
  private readonly listeners = new Set<() => void>();

  constructor(subscribe: (record: (payload: P) => void) => () => void) {
    this.close = subscribe((payload) => {
      this.seen.push(payload);
      for (const w of [...this.listeners]) w();
    });
  }

  /** Stops recording. */
  readonly close: () => void;

  /**
   * Resolves with what `check` returns once that is truthy: checked now, over what was recorded,
   * and again after each new event; rejects after `timeoutMs` naming `what` and the last event.
   * Its listener and timer are gone either way.
   */
  until<T>(check: (seen: readonly P[]) => T | false | null | undefined, what: string, timeoutMs = 15_000) {
    return new Promise<T>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(look);
      };
      const look = () => {
        let got: T | false | null | undefined;
        try {
          got = check(this.seen);
        } catch (err) {
          done();
          return reject(err instanceof Error ? err : new Error(String(err)));
        }
        if (!got) return;
        done();
        resolve(got);
      };
      const timer = setTimeout(() => {
        done();
        const last = this.seen.length ? `the last ${JSON.stringify(this.seen.at(-1))}` : 'none came';
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what} (${this.seen.length} seen, ${last})`,
          ),
        );
      }, timeoutMs);
      this.listeners.add(look);
      look();
    });
  }

  /** The first payload, recorded or to come, that `where` accepts. */
  first(where: (payload: P) => boolean, what: string, timeoutMs?: number): Promise<P> {
    return this.until((seen) => seen.find(where), what, timeoutMs);
  }

  /** One log of several: what they recorded so far, then what each records next. */
  static merge<P>(logs: EventLog<P>[]): EventLog<P> {
    return new EventLog<P>((record) => {
      for (const l of logs) for (const p of l.seen) record(p);
      const follow = logs.map((l) => {
        const w = () => record(l.seen.at(-1)!);
        l.listeners.add(w);
        return () => l.listeners.delete(w);
      });
      return () => follow.forEach((stop) => stop());
    });
  }
}

/** An EventLog of `name` events on `emitter`, recording from now on. */
export function recordEvents<M extends Record<keyof M, unknown[]>, K extends keyof M & string>(
  emitter: EventEmitter<M>,
  name: K,
): EventLog<EventPayload<M, K>> {
  const untyped = emitter as unknown as EventEmitter;
  return new EventLog((record) => {
    untyped.on(name, record);
    return () => untyped.off(name, record);
  });
}
