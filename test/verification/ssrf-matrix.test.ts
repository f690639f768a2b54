// SSRF matrix: every form an attacker might use to reach an internal address, blocked at create time
// (the API, no allowlist) or at connect time (the scheduler's resolver check), with no request sent.
import dns from 'node:dns';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';
import { startServer, waitFor, type TestServer } from '../helpers/http.ts';
import {
  createJob,
  createUser,
  executionsOf,
  jobState,
  startScheduler,
  type TestScheduler,
} from '../helpers/scheduler.ts';
import { unreachableHostText, type LookupFn } from '../../src/scheduler/executor.ts';

let db: TestDb;
let app: TestApp;
let auth: string;
let receiver: TestServer;
let sched: TestScheduler;

// What a hostile DNS would answer. Nothing is ever sent to these addresses: the guard refuses first.
const FAKE_DNS: Record<string, dns.LookupAddress[]> = {
  'loopback.attacker.example': [{ address: '127.0.0.1', family: 4 }],
  'private10.attacker.example': [{ address: '10.0.0.5', family: 4 }],
  'private192.attacker.example': [{ address: '192.168.1.10', family: 4 }],
  'metadata.attacker.example': [{ address: '169.254.169.254', family: 4 }],
  'v6loop.attacker.example': [{ address: '::1', family: 6 }],
  'mapped.attacker.example': [{ address: '::ffff:127.0.0.1', family: 6 }],
  'ula.attacker.example': [{ address: 'fd00:ec2::254', family: 6 }],
  // Local-use NAT64 (/48 layout) of 169.254.169.254; its last 32 bits read 8.8.8.8.
  'nat64.attacker.example': [{ address: '64:ff9b:1:a9fe:a9:fe00:808:808', family: 6 }],
  // IPv4-compatible ::/96 in the dotted form inet_ntop prints (not IPv4-mapped, whatever it carries).
  'compat.attacker.example': [{ address: '::8.8.8.8', family: 6 }],
  '6to4.attacker.example': [{ address: '2002:a9fe:a9fe::1', family: 6 }],
  'mixed.attacker.example': [
    { address: '93.184.216.34', family: 4 },
    { address: '127.0.0.1', family: 4 },
  ],
};
const NXDOMAIN = 'nothing-here.attacker.example';
const lookup = ((
  host: string,
  opts: dns.LookupOptions,
  cb: (e: Error | null, a: dns.LookupAddress[]) => void,
) => {
  const fake = FAKE_DNS[host];
  if (fake) return cb(null, fake);
  // A name that does not exist, answered as a resolver does.
  if (host === NXDOMAIN)
    return cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }), []);
  return dns.lookup(host, { ...opts, all: true }, cb);
}) as unknown as LookupFn;

beforeAll(async () => {
  db = await createTestDb();
  app = await createTestApp(db, { TARGET_ALLOWLIST: '' });
  auth = (await sessionFor(db, app.config)).auth;
  receiver = await startServer((_q, res) => void res.writeHead(200).end());
  sched = await startScheduler(db, { allowlist: [], lookup });
});
afterAll(async () => {
  await sched.stop(0);
  await receiver.close();
  await app.close();
  await db.drop();
});

const CREATE_TIME = [
  'http://127.0.0.1/',
  'http://127.1/',
  'http://2130706433/',
  'http://0x7f000001/',
  'http://0x7f.0.0.1/',
  'http://0177.0.0.1/',
  'http://017700000001/',
  'http://[::1]/',
  'http://[::ffff:127.0.0.1]/',
  'http://[::ffff:7f00:1]/',
  'http://[::]/',
  'http://0.0.0.0/',
  'http://0/',
  'http://10.0.0.1/',
  'http://172.16.0.1/',
  'http://192.168.0.1/',
  'http://100.64.0.1/',
  'http://169.254.169.254/latest/meta-data/',
  'http://[::ffff:169.254.169.254]/',
  'http://[fd00:ec2::254]/',
  'http://168.63.129.16/',
  'http://100.100.100.200/',
  'http://metadata.google.internal/computeMetadata/v1/',
  'http://localhost/',
  'http://localhost.:8080/',
  'http://foo.localhost/',
  'http://[fe80::1]/',
  'http://[fc00::1]/',
  'http://[64:ff9b::a9fe:a9fe]/',
  'http://[64:ff9b::7f00:1]/',
  'http://[64:ff9b:1:a9fe:a9:fe00:808:808]/', // local-use NAT64 (/48 layout) of 169.254.169.254
  'http://[64:ff9b:1:7f00:0:100::]/', // local-use NAT64 of 127.0.0.1
  'http://[2002:7f00:1::]/', // 6to4 of 127.0.0.1
  'http://[2002:a9fe:a9fe::]/', // 6to4 of 169.254.169.254
  'http://[::7f00:1]/', // IPv4-compatible (deprecated)
  'http://[::8.8.8.8]/', // IPv4-compatible, refused even though the IPv4 is public
  'http://[::ffff:0:7f00:1]/', // IPv4-translated (SIIT)
  'http://[fec0::1]/',
  'http://[ff02::1]/',
  'http://[100::1]/',
  'http://[5f00::1]/',
  'http://[4000::1]/',
  'http://[2001::1]/', // Teredo
  'http://[2001:2::1]/',
  'http://[2001:10::1]/',
  'http://[2001:20::1]/',
  'http://[2001:db8::1]/',
  'http://[3fff::1]/',
  'http://internal-service/',
];

describe('SSRF matrix', () => {
  it.each(CREATE_TIME)('create time: %s is refused with 400 and nothing is stored', async (url) => {
    const res = await request(app.app)
      .post('/v1/jobs')
      .set('Authorization', auth)
      .send({ request: { method: 'GET', url } });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].path).toBe('request.url');
    // The refusal is shown to the caller and may be stored: it names the kind of address, never one.
    expect(res.body.error.details[0].message).toMatch(/^(host|must)/);
    expect(JSON.stringify(res.body)).not.toMatch(/\d+\.\d+\.\d+\.\d+|[0-9a-f]*:[0-9a-f]*:/i);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM jobs')).rows[0].n).toBe(0);
  });

  // One attempt each (max_attempts 1), so the first refusal is final and the test need not wait.
  const attemptOnce = async (host: string) => {
    const create = await request(app.app)
      .post('/v1/jobs')
      .set('Authorization', auth)
      .send({
        request: { method: 'GET', url: `http://${host}:${receiver.port}/` },
        retry: { max_attempts: 1 },
      });
    // Passes the create-time check (a public-looking name)…
    expect(create.status).toBe(201);
    await waitFor(async () => (await jobState(db, create.body.id)).status === 'failed', 'the attempt');
    const [ex] = await executionsOf(db, create.body.id);
    return ex!;
  };

  it.each(Object.keys(FAKE_DNS))(
    'connect time: %s resolves to a blocked address: never sent, and told apart from no name at all by nothing',
    async (host) => {
      // …and refused when the scheduler resolves it, with what a name that does not exist gets:
      // otherwise a user could map which internal names exist (the reason is in the server log only).
      const blocked = await attemptOnce(host);
      const missing = await attemptOnce(NXDOMAIN);
      expect(blocked.outcome).toBe('network_error');
      expect(blocked.error).toBe(unreachableHostText(host));
      expect({ outcome: missing.outcome, error: missing.error?.replace(NXDOMAIN, host) }).toEqual({
        outcome: blocked.outcome,
        error: blocked.error,
      });
      expect(blocked.error!.replace(host, '<host>')).not.toMatch(
        /\d+\.\d+\.\d+\.\d+|[0-9a-f]*:[0-9a-f]*:|loopback|private|ENOTFOUND/i,
      );
      expect(receiver.requests).toHaveLength(0);
      await db.pool.query('DELETE FROM jobs');
    },
  );

  it('connect time: an IP literal that bypassed the API is still refused', async () => {
    const user = await createUser(db);
    const job = await createJob(db, user.id, { url: `http://127.0.0.1:${receiver.port}/` });
    await waitFor(async () => (await jobState(db, job.id)).status === 'failed', 'the attempt to be blocked');
    expect((await executionsOf(db, job.id))[0]!.outcome).toBe('blocked');
    expect(receiver.requests).toHaveLength(0);
  });
});
