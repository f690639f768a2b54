// Traces end to end: a job created through the API and fired by a scheduler, with an in-memory
// exporter. The spans nest as request → insert and claim → attempt → outbound request; the attempt
// links to the insert; the receiver gets a traceparent of the attempt's trace; and no attribute holds
// the target's path or query string, a header value or the body.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';
import { startScheduler, waitForStatus, type TestScheduler } from '../helpers/scheduler.ts';
import { targets, waitFor } from '../helpers/http.ts';
import { initTracing, isTracingEnabled, shutdownTracing } from '../../src/observability/tracing.ts';

const exporter = new InMemorySpanExporter();
let db: TestDb;
let app: TestApp;
let sched: TestScheduler | undefined;
const { target, closeAll } = targets();

const SECRETS = ['secret=x', 'hdr-s3cr3t-value', 'body-s3cr3t', '/hook-s3cr3t-path'];

beforeAll(async () => {
  await initTracing({ serviceName: 'djs-test', exporter });
  db = await createTestDb();
  app = await createTestApp(db);
});
afterAll(async () => {
  await sched?.stop(0);
  await closeAll();
  await app.close();
  await shutdownTracing();
  await db.drop();
});

const byName = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const parentId = (s: ReadableSpan) => s.parentSpanContext?.spanId;

describe('traces', () => {
  it('API request → insert; claim → attempt (linked to the insert) → outbound request with traceparent', async () => {
    expect(isTracingEnabled()).toBe(true);
    const t = await target((_q, res) => void res.writeHead(204).end());
    sched = await startScheduler(db, { random: () => 0.5 });
    const { auth } = await sessionFor(db, app.config);
    const res = await request(app.app)
      .post('/v1/jobs')
      .set('Authorization', auth)
      .send({
        request: {
          method: 'POST',
          url: `${t.url}/hook-s3cr3t-path?secret=x`,
          headers: { 'content-type': 'application/json', 'x-token': 'hdr-s3cr3t-value' },
          body: '{"note":"body-s3cr3t"}',
        },
      });
    expect(res.status).toBe(201);
    const jobId = res.body.id as string;
    await waitForStatus(db, jobId, ['succeeded']);
    expect(Object.keys(res.body)).not.toContain('trace_parent');

    const spans = await waitFor(() => {
      const all = exporter.getFinishedSpans();
      return byName(all, 'POST /v1/jobs').length && byName(all, 'djs.attempt').length ? all : null;
    }, 'the request and attempt spans');

    // API: the request span (route template, status) and its child, the insert.
    const [req] = byName(spans, 'POST /v1/jobs');
    expect(req!.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/v1/jobs',
      'http.response.status_code': 201,
    });
    const [insert] = byName(spans, 'djs.job.insert');
    expect(insert!.spanContext().traceId).toBe(req!.spanContext().traceId);
    expect(parentId(insert!)).toBe(req!.spanContext().spanId);
    expect(insert!.attributes['djs.job.id']).toBe(jobId);

    // The stored context is the insert's.
    const { rows } = await db.pool.query('SELECT trace_parent FROM jobs WHERE id = $1', [jobId]);
    expect(rows[0].trace_parent).toBe(
      `00-${insert!.spanContext().traceId}-${insert!.spanContext().spanId}-01`,
    );

    // Scheduler: claim → attempt → outbound request; the attempt links to the insert.
    const [attempt] = byName(spans, 'djs.attempt');
    expect(attempt!.attributes).toMatchObject({
      'djs.job.id': jobId,
      'djs.attempt': 1,
      'djs.outcome': 'succeeded',
      'djs.job.status': 'succeeded',
      'http.response.status_code': 204,
    });
    const claim = spans.find((s) => s.spanContext().spanId === parentId(attempt!));
    expect(claim?.name).toBe('djs.claim');
    expect(claim!.attributes['djs.claimed']).toBeGreaterThanOrEqual(1);
    expect(attempt!.links.map((l) => l.context.spanId)).toEqual([insert!.spanContext().spanId]);
    expect(attempt!.links[0]!.context.traceId).toBe(insert!.spanContext().traceId);
    const outbound = spans.find((s) => parentId(s) === attempt!.spanContext().spanId);
    expect(outbound?.name).toBe('POST');
    expect(outbound!.attributes).toMatchObject({
      'http.request.method': 'POST',
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(t.url).port),
      'http.response.status_code': 204,
    });

    // The receiver can continue the trace: its parent is the outbound request's span.
    const traceparent = String(t.requests[0]!.headers.traceparent);
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(traceparent.split('-')[1]).toBe(attempt!.spanContext().traceId);
    expect(traceparent.split('-')[2]).toBe(outbound!.spanContext().spanId);
    expect(t.requests[0]!.headers['x-token']).toBe('hdr-s3cr3t-value');

    // Nothing secret anywhere: names, attributes, link attributes, events.
    const recorded = JSON.stringify(
      spans.map((s) => ({
        name: s.name,
        attributes: s.attributes,
        links: s.links.map((l) => l.attributes ?? {}),
        events: s.events,
      })),
    );
    for (const secret of SECRETS) expect(recorded).not.toContain(secret);
  });

  it('refuses user-given traceparent and tracestate headers: the scheduler sets them', async () => {
    const { auth } = await sessionFor(db, app.config);
    for (const name of ['traceparent', 'Tracestate']) {
      const res = await request(app.app)
        .post('/v1/jobs')
        .set('Authorization', auth)
        .send({ request: { method: 'GET', url: 'http://127.0.0.1:9/x', headers: { [name]: 'x' } } });
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body.error.details)).toContain(name);
    }
  });
});
