// GET /openapi.json (the OpenAPI 3.1 document, generated from the contract and the schemas the routes
// validate with)
// and GET /docs (Swagger UI, served from our own node_modules: no CDN). The page runs no inline script
// (its init is /docs/init.js), so its CSP allows scripts from our origin only.
import { createRequire } from 'node:module';
import express, { type Router } from 'express';
import type { Config } from '../../config.ts';
import { docsOperations } from '../../contract/docs.ts';
import type { RequestSchemas } from '../../contract/index.ts';
import { VERSION } from '../../version.ts';
import { openApiDocument } from '../openapi/document.ts';
import type { Registrar } from '../registrar.ts';

/**
 * swagger-ui-dist's folder, from its CommonJS helper (the package's main module would also load the
 * 1.5 MB browser bundle into this process).
 */
const SWAGGER_UI_DIR = (createRequire(import.meta.url)('swagger-ui-dist/absolute-path.js') as () => string)();
/** The files the page uses; nothing else of the package (its demo index.html, other bundles) is served. */
const ASSETS = new Set(['swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png', 'favicon-16x16.png']);

/**
 * The page's policy: nothing inline, nothing from elsewhere. Scripts: the bundle and init.js from our
 * origin (no inline script, no eval). Styles: the package's stylesheet (Swagger UI sets element styles
 * through the CSSOM, which CSP does not govern, and injects no `<style>`; the browser test checks that
 * an operation opened, tried out and its schema shown raises no violation). Images: ours and the
 * `data:` icons the stylesheet embeds. Requests ("Try it out", the document itself): our origin, so
 * the document's server (PUBLIC_URL) must be the origin the page is served from.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dist-job-scheduler API reference</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

// No validator badge (it would send the document to validator.swagger.io); authorizations are kept
// in memory only, never in localStorage.
const INIT = `'use strict';
window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  deepLinking: true,
  displayOperationId: true,
  defaultModelsExpandDepth: 0,
  validatorUrl: null,
  persistAuthorization: false,
});
`;

const PAGE_HEADERS = {
  'Content-Security-Policy': DOCS_CSP,
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-cache',
};

export function docsRoutes(deps: {
  routes: Registrar;
  config: Pick<Config, 'PUBLIC_URL'>;
  /** The services' own request schemas, with this deployment's limits. */
  schemas: RequestSchemas;
}): Router {
  const r = deps.routes.router();
  // Built on first use (and once).
  let doc: string | undefined;
  const document = () =>
    (doc ??= JSON.stringify(
      openApiDocument({ publicUrl: deps.config.PUBLIC_URL, version: VERSION, schemas: deps.schemas }),
    ));

  r.raw(docsOperations.openapi, (_req, res) => {
    res.set('Cache-Control', 'no-cache').type('json').send(document());
  });
  r.raw(docsOperations.docs, (_req, res) => {
    res.set(PAGE_HEADERS).type('html').send(PAGE);
  });
  // The page's assets: part of /docs, not operations of their own.
  r.router.get('/docs/init.js', (_req, res) => {
    res.set({ 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache' }).type('js').send(INIT);
  });
  r.router.use(
    '/docs/assets',
    (req, _res, next) => next(ASSETS.has(req.path.slice(1)) ? undefined : 'router'),
    express.static(SWAGGER_UI_DIR, {
      index: false,
      maxAge: '1d',
      setHeaders: (res) => res.setHeader('X-Content-Type-Options', 'nosniff'),
    }),
  );
  return r.router;
}
