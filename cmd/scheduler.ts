// Scheduler entry point: parse config, start the scheduler, stop gracefully on SIGTERM/SIGINT.
import { parseSchedulerConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { exitOnStartupFailure } from '../src/lib/exit.ts';
import { onShutdownSignal } from '../src/lib/shutdown.ts';
import { startSchedulerProcess } from '../src/scheduler/process.ts';

async function main(): Promise<void> {
  const config = parseSchedulerConfig();
  const log = createLogger('scheduler', config.LOG_LEVEL);
  const running = await startSchedulerProcess(config, log);
  onShutdownSignal(log, () => running.stop());
}

main().catch(exitOnStartupFailure);
