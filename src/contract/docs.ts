// The document itself and its reference page (registered by hand: the document is served as built,
// the page is HTML). Declarative data.
import { defineOperations } from './types.ts';

export const docsOperations = defineOperations({
  openapi: {
    method: 'get',
    path: '/openapi.json',
    tag: 'docs',
    summary: 'This OpenAPI 3.1 document',
    access: { kind: 'public' },
    responses: { 200: { description: 'the document', schema: { type: 'object' } } },
    database: false,
  },
  docs: {
    method: 'get',
    path: '/docs',
    tag: 'docs',
    summary: 'The interactive API reference (Swagger UI)',
    access: { kind: 'public' },
    responses: { 200: { description: 'the reference page', contentType: 'text/html' } },
    database: false,
  },
});
