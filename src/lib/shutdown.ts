// Signal handling shared by the entry points: the first SIGTERM/SIGINT starts a graceful stop, a
// second one exits at once.
import type { Logger } from '../logger.ts';

/** Calls `stop` on the first signal; exits 0 after it resolves, 1 if it throws, 130 on a second signal. */
export function onShutdownSignal(log: Logger, stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
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
