// The entry points fail fast and readably on a bad environment: one message listing every problem,
// a non-zero exit code, and no stack trace.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function run(entry: string, env: Record<string, string>) {
  return spawnSync(process.execPath, ['--import', 'tsx', entry], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('entry points with a bad environment', () => {
  it.each(['cmd/server.ts', 'cmd/scheduler.ts'])('%s lists every problem and exits 1', (entry) => {
    const r = run(entry, { DATABASE_URL: 'mysql://nope', JWT_SECRET: 'too-short', PORT: 'x' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('Invalid configuration');
    expect(r.stderr).toMatch(/DATABASE_URL .*postgres/);
    expect(r.stderr).toMatch(/JWT_SECRET .*32 bytes/);
    expect(r.stderr).toMatch(/SECRETS_KEY is required/);
    expect(r.stderr).toMatch(/PORT/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('cmd/migrate.ts needs only DATABASE_URL and says so', () => {
    const r = run('cmd/migrate.ts', {});
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/DATABASE_URL is required/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
