// `npm run dev`: the whole stack in one command (src/dev/stack.ts). This same file runs twice: as the
// outer process that relays Ctrl-C, and with INNER_FLAG as the inner one that runs the stack.
import { INNER_FLAG, runStack, runStackDetached } from '../src/dev/stack.ts';

if (process.argv.includes(INNER_FLAG)) {
  runStack().catch((err: unknown) => {
    process.stderr.write(`dev: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
} else {
  runStackDetached();
}
