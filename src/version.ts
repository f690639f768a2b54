import fs from 'node:fs';

// Found relative to this file both in src/ (tsx) and in dist/src/ (compiled).
const pkgUrl = [
  new URL('../package.json', import.meta.url),
  new URL('../../package.json', import.meta.url),
].find((u) => fs.existsSync(u));
const pkg = (pkgUrl ? JSON.parse(fs.readFileSync(pkgUrl, 'utf8')) : { version: '0.0.0' }) as {
  version: string;
};

/** The package version, shown in the outbound User-Agent. */
export const VERSION = pkg.version;
export const USER_AGENT = `dist-job-scheduler/${VERSION}`;
