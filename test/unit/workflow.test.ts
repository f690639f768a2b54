// The GitHub Actions workflow cannot run here, so check its shape: a Postgres 16 service, Node 24,
// and the same steps as .ci/run (lint, typecheck, test, migrations up/down/up).
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

interface Step {
  name?: string;
  run?: string;
  uses?: string;
  with?: Record<string, unknown>;
}
const wf = parse(fs.readFileSync('.github/workflows/ci.yml', 'utf8')) as {
  on: Record<string, unknown>;
  jobs: Record<string, { 'runs-on': string; services?: Record<string, { image: string }>; steps: Step[] }>;
};

describe('GitHub Actions workflow', () => {
  const job = wf.jobs.test!;
  const runs = job.steps.map((s) => s.run ?? '').join('\n');

  it('runs on pushes and pull requests with a postgres:16 service', () => {
    expect(Object.keys(wf.on)).toEqual(expect.arrayContaining(['push', 'pull_request']));
    expect(job.services?.postgres?.image).toBe('postgres:16');
  });

  it('uses Node 24', () => {
    const setup = job.steps.find((s) => s.uses?.startsWith('actions/setup-node'));
    expect(setup?.with?.['node-version']).toBe(24);
  });

  it('lints, typechecks, tests and round-trips the migrations, in that order', () => {
    const order = [
      'npm ci',
      'npm run lint',
      'npm run typecheck',
      'npm test',
      'migrate.js up',
      'migrate.js down all',
    ];
    const positions = order.map((cmd) => runs.indexOf(cmd));
    for (const [i, p] of positions.entries()) expect(p, order[i]).toBeGreaterThanOrEqual(0);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(runs.lastIndexOf('migrate.js up')).toBeGreaterThan(runs.indexOf('migrate.js down all'));
  });

  it('builds the three images with docker and runs the container smoke test', () => {
    // The failover verification (test/failover/run.ts) runs in both, before the images.
    const ciRun = fs.readFileSync('.ci/run', 'utf8');
    expect(ciRun).toMatch(/^npm run verify:failover$/m);
    expect(ciRun.indexOf('verify:failover')).toBeLessThan(ciRun.indexOf('bash deploy/container-smoke.sh'));
    expect(runs).toContain('npm run verify:failover');
    const step = job.steps.find((s) => s.run?.includes('deploy/container-smoke.sh'));
    expect(step, 'container smoke step').toBeDefined();
    expect((step as Step & { env?: Record<string, string> }).env?.CONTAINER_ENGINE).toBe('docker');
  });

  it('every script the workflow calls exists in package.json', () => {
    const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
    for (const m of runs.matchAll(/npm run ([\w:-]+)/g)) expect(pkg.scripts).toHaveProperty(m[1]!);
  });
});
