// The console's page table (src/contract/consolePages.ts): the server's page list and the console's
// router, titles and navigation all read it, so they agree. The server answering each page is
// checked in test/integration/console-session.test.ts; the browser routing, titling and listing each
// one, in test/integration/browser-console.test.ts.
import { describe, expect, it } from 'vitest';
import { NAV, PAGES, matchPage, type ConsolePage } from '../../src/contract/consolePages.ts';
import { CONSOLE_PAGES } from '../../src/http/routes/console.ts';

const table: [string, ConsolePage][] = Object.entries(PAGES);
/** A path the pattern matches: each `:name` segment filled with a value. */
const sample = (pattern: string) => pattern.replace(/:\w+/g, '3f6c1a52-8d0e-4b7a-9c55-2e1f0a7b9d14');

describe('the console page table', () => {
  it('is what the server serves: every page, and nothing the router would not show', () => {
    expect([...CONSOLE_PAGES].sort()).toEqual(table.map(([, p]) => p.path).sort());
    for (const served of CONSOLE_PAGES)
      expect(matchPage(sample(served)), `${served} is served but no page shows it`).not.toBeNull();
  });

  it('routes each page’s path to that page, with its parameters', () => {
    for (const [id, p] of table) expect(matchPage(sample(p.path))?.id, p.path).toBe(id);
    expect(matchPage('/jobs/abc')).toEqual({ id: 'job', params: { id: 'abc' } });
    expect(matchPage('/schedules/s-1')).toEqual({ id: 'schedule', params: { id: 's-1' } });
    // A literal segment wins over a parameter, whatever the order of the table.
    expect(matchPage('/jobs/new')?.id).toBe('newJob');
    expect(matchPage('/schedules/new')?.id).toBe('newSchedule');
  });

  it('matches whole segments only, as the console always has (the server 404s these)', () => {
    for (const path of ['/nope', '/jobs/x/y', '/jobs/', '/schedules//', '/api-keys/x', '', '/jobs-x'])
      expect(matchPage(path), path).toBeNull();
  });

  it('gives every page a title, and the navigation its labelled pages in order, each a plain path', () => {
    for (const [, p] of table) expect(p.title.length).toBeGreaterThan(0);
    expect(NAV).toEqual([
      { href: '/jobs', label: 'Jobs' },
      { href: '/schedules', label: 'Schedules' },
      { href: '/api-keys', label: 'API keys' },
      { href: '/signing-secret', label: 'Signing secret' },
    ]);
    for (const n of NAV) expect(n.href).not.toContain(':');
    expect(new Set(table.map(([, p]) => p.path)).size).toBe(table.length);
  });
});
