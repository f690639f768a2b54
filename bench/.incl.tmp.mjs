import fs from 'node:fs';
const dir = '/tmp/prof/out';
const p = JSON.parse(fs.readFileSync(dir + '/' + fs.readdirSync(dir)[0], 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const dt = new Map();
for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const incl = new Map();
function walk(id, stack) {
  const n = byId.get(id);
  const key = `${n.callFrame.functionName || '(anon)'}@${n.callFrame.url.replace(/.*node_modules\//, 'nm/').replace(/.*\/work\/main\//, '')}:${n.callFrame.lineNumber}`;
  let t = dt.get(id) ?? 0;
  const fresh = !stack.has(key);
  stack.add(key);
  for (const c of n.children ?? []) t += walk(c, stack);
  if (fresh) { stack.delete(key); incl.set(key, (incl.get(key) ?? 0) + t); }
  return t;
}
const total = walk(p.nodes[0].id, new Set());
const idle = [...incl].filter(([k]) => k.startsWith('(idle)') || k.startsWith('writev')).reduce((s, [, v]) => s + v, 0);
console.log('total', (total / 1000).toFixed(0), 'ms; writev+idle', (idle / total * 100).toFixed(1), '%');
for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).filter(([k]) => /dist\/|nm\/(zod|express|router|body-parser|pg|prom-client|pino)/.test(k)).slice(0, 45)) console.log((v / total * 100).toFixed(1).padStart(5), k);
