import { afterAll, beforeAll, describe, it } from 'vitest';
import { pino } from 'pino';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { sessionFor, testConfig } from '../helpers/app.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { rawRequest } from '../helpers/raw-http.ts';

let db: TestDb;
let server: RunningServer;
let port: number;
let auth: string;
const logs: string[] = [];
beforeAll(async () => {
  db = await createTestDb();
  const config = testConfig(db.url, { PORT: '0', HOST: '127.0.0.1', TARGET_ALLOWLIST: '' });
  const log = pino({ level: 'warn' }, { write: (s: string) => void logs.push(s) });
  server = await startServer(config, log);
  port = Number(new URL(server.url).port);
  auth = (await sessionFor(db, config, 'fuzz@example.com')).auth;
});
afterAll(async () => {
  await server.stop();
  await db.drop();
});
describe('probe', () => {
  it('probes', async () => {
    const probes: [string, Parameters<typeof rawRequest>[1]][] = [
      ['healthz', { method: 'GET', target: '/healthz' }],
      ['nul in auth', { method: 'GET', target: '/v1/me', headers: [['Authorization', 'Bearer a\0b']] }],
      ['c0 01 in auth', { method: 'GET', target: '/v1/me', headers: [['Authorization', 'Bearer a\x01b']] }],
      ['c0 7f in auth', { method: 'GET', target: '/v1/me', headers: [['Authorization', 'Bearer a\x7fb']] }],
      ['wtf8 in auth', { method: 'GET', target: '/v1/me', headers: [['Authorization', Buffer.from([0x42,0xed,0xa0,0x80])]] }],
      ['1MB auth', { method: 'GET', target: '/v1/me', headers: [['Authorization', 'Bearer ' + 'a'.repeat(1<<20)]] }],
      ['15KB auth', { method: 'GET', target: '/v1/me', headers: [['Authorization', 'Bearer ' + 'a'.repeat(15000)]] }],
      ['nul in query', { method: 'GET', target: Buffer.from('/v1/jobs?status=a\0b') , headers: [['Authorization', auth]]}],
      ['%00 in query', { method: 'GET', target: '/v1/jobs?status=a%00b' , headers: [['Authorization', auth]]}],
      ['%ED%A0%80 path', { method: 'GET', target: '/v1/jobs/%ED%A0%80' , headers: [['Authorization', auth]]}],
      ['% path', { method: 'GET', target: '/v1/jobs/%' , headers: [['Authorization', auth]]}],
      ['raw high byte path', { method: 'GET', target: Buffer.from([0x2f, 0xff]) , headers: [['Authorization', auth]]}],
      ['1MB job unauth', { method: 'POST', target: '/v1/jobs' , headers: [['Content-Type', 'application/json']], body: '"' + 'a'.repeat(1<<20) + '"'}],
      ['1MB job auth', { method: 'POST', target: '/v1/jobs' , headers: [['Authorization', auth], ['Content-Type', 'application/json']], body: '"' + 'a'.repeat(1<<20) + '"'}],
      ['deep job', { method: 'POST', target: '/v1/jobs' , headers: [['Authorization', auth], ['Content-Type', 'application/json']], body: '['.repeat(100000) + ']'.repeat(100000)}],
      ['deep obj job', { method: 'POST', target: '/v1/jobs' , headers: [['Authorization', auth], ['Content-Type', 'application/json']], body: '{"a":'.repeat(50000) + '1' + '}'.repeat(50000)}],
      ['deep ml', { method: 'POST', target: '/v1/auth/magic-link' , headers: [['Content-Type', 'application/json']], body: '['.repeat(5000) + ']'.repeat(5000)}],
      ['xff garbage', { method: 'POST', target: '/v1/auth/magic-link' , headers: [['Content-Type', 'application/json'], ['X-Forwarded-For', 'not-an-ip']], body: '{"email":"a@b.co"}'}],
      ['surrogate session', { method: 'POST', target: '/v1/auth/session' , headers: [['Content-Type', 'application/json']], body: '{"token":"\\ud800aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}'}],
      ['nul form', { method: 'POST', target: '/v1/auth/verify' , headers: [['Content-Type', 'application/x-www-form-urlencoded']], body: 'token=%00aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'}],
      ['ct nul', { method: 'POST', target: '/v1/auth/session' , headers: [['Content-Type', 'application/json\0']], body: '{}'}],
      ['ct utf16', { method: 'POST', target: '/v1/auth/session' , headers: [['Content-Type', 'application/json; charset=utf-16']], body: '{}'}],
      ['ct bad param', { method: 'POST', target: '/v1/auth/session' , headers: [['Content-Type', 'application/json; charset="']], body: '{}'}],
    ];
    for (const [label, p] of probes) {
      const t = performance.now();
      const r = await rawRequest(port, p);
      console.log(label, (performance.now()-t).toFixed(1), r.ok ? `${r.res.status} ${r.res.headers['x-request-id'] ? 'app' : 'node'} ${r.res.body.slice(0, 150)}` : r.error);
    }
    console.log(logs.join('').slice(0, 3000));
  }, 60000);
});
