import fs from 'node:fs';
const dir = '/tmp/prof/out';
const p = JSON.parse(fs.readFileSync(dir + '/' + fs.readdirSync(dir)[0], 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const dt = new Map();
for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const target = process.argv[2] ?? 'writev';
const stacks = new Map();
for (const n of p.nodes) {
  if (n.callFrame.functionName !== target) continue;
  const t = dt.get(n.id) ?? 0;
  let chain = [];
  let cur = parent.get(n.id);
  for (let d = 0; cur && d < 8; d++) { const cf = byId.get(cur).callFrame; chain.push(`${cf.functionName || '(anon)'}@${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber}`); cur = parent.get(cur); }
  const key = chain.join(' < ');
  stacks.set(key, (stacks.get(key) ?? 0) + t);
}
for (const [k, v] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log((v / 1000).toFixed(0), 'ms', k, '\n');
