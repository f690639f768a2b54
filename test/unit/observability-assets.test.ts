// The Grafana dashboard and the Prometheus alerts cannot be loaded here (no Grafana, no Prometheus, no
// promtool), so they are parsed and cross-checked against the metrics registry: every metric and label
// an expression names exists (a renamed metric fails here, not silently on a wall screen), alerts
// carry what on-call needs, and the panels operators expect are there.
import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Metrics } from '../../src/observability/metrics.ts';

const DASHBOARD = 'deploy/grafana/dist-job-scheduler.json';
const ALERTS = 'deploy/prometheus/alerts.yaml';

/** Labels Prometheus adds to every series of a target (Kubernetes service discovery). */
const TARGET_LABELS = ['job', 'instance', 'namespace', 'pod'];
/** Other exporters' metrics the alerts rely on, with their own labels (target labels come on top). */
const EXTERNAL: Record<string, string[]> = {
  up: [],
  kube_deployment_status_replicas_available: ['deployment'],
};
/** Alerts on events rather than states: they fire at once, without `for`. */
const NO_FOR = new Set(['DjsResultFallbackRows']);

// ---------------------------------------------------------------------------------------------------
// The series our processes expose, with their label names.

/** Series name → label names: histograms as their _bucket (with le), _sum and _count series. */
const series = new Map<string, string[]>();
/** Metric names as registered (histograms without suffix). */
const registered: string[] = [];

beforeAll(async () => {
  // With Node's default metrics, as both processes run them (the memory and event-loop panels).
  const { registry } = new Metrics({ defaultMetrics: true });
  const objects = registry.getMetricsAsArray() as unknown as { name: string; labelNames: string[] }[];
  const labelsOf = new Map(objects.map((m) => [m.name, [...m.labelNames]]));
  for (const m of await registry.getMetricsAsJSON()) {
    const labels = labelsOf.get(m.name);
    if (!labels) throw new Error(`no label names for ${m.name}`);
    registered.push(m.name);
    // Typed as a numeric enum, a string at run time.
    if (String(m.type) === 'histogram') {
      series.set(`${m.name}_bucket`, [...labels, 'le']);
      series.set(`${m.name}_sum`, labels);
      series.set(`${m.name}_count`, labels);
    } else {
      series.set(m.name, labels);
    }
  }
});

// ---------------------------------------------------------------------------------------------------
// Enough of PromQL to find the metric names, label matchers and grouping labels of an expression.

interface Matcher {
  label: string;
  op: string;
  value: string;
}
interface Analysis {
  metrics: string[];
  selectors: { metric: string; matchers: Matcher[] }[];
  /** Labels of by (…), without (…), on (…), ignoring (…), group_left (…), group_right (…). */
  grouping: string[];
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan']);
const MATCHER = /\s*([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)/g;

function analyse(expr: string): Analysis {
  // Grafana's interval variables stand for durations; other variables only occur inside strings.
  let e = expr.replace(/\$__(?:rate_interval|interval|range)\b/g, '5m');
  const selectors: Analysis['selectors'] = [];
  e = e.replace(/([a-zA-Z_:][\w:]*)?\s*\{([^}]*)\}/g, (_, metric: string | undefined, body: string) => {
    if (!metric) throw new Error(`selector without a metric name in: ${expr}`);
    const matchers = [...body.matchAll(MATCHER)].map(([, label, op, value]) => ({
      label: label!,
      op: op!,
      value: value!,
    }));
    if (body.replace(MATCHER, '').trim() !== '') throw new Error(`unparsed matchers {${body}} in: ${expr}`);
    selectors.push({ metric, matchers });
    return ` ${metric} `;
  });
  e = e.replace(/\[[^\]]*\]/g, ' ').replace(/"(?:[^"\\]|\\.)*"/g, ' ');
  const grouping: string[] = [];
  e = e.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_, labels: string) => {
    grouping.push(
      ...labels
        .split(',')
        .map((l) => l.trim())
        .filter(Boolean),
    );
    return ' ';
  });
  // Identifiers not called as functions are metric names (numbers and durations start with a digit).
  const metrics = [...e.matchAll(/(?<![\w.:$])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()/g)]
    .map(([, name]) => name!)
    .filter((name) => !KEYWORDS.has(name));
  return { metrics: [...new Set(metrics)], selectors, grouping: [...new Set(grouping)] };
}

/** What is wrong with an expression: unknown metrics, labels a metric does not have, bad values. */
function problems(expr: string): string[] {
  const a = analyse(expr);
  const out: string[] = [];
  const labelsOf = (m: string) => [...(series.get(m) ?? EXTERNAL[m] ?? []), ...TARGET_LABELS];
  if (a.metrics.length === 0) out.push('names no metric');
  for (const m of a.metrics) {
    if (!series.has(m) && !(m in EXTERNAL)) out.push(`unknown metric ${m}`);
    for (const l of a.grouping) if (!labelsOf(m).includes(l)) out.push(`${m} has no label ${l} (grouping)`);
  }
  for (const { metric, matchers } of a.selectors)
    for (const { label, op, value } of matchers) {
      if (!labelsOf(metric).includes(label)) out.push(`${metric} has no label ${label} (matcher)`);
      if (label === 'status_class' && (op === '=' || op === '=~') && !/^[1-5]xx(\|[1-5]xx)*$/.test(value))
        out.push(`status_class is 1xx…5xx, not ${value}`);
    }
  return out;
}

describe('the PromQL checker itself', () => {
  it('finds metrics, matchers and grouping labels', () => {
    const a = analyse(
      'histogram_quantile(0.99, sum by (route, le) (rate(djs_http_request_duration_seconds_bucket' +
        '{status_class=~"5xx", namespace=~"$namespace"}[$__rate_interval]))) / ignoring (x) group_left () ' +
        'max(foo_total offset 5m) > 1e3 and on (job) up',
    );
    expect(a.metrics).toEqual(['djs_http_request_duration_seconds_bucket', 'foo_total', 'up']);
    expect(a.grouping).toEqual(['route', 'le', 'x', 'job']);
    expect(a.selectors).toEqual([
      {
        metric: 'djs_http_request_duration_seconds_bucket',
        matchers: [
          { label: 'status_class', op: '=~', value: '5xx' },
          { label: 'namespace', op: '=~', value: '$namespace' },
        ],
      },
    ]);
  });

  it('accepts real metrics and labels and refuses the rest', () => {
    expect(problems('sum by (outcome, namespace) (rate(djs_job_executions_total[5m]))')).toEqual([]);
    expect(
      problems('histogram_quantile(0.5, sum by (le) (rate(djs_job_fire_lateness_seconds_bucket[5m])))'),
    ).toEqual([]);
    // A histogram has no series under its bare name; a gauge has no labels; a typo is a typo.
    expect(problems('rate(djs_job_fire_lateness_seconds[5m])')).toEqual([
      'unknown metric djs_job_fire_lateness_seconds',
    ]);
    expect(problems('djs_jobs_due_backlog{outcome="failed"}')).toEqual([
      'djs_jobs_due_backlog has no label outcome (matcher)',
    ]);
    expect(problems('sum by (status) (rate(djs_job_executions_total[5m]))')).toEqual([
      'djs_job_executions_total has no label status (grouping)',
    ]);
    expect(problems('djs_jobs_in_flght')).toEqual(['unknown metric djs_jobs_in_flght']);
    expect(problems('djs_http_request_duration_seconds_count{status_class="500"}')).toEqual([
      'status_class is 1xx…5xx, not 500',
    ]);
    expect(problems('vector(1)')).toEqual(['names no metric']);
  });
});

// ---------------------------------------------------------------------------------------------------
// The dashboard.

interface Target {
  expr: string;
  legendFormat?: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
  allValue?: string;
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  templating: { list: Variable[] };
  panels: Panel[];
}

const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as Dashboard;
/** Every panel, rows' collapsed children included. */
const allPanels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const graphs = allPanels.filter((p) => p.type !== 'row');
const targets = graphs.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, ...t })));

describe('Grafana dashboard', () => {
  it('is a current dashboard with a Prometheus data source variable used by every query', () => {
    expect(dashboard.uid).toBe('dist-job-scheduler');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(38);
    const ds = dashboard.templating.list.find((v) => v.name === 'datasource');
    expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const p of graphs) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets?.length, `${p.title} has queries`).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource, p.title).toEqual(p.datasource);
    }
  });

  it('has the panels operators look for', () => {
    const titles = graphs.map((p) => p.title);
    for (const title of [
      'Fire lateness p50 / p99',
      'Attempt outcomes by class',
      'Due backlog',
      'In flight',
      'Reaper rescues',
      'Superseded results',
      'Result fallback rows',
      'Scheduler stuck waits',
      'Retention deletes by status',
      'API request rate by status class',
      'API error rate (5xx, 4xx)',
      'API latency p50 / p99',
      'Magic-link emails sent / failed',
    ])
      expect(titles).toContain(title);
    expect(new Set(titles).size, 'titles are unique').toBe(titles.length);
  });

  it('has unique panel ids and a layout without overlaps', () => {
    const ids = allPanels.map((p) => p.id);
    expect(ids.every((id) => Number.isInteger(id) && id > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const [i, a] of allPanels.entries()) {
      const g = a.gridPos;
      expect(g.x >= 0 && g.w > 0 && g.h > 0 && g.x + g.w <= 24, `${a.title} fits 24 columns`).toBe(true);
      for (const b of allPanels.slice(i + 1)) {
        const h = b.gridPos;
        const overlap = g.x < h.x + h.w && h.x < g.x + g.w && g.y < h.y + h.h && h.y < g.y + g.h;
        expect(overlap, `${a.title} overlaps ${b.title}`).toBe(false);
      }
    }
  });

  it('queries only metrics and labels that exist', () => {
    expect(targets.length).toBeGreaterThan(0);
    for (const t of targets) expect(problems(t.expr), `${t.panel}: ${t.expr}`).toEqual([]);
  });

  it('filters every query by the namespace variable', () => {
    const ns = dashboard.templating.list.find((v) => v.name === 'namespace');
    // "All" must match series without a namespace label too (outside Kubernetes): .* matches "".
    expect(ns).toMatchObject({ type: 'query', allValue: '.*' });
    const query = typeof ns!.query === 'string' ? ns!.query : ns!.query.query;
    const [, metric, label] = /^label_values\((\w+),\s*(\w+)\)$/.exec(query) ?? [];
    expect(series.has(metric!), query).toBe(true);
    expect(TARGET_LABELS).toContain(label);
    for (const t of targets) {
      const a = analyse(t.expr);
      // The left side of each query carries the filter; `and on (…) <djs metric>` only restricts.
      const filtered = a.selectors.filter((s) =>
        s.matchers.some((m) => m.label === 'namespace' && m.op === '=~' && m.value === '$namespace'),
      );
      expect(filtered.length, `${t.panel}: ${t.expr}`).toBeGreaterThan(0);
      for (const s of a.selectors.filter((s) => s.metric.startsWith('djs_')))
        expect(filtered, `${t.panel}: ${s.metric} filtered`).toContain(s);
    }
  });

  it('names legend labels the query keeps', () => {
    for (const t of targets) {
      const used = [...(t.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map(([, l]) => l!);
      const kept = analyse(t.expr).grouping;
      for (const l of used) expect(kept, `${t.panel}: legend {{${l}}}`).toContain(l);
    }
  });

  it('shows every metric the processes export', () => {
    const used = new Set(targets.flatMap((t) => analyse(t.expr).metrics));
    for (const name of registered.filter((n) => n.startsWith('djs_'))) {
      const shown = [name, `${name}_bucket`, `${name}_count`, `${name}_sum`].some((s) => used.has(s));
      expect(shown, `${name} has a panel (add one to ${DASHBOARD})`).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// The alerts.

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rulesFile = parse(fs.readFileSync(ALERTS, 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
const alerts = rulesFile.groups.flatMap((g) => g.rules);

/** GitHub's heading anchors of README.md (headings inside code blocks are comments, not headings). */
function readmeAnchors(): string[] {
  const text = fs.readFileSync('README.md', 'utf8').replace(/^```[\s\S]*?^```/gm, '');
  return [...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map(([, h]) =>
    h!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-'),
  );
}

describe('Prometheus alerts', () => {
  it('is a rules file of uniquely named alerts', () => {
    expect(rulesFile.groups.length).toBeGreaterThan(0);
    const groupNames = rulesFile.groups.map((g) => g.name);
    expect(new Set(groupNames).size).toBe(groupNames.length);
    for (const g of rulesFile.groups) expect(g.rules.length, g.name).toBeGreaterThan(0);
    const names = alerts.map((r) => r.alert);
    expect(names.every((n) => typeof n === 'string' && /^[A-Z]\w+$/.test(n))).toBe(true);
    expect(new Set(names).size).toBe(names.length);
  });

  it('covers the failure modes', () => {
    expect(alerts.map((r) => r.alert).sort()).toEqual(
      [
        'DjsApiErrorRatioHigh',
        'DjsDueBacklogGrowing',
        'DjsFireLatenessHigh',
        'DjsMagicLinkEmailsFailing',
        'DjsNoSchedulerUp',
        'DjsReaperRescuing',
        'DjsResultFallbackRows',
        'DjsSchedulerNotReady',
      ].sort(),
    );
    const rule = (name: string) => alerts.find((r) => r.alert === name)!;
    // The thresholds the README promises.
    expect(rule('DjsFireLatenessHigh').expr).toMatch(
      /^histogram_quantile\(0\.99, .*djs_job_fire_lateness_seconds_bucket.*\) > 1$/,
    );
    expect(rule('DjsFireLatenessHigh').for).toBe('5m');
    expect(rule('DjsApiErrorRatioHigh').expr).toMatch(/status_class="5xx".*> 0\.01$/);
    expect(rule('DjsApiErrorRatioHigh').for).toBe('5m');
    // Rescues above 1% of attempts.
    expect(rule('DjsReaperRescuing').expr).toMatch(
      /djs_reaper_rescues_total.*\/.*djs_job_executions_total.*> 0\.01$/s,
    );
    expect(rule('DjsDueBacklogGrowing').expr).toMatch(/deriv\(djs_jobs_due_backlog\[10m\]\)/);
    expect(rule('DjsNoSchedulerUp').expr).toMatch(/absent\(up\{.*\} == 1\)/);
  });

  it('uses only metrics and labels that exist', () => {
    for (const r of alerts) expect(problems(r.expr), `${r.alert}: ${r.expr}`).toEqual([]);
  });

  it('gives on-call a severity, a summary, a description and a runbook', () => {
    const anchors = readmeAnchors();
    for (const r of alerts) {
      const name = r.alert!;
      expect(r.expr.trim(), name).not.toBe('');
      expect(['critical', 'warning', 'info'], name).toContain(r.labels?.severity);
      for (const key of ['summary', 'description'])
        expect(r.annotations?.[key]?.trim().length, `${name} ${key}`).toBeGreaterThan(10);
      const [, anchor] = /^README\.md#([a-z0-9-]+)$/.exec(r.annotations?.runbook ?? '') ?? [];
      expect(anchors, `${name} runbook ${r.annotations?.runbook}`).toContain(anchor);
    }
  });

  it('waits before firing, except on events', () => {
    for (const r of alerts) {
      if (NO_FOR.has(r.alert!)) expect(r.for, r.alert).toBeUndefined();
      else expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
    }
  });

  it('templates only labels the expression keeps', () => {
    for (const r of alerts) {
      const text = Object.values(r.annotations ?? {}).join('\n');
      const used = [...text.matchAll(/\$labels\.(\w+)/g)].map(([, l]) => l!);
      for (const l of used) expect(analyse(r.expr).grouping, `${r.alert}: $labels.${l}`).toContain(l);
      // Go templates: every {{ opens and closes.
      expect(text.split('{{').length, r.alert).toBe(text.split('}}').length);
    }
  });
});
