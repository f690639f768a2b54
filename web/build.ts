// Builds the console (web/src, a Preact app) into <outdir>: assets/app-<hash>.js and .css, and an
// index.html naming them. esbuild bundles, minifies and hashes; there is no other build step.
// `tsx web/build.ts [outdir] [--watch]`; npm run build writes dist/console, npm run dev watches.
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const WEB = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_OUTDIR = path.join(WEB, '..', 'dist', 'console');

/** The page shell: no inline script or style (the CSP forbids both), a data: favicon (no 404). */
function indexHtml(js: string, css: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex">
<title>dist-job-scheduler</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/${css}">
<script type="module" src="/assets/${js}"></script>
</head>
<body>
<div id="app"><noscript>The console needs JavaScript. The API works without it: see /docs.</noscript></div>
</body>
</html>
`;
}

const options = (outdir: string): esbuild.BuildOptions => ({
  entryPoints: { app: path.join(WEB, 'src', 'main.tsx') },
  bundle: true,
  format: 'esm',
  target: ['es2022'],
  minify: true,
  sourcemap: 'linked',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  entryNames: '[name]-[hash]',
  outdir: path.join(outdir, 'assets'),
  metafile: true,
  logLevel: 'warning',
  plugins: [
    {
      name: 'index-html',
      setup(build) {
        build.onEnd(async (result) => {
          if (result.errors.length || !result.metafile) return;
          const outputs = Object.keys(result.metafile.outputs).map((o) => path.basename(o));
          const js = outputs.find((o) => o.endsWith('.js'));
          const css = outputs.find((o) => o.endsWith('.css'));
          if (!js || !css) throw new Error(`console build produced ${outputs.join(', ')}`);
          // Old hashed files would pile up under watch: keep only this build's.
          for (const f of await fs.readdir(path.join(outdir, 'assets')))
            if (!outputs.includes(f)) await fs.rm(path.join(outdir, 'assets', f), { force: true });
          await fs.writeFile(path.join(outdir, 'index.html'), indexHtml(js, css));
        });
      },
    },
  ],
});

/** One build into `outdir`. */
export async function buildConsole(outdir = DEFAULT_OUTDIR): Promise<void> {
  await fs.mkdir(path.join(outdir, 'assets'), { recursive: true });
  await esbuild.build(options(outdir));
}

/** Builds, then rebuilds on every change under web/src until the returned stop() is called. */
export async function watchConsole(outdir = DEFAULT_OUTDIR): Promise<{ stop(): Promise<void> }> {
  await fs.mkdir(path.join(outdir, 'assets'), { recursive: true });
  const ctx = await esbuild.context(options(outdir));
  await ctx.rebuild();
  await ctx.watch();
  return { stop: () => ctx.dispose() };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const outdir = args.find((a) => !a.startsWith('--')) ?? DEFAULT_OUTDIR;
  if (args.includes('--watch')) {
    await watchConsole(outdir);
    process.stdout.write(`console: watching web/src, writing ${outdir}\n`);
  } else {
    await buildConsole(outdir);
    process.stdout.write(`console built into ${path.relative(process.cwd(), outdir) || '.'}\n`);
  }
}
