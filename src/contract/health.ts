// The public probes: a status and nothing else (each check's verdict and /metrics are on the operator
// port, METRICS_PORT, which is no part of this API). Declarative data.
import { z } from 'zod';
import { defineOperations } from './types.ts';

export const Health = z.strictObject({ status: z.literal('ok') });
export const Readiness = z.strictObject({ status: z.enum(['ready', 'unavailable']) });

/** The response schemas, by component id, in the document's order. */
export const healthSchemas = { Health, Readiness };

export const healthOperations = defineOperations({
  liveness: {
    method: 'get',
    path: '/healthz',
    tag: 'operations',
    summary: 'Liveness',
    access: { kind: 'public' },
    responses: { 200: { description: 'the process is up', schema: Health, example: { status: 'ok' } } },
    database: false,
  },
  readiness: {
    method: 'get',
    path: '/readyz',
    tag: 'operations',
    summary: 'Readiness: the database answers and is migrated to the version this build expects',
    description:
      'The status only. Which check fails, and why, is on the operator port (METRICS_PORT), with the Prometheus metrics; neither is part of this API.',
    access: { kind: 'public' },
    responses: {
      200: { description: 'ready', schema: Readiness, example: { status: 'ready' } },
      503: { description: 'not ready', schema: Readiness, example: { status: 'unavailable' } },
    },
    database: false,
  },
});
