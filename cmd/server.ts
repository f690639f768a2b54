// API server entry point: parse config, start, stop on SIGTERM.
import { parseConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { exitOnStartupFailure } from '../src/lib/exit.ts';
import { onShutdownSignal } from '../src/lib/shutdown.ts';
import { startServer } from '../src/server.ts';

async function main(): Promise<void> {
  const config = parseConfig();
  const log = createLogger('server', config.LOG_LEVEL);
  const server = await startServer(config, log);
  onShutdownSignal(log, () => server.stop());
}

main().catch(exitOnStartupFailure);
