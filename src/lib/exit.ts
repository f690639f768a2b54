import { ConfigError } from '../config.ts';

/**
 * Ends the process on any failure to start (the entry points' `main().catch`): a config problem
 * prints its list of problems, anything else its stack.
 */
export function exitOnStartupFailure(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
  } else {
    process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exit(1);
}
