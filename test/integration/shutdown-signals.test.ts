// Ctrl-C on `npx tsx cmd/…` as a person runs it: the terminal signals the whole process group (npm,
// the tsx CLI, the node process running the entry), and the tsx CLI relays SIGINT to its child when
// the child has not acknowledged it within 30 ms. The relay must count as the same Ctrl-C: the
// process stops gracefully instead of exiting 130 with work in flight. The relay is sent here by hand
// once the first signal has been handled, so it arrives every run (tsx's own relay depends on timing).
import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { targets } from '../helpers/http.ts';
import { createJob, createUser, jobState } from '../helpers/scheduler.ts';
import { sessionFor, testConfig } from '../helpers/app.ts';
import { entryPid, killGroups, spawnWithNpx } from '../helpers/processes.ts';

let db: TestDb;
const t = targets();

beforeAll(async () => {
  db = await createTestDb();
});
afterEach(async () => {
  killGroups();
  await t.closeAll();
});
afterAll(async () => {
  await db.drop();
});

/** Ctrl-C (SIGINT to the group), then tsx's relay (SIGINT to the entry's process) once the first is handled. */
async function ctrlCWithRelay(proc: ReturnType<typeof spawnWithNpx>, entry: string): Promise<void> {
  const pgid = proc.child.pid!;
  const pid = await entryPid(pgid, entry);
  process.kill(-pgid, 'SIGINT');
  await proc.waitForOutput('"msg":"shutting down"');
  process.kill(pid, 'SIGINT');
  // Either answer to the relay: ignored (fixed) or "exiting now" (the bug); the test then looks which.
  await proc.waitForOutput(['"msg":"same signal again', 'exiting now']);
}

describe('Ctrl-C on npx tsx', () => {
  it('cmd/scheduler.ts: the relayed SIGINT counts once; the job in flight is handed back, not left running', async () => {
    const user = await createUser(db);
    let arrived!: () => void;
    const requestArrived = new Promise<void>((r) => (arrived = r));
    // Never answers: the request is in flight until the shutdown grace ends and the scheduler hands it back.
    const target = await t.target(() => arrived());
    const job = await createJob(db, user.id, { url: `${target.url}/slow`, timeoutMs: 60_000 });
    const proc = spawnWithNpx('cmd/scheduler.ts', {
      DATABASE_URL: db.url,
      LOG_LEVEL: 'info',
      TARGET_ALLOWLIST: '127.0.0.0/8',
      SCHEDULER_WORKER_ID: 'ctrl-c',
      SCHEDULER_SHUTDOWN_GRACE_MS: '300',
    });
    await requestArrived;
    expect(await jobState(db, job.id)).toMatchObject({ status: 'running', attempts: 1 });

    await ctrlCWithRelay(proc, 'cmd/scheduler.ts');
    await proc.closed;

    expect(proc.output()).not.toContain('exiting now');
    expect(proc.output()).toContain('handed unfinished jobs back');
    // Handed back: due again at once, the interrupted attempt not counted, no lease.
    expect(await jobState(db, job.id)).toMatchObject({ status: 'retrying', attempts: 0, lease_token: null });
  });

  it('cmd/server.ts: the relayed SIGINT counts once; a request in progress is answered', async () => {
    const config = testConfig(db.url);
    const { auth } = await sessionFor(db, config);
    const proc = spawnWithNpx('cmd/server.ts', {
      DATABASE_URL: db.url,
      LOG_LEVEL: 'info',
      PORT: '0',
      HOST: '127.0.0.1',
      TARGET_ALLOWLIST: '127.0.0.0/8',
    });
    await proc.waitForOutput('"msg":"API server listening"');
    const url = /"url":"(http:\/\/localhost:\d+)"/.exec(proc.output())![1]!;

    // A create whose body is still on its way: `Expect: 100-continue` tells us the server has
    // taken the request (so closing the server waits for it) before we signal.
    const body = JSON.stringify({
      request: { method: 'POST', url: 'http://127.0.0.1:9/hook' },
      delay_seconds: 60,
    });
    const half = Math.floor(body.length / 2);
    const keepAlive = new http.Agent({ keepAlive: true });
    onTestFinished(() => keepAlive.destroy());
    const req = http.request(`${url}/v1/jobs`, {
      method: 'POST',
      // Keep-alive, as browsers and load balancers connect: the socket stays open after the answer,
      // and the stopping server must close it then, not when the client gives up (65 s later).
      agent: keepAlive,
      headers: {
        authorization: auth,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        expect: '100-continue',
      },
    });
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.on('error', reject);
    });
    await new Promise<void>((r) => req.once('continue', r));
    req.write(body.slice(0, half));

    await ctrlCWithRelay(proc, 'cmd/server.ts');
    req.end(body.slice(half));
    const res = await response;
    await proc.closed;

    expect(proc.output()).not.toContain('exiting now');
    expect(res.status).toBe(201);
    const id = (JSON.parse(res.text) as { id: string }).id;
    expect(await jobState(db, id)).toMatchObject({ status: 'scheduled' });
  });
});
