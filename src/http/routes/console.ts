// The web console: a static single-page app (web/, built by `npm run build` into dist/console) served
// under `/`. It talks to the public JSON API only; this router just hands out its files. The page
// URLs (src/contract/consolePages.ts) all answer the same index.html; the app picks the view from the path.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';
import { PAGES } from '../../contract/consolePages.ts';
import { PAGE_HEADERS } from '../pages.ts';

/**
 * The console's own URLs (client-side routes), from its page table. Not API operations: OpenAPI
 * leaves them out.
 */
export const CONSOLE_PAGES: readonly string[] = Object.values(PAGES).map((p) => p.path);

/** Scripts and styles from our origin only; no inline code, no eval, never framed. */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** Built asset names carry a content hash (app-3F2A1B.js): cacheable forever. */
const ASSET_NAME = /^[A-Za-z0-9_-]+\.(js|css)(\.map)?$/;

/** `dist/console` of the package this file belongs to (from src/ under tsx, or dist/src/ once built). */
export function defaultConsoleDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return path.join(dir, 'dist', 'console');
}

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Console not built</title></head>
<body><h1>The console is not built</h1><p>Run <code>npm run build</code> (or <code>npm run dev</code>, which builds it), then reload.</p></body></html>`;

export function consoleRoutes(deps: { dir: string | null }): Router {
  const r = Router();
  // Read on every page load (small, and rare next to API calls): a rebuild (npm run dev watches web/)
  // renames the hashed assets, and the next load must name the new ones.
  const readIndex = async () => {
    if (!deps.dir) return null;
    try {
      return await fs.promises.readFile(path.join(deps.dir, 'index.html'), 'utf8');
    } catch {
      return null;
    }
  };

  r.get([...CONSOLE_PAGES], async (_req, res) => {
    const html = await readIndex();
    res.set({ ...PAGE_HEADERS, 'Content-Security-Policy': CONSOLE_CSP, 'Cache-Control': 'no-cache' });
    if (html === null) {
      res.status(503).type('html').send(NOT_BUILT);
      return;
    }
    res.status(200).type('html').send(html);
  });
  if (deps.dir) {
    r.use(
      '/assets',
      (req, _res, next) => next(ASSET_NAME.test(req.path.slice(1)) ? undefined : 'router'),
      express.static(path.join(deps.dir, 'assets'), {
        index: false,
        immutable: true,
        maxAge: '365d',
        fallthrough: true,
        setHeaders: (res) => res.setHeader('X-Content-Type-Options', 'nosniff'),
      }),
    );
  }
  return r;
}
