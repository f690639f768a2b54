// Tracing unconfigured: nothing of OpenTelemetry is loaded and every hot-path helper returns at once.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  activeTraceparent,
  initTracing,
  inSpan,
  isTracingEnabled,
  recordClaimSpan,
  startAttempt,
  withTraceHeaders,
} from '../../src/observability/tracing.ts';
import { parseConfig, parseSchedulerConfig } from '../../src/config.ts';

const base = {
  DATABASE_URL: 'postgres://localhost/x',
  JWT_SECRET: Buffer.alloc(48, 1).toString('base64'),
  SECRETS_KEY: Buffer.alloc(48, 2).toString('base64'),
};

describe('tracing unconfigured', () => {
  it('loads no OpenTelemetry module at import: every value import of @opentelemetry is dynamic', () => {
    const src = fs.readFileSync(new URL('../../src/observability/tracing.ts', import.meta.url), 'utf8');
    const staticImports = [...src.matchAll(/^import\s+(?!type\b)[^;]*from\s+'(@opentelemetry\/[^']+)'/gm)];
    expect(staticImports).toEqual([]);
    expect(src).toMatch(/import\('@opentelemetry\/sdk-trace'\)/);
    // No other source file imports OpenTelemetry at all: the SDK stays behind initTracing.
    const offenders: string[] = [];
    const walk = (dir: URL) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const u = new URL(e.name + (e.isDirectory() ? '/' : ''), dir);
        if (e.isDirectory()) walk(u);
        else if (e.name.endsWith('.ts') && !u.pathname.endsWith('/observability/tracing.ts')) {
          if (fs.readFileSync(u, 'utf8').includes("'@opentelemetry/")) offenders.push(u.pathname);
        }
      }
    };
    walk(new URL('../../src/', import.meta.url));
    expect(offenders).toEqual([]);
  });

  it('stays off without an endpoint, and the helpers return immediately', async () => {
    await initTracing({ serviceName: 'x', endpoint: undefined });
    expect(isTracingEnabled()).toBe(false);
    expect(activeTraceparent()).toBeNull();
    expect(recordClaimSpan(Date.now(), {})).toBeNull();
    expect(startAttempt(null, null, {}, { method: 'GET', url: 'http://a/' })).toBeNull();
    const headers = { traceparent: 'kept-as-is-when-off' };
    expect(withTraceHeaders(headers, null)).toBe(headers);
    expect(await inSpan('s', {}, () => Promise.resolve(42))).toBe(42);
  });

  it('config: the endpoint is optional, the service name defaults per process', () => {
    const server = parseConfig({ ...base, MAIL_TRANSPORT: 'log' });
    expect(server.OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
    expect(server.OTEL_SERVICE_NAME).toBe('djs-server');
    expect(parseSchedulerConfig(base).OTEL_SERVICE_NAME).toBe('djs-scheduler');
    const set = parseSchedulerConfig({
      ...base,
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_SERVICE_NAME: 'sched-eu',
    });
    expect(set.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://collector:4318');
    expect(set.OTEL_SERVICE_NAME).toBe('sched-eu');
    expect(() => parseConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT/,
    );
  });
});
