import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, parseDevSettings, parseSchedulerConfig } from '../../src/config.ts';

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

  it('keeps the server metrics listener off its public port; the scheduler has no public port', () => {
    expect(parseConfig(good).METRICS_PORT).toBe(9464);
    expect(() => parseConfig({ ...good, PORT: '9464' })).toThrow(/METRICS_PORT must differ from PORT/);
    expect(() => parseConfig({ ...good, METRICS_PORT: '3000' })).toThrow(/METRICS_PORT/);
    // 0 means "any free port" for each: never the same one.
    expect(parseConfig({ ...good, PORT: '0', METRICS_PORT: '0' }).METRICS_PORT).toBe(0);
    expect(parseSchedulerConfig({ ...good, METRICS_PORT: '3000' }).METRICS_PORT).toBe(3000);
    // npm run dev: the scheduler on METRICS_PORT, the server on the next port (so not 65535).
    expect(parseDevSettings({}).METRICS_PORT).toBe(9464);
    expect(() => parseDevSettings({ METRICS_PORT: '65535' })).toThrow();
  });

  it('mail transport defaults to resend with a key and to the log without one outside production', () => {
    expect(parseConfig(good).MAIL_TRANSPORT).toBe('log');
    expect(parseConfig({ ...good, NODE_ENV: 'test' }).MAIL_TRANSPORT).toBe('log');
    expect(parseConfig({ ...good, RESEND_API_KEY: 're_x' }).MAIL_TRANSPORT).toBe('resend');
    expect(parseConfig({ ...good, NODE_ENV: 'production', RESEND_API_KEY: 're_x' }).MAIL_TRANSPORT).toBe(
      'resend',
    );
    // An explicit choice wins over the key.
    expect(parseConfig({ ...good, RESEND_API_KEY: 're_x', MAIL_TRANSPORT: 'log' }).MAIL_TRANSPORT).toBe(
      'log',
    );
  });

  it('refuses production without RESEND_API_KEY unless MAIL_TRANSPORT=log is set, and says what to do', () => {
    const problems = (env: Record<string, string>) => {
      try {
        parseConfig(env);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).problems;
      }
      return expect.unreachable();
    };
    const p = problems({ ...good, NODE_ENV: 'production' });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/RESEND_API_KEY is required when NODE_ENV=production/);
    expect(p[0]).toMatch(/set RESEND_API_KEY/);
    expect(p[0]).toMatch(/MAIL_TRANSPORT=log/);
    // An empty key is "unset", as for every variable.
    expect(problems({ ...good, NODE_ENV: 'production', RESEND_API_KEY: '' })[0]).toMatch(/RESEND_API_KEY/);
    // Listed together with the other problems of the environment.
    expect(problems({ ...good, NODE_ENV: 'production', JOB_TIMEOUT_DEFAULT_MS: '200000' })).toHaveLength(2);

    const explicit = parseConfig({ ...good, NODE_ENV: 'production', MAIL_TRANSPORT: 'log' });
    expect(explicit.MAIL_TRANSPORT).toBe('log');
  });

  it('refuses MAIL_TRANSPORT=resend without a key, and an unknown transport', () => {
    expect(() => parseConfig({ ...good, MAIL_TRANSPORT: 'resend' })).toThrow(
      /MAIL_TRANSPORT=resend requires RESEND_API_KEY/,
    );
    expect(() => parseConfig({ ...good, NODE_ENV: 'production', MAIL_TRANSPORT: 'resend' })).toThrow(
      /MAIL_TRANSPORT=resend requires RESEND_API_KEY/,
    );
    expect(() => parseConfig({ ...good, MAIL_TRANSPORT: 'smtp' })).toThrow(/MAIL_TRANSPORT/);
  });

  it('the scheduler sends no mail: production without RESEND_API_KEY is fine for it', () => {
    expect(() => parseConfig({ ...good, NODE_ENV: 'production' })).toThrow(/RESEND_API_KEY/);
    expect(parseSchedulerConfig({ ...good, NODE_ENV: 'production' }).NODE_ENV).toBe('production');
  });
});
