import { fork } from 'node:child_process';
import autocannon from 'autocannon';
const url = 'postgres://postgres@127.0.0.1:5432/prof_api';
const bare = fork('bench/bare-api.ts', [], { execArgv: ['--import', 'tsx'], env: { PATH: process.env.PATH, DATABASE_URL: url, PORT: '3556' } });
await new Promise((r) => bare.once('message', r));
const body = JSON.stringify({ request: { method: 'POST', url: 'https://example.com/hook', body: '{"a":1}' }, delay_seconds: 86400 });
const res = await autocannon({ url: 'http://127.0.0.1:3556/v1/jobs', method: 'POST', connections: 50, duration: 8, headers: { 'content-type': 'application/json' }, body });
console.log(`bare req/s ${res.requests.average} p99 ${res.latency.p99}`);
bare.kill('SIGTERM');
