import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.ts';

const good = {
  DATABASE_URL: 'postgres://u@localhost:5432/db',
  JWT_SECRET: Buffer.alloc(32, 1).toString('base64'),
  SECRETS_KEY: Buffer.alloc(32, 2).toString('base64'),
};

describe('configuration', () => {
  it('parses a minimal environment with documented defaults', () => {
    const c = parseConfig(good);
    expect(c.PORT).toBe(3000);
    expect(c.PUBLIC_URL).toBe('http://localhost:3000');
    expect(c.JWT_SECRET).toHaveLength(32);
    expect(c.TARGET_ALLOWLIST).toEqual([]);
    expect(c.JOB_TIMEOUT_MAX_MS).toBe(120000);
  });

  it('lists every problem at once', () => {
    try {
      parseConfig({ DATABASE_URL: 'mysql://x', JWT_SECRET: 'short', PORT: 'eighty' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).toMatch(/DATABASE_URL .*postgres/);
      expect(problems).toMatch(/JWT_SECRET .*32 bytes/);
      expect(problems).toMatch(/SECRETS_KEY is required/);
      expect(problems).toMatch(/PORT/);
      expect((err as ConfigError).problems.length).toBeGreaterThanOrEqual(4);
    }
  });

  it('refuses a JWT secret under 32 bytes', () => {
    expect(() => parseConfig({ ...good, JWT_SECRET: Buffer.alloc(31).toString('base64') })).toThrow(
      /JWT_SECRET/,
    );
  });

  it('refuses a malformed TARGET_ALLOWLIST entry', () => {
    expect(() => parseConfig({ ...good, TARGET_ALLOWLIST: '127.0.0.0/8, bogus' })).toThrow(
      /TARGET_ALLOWLIST.*bogus/,
    );
  });

  it('checks relations between settings', () => {
    expect(() => parseConfig({ ...good, JOB_TIMEOUT_DEFAULT_MS: '200000' })).toThrow(
      /JOB_TIMEOUT_DEFAULT_MS/,
    );
    expect(() =>
      parseConfig({ ...good, SCHEDULER_LEASE_MS: '4000', SCHEDULER_HEARTBEAT_INTERVAL_MS: '3000' }),
    ).toThrow(/HEARTBEAT/);
  });
});
