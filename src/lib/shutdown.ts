// Signal handling shared by the entry points: the first SIGTERM/SIGINT starts a graceful stop, a
// second one exits at once, except a copy of the first that arrives right after it. Ctrl-C on
// `npx tsx cmd/scheduler.ts` signals the whole process group, and the tsx CLI relays SIGINT to its
// child when the child has not acknowledged it within 30 ms (npm forwards it too): one keypress
// arrives two or three times within milliseconds. Counting those as a second signal exited 130 with
// requests in flight, leaving their jobs `running` until the leases expired.
import type { Logger } from '../logger.ts';

/**
 * How long after the first signal the same signal again counts as a copy of it. Relays arrive within
 * tens of milliseconds; a person pressing Ctrl-C a second time on purpose takes longer than a second.
 */
export const SIGNAL_REPEAT_WINDOW_MS = 1000;

/** What a signal means: start the stop, a copy of the first (ignore it), or exit now. */
export type SignalVerdict = 'stop' | 'repeat' | 'force';

/** Judges each signal by what came before (pure apart from the injected clock). */
export class SignalJudge {
  private first: { signal: string; at: number } | undefined;

  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly windowMs: number = SIGNAL_REPEAT_WINDOW_MS,
  ) {}

  /** The first signal stops; the same one within `windowMs` of it is a repeat; anything else forces. */
  judge(signal: string): SignalVerdict {
    const at = this.now();
    if (!this.first) {
      this.first = { signal, at };
      return 'stop';
    }
    return signal === this.first.signal && at - this.first.at < this.windowMs ? 'repeat' : 'force';
  }
}

/**
 * Calls `stop` on the first signal; exits 0 after it resolves, 1 if it throws, 130 on a second
 * signal (a copy of the first within SIGNAL_REPEAT_WINDOW_MS is ignored).
 */
export function onShutdownSignal(
  log: Logger,
  stop: (signal: string) => Promise<void>,
  judge: SignalJudge = new SignalJudge(),
): void {
  const handler = (signal: NodeJS.Signals) => {
    const verdict = judge.judge(signal);
    if (verdict === 'repeat') {
      log.info({ signal }, 'same signal again right after the first (relayed): ignored');
      return;
    }
    if (verdict === 'force') {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    log.info({ signal }, 'shutting down');
    stop(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
