// Kubernetes manifests cannot be applied here (no cluster), so they are validated against the
// Kubernetes schemas (kubernetes-models) and cross-checked: probe ports exist, the config the
// processes require is provided and parses, images match the three Dockerfiles, grace periods and
// security settings hold.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import ipaddr from 'ipaddr.js';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { parseConfig } from '../../src/config.ts';
import { blockedAddressReason, createTargetPolicy } from '../../src/jobs/urlPolicy.ts';

const DIR = 'deploy/k8s';
type Obj = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown };
const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

const kustomization = parseAllDocuments(
  fs.readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8'),
)[0]!.toJS() as {
  resources: string[];
  images: { name: string }[];
};
const objects: Obj[] = kustomization.resources.flatMap((f) =>
  parseAllDocuments(fs.readFileSync(path.join(DIR, f), 'utf8')).map((d) => d.toJS() as Obj),
);
const find = (kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name)!;

interface Container {
  name: string;
  image: string;
  ports?: { name: string; containerPort: number }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  env?: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  livenessProbe?: { httpGet: { path: string; port: string | number } };
  readinessProbe?: { httpGet: { path: string; port: string | number } };
  resources?: { requests?: object; limits?: object };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[] };
  };
}
interface PodSpec {
  containers: Container[];
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean };
}
const podSpec = (o: Obj) => (o.spec as { template: { spec: PodSpec } }).template.spec;
const workloads = objects.filter((o) => o.kind === 'Deployment' || o.kind === 'Job');

/** The first and last address of a CIDR. */
function ends([addr, bits]: [ipaddr.IPv4 | ipaddr.IPv6, number]): [
  ipaddr.IPv4 | ipaddr.IPv6,
  ipaddr.IPv4 | ipaddr.IPv6,
] {
  const bytes = addr.toByteArray();
  const edge = (fill: boolean) =>
    ipaddr.fromByteArray(
      bytes.map((b, i) => {
        const hostBits = Math.min(8, Math.max(0, (i + 1) * 8 - bits));
        const mask = (1 << hostBits) - 1;
        return fill ? b | mask : b & ~mask & 0xff;
      }),
    );
  return [edge(false), edge(true)];
}

describe('Kubernetes manifests', () => {
  it('every kustomize resource exists and every object validates against the Kubernetes schema', () => {
    expect(objects.length).toBeGreaterThanOrEqual(10);
    for (const o of objects) {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      expect(Model, `${o.apiVersion}/${o.kind} has a validator`).toBeDefined();
      expect(() => new Model!(o as never).validate(), `${o.kind} ${o.metadata.name}`).not.toThrow();
    }
  });

  it('the validator really rejects a broken manifest', () => {
    const broken = structuredClone(find('Deployment', 'dist-job-scheduler-server')) as Obj & {
      spec: { replicas: unknown };
    };
    broken.spec.replicas = 'two';
    expect(() => new Deployment(broken as never).validate()).toThrow();
  });

  it('runs at least two replicas of server and scheduler, each with a disruption budget', () => {
    for (const name of ['dist-job-scheduler-server', 'dist-job-scheduler-scheduler']) {
      const d = find('Deployment', name) as Obj & {
        spec: { replicas: number; selector: { matchLabels: Record<string, string> } };
      };
      expect(d.spec.replicas).toBeGreaterThanOrEqual(2);
      const pdb = find('PodDisruptionBudget', name) as Obj & {
        spec: { selector: { matchLabels: Record<string, string> } };
      };
      expect(pdb.spec.selector.matchLabels).toEqual(d.spec.selector.matchLabels);
    }
    const svc = find('Service', 'dist-job-scheduler-server') as Obj & {
      spec: { selector: Record<string, string>; ports: { targetPort: string }[] };
    };
    const server = podSpec(find('Deployment', 'dist-job-scheduler-server'));
    expect(svc.spec.selector).toEqual(
      (find('Deployment', 'dist-job-scheduler-server').spec as { selector: { matchLabels: object } }).selector
        .matchLabels,
    );
    for (const p of svc.spec.ports)
      expect(server.containers[0]!.ports!.map((x) => x.name)).toContain(p.targetPort);
  });

  it('probes point at ports the containers declare and at our health endpoints', () => {
    for (const name of ['dist-job-scheduler-server', 'dist-job-scheduler-scheduler']) {
      for (const c of podSpec(find('Deployment', name)).containers) {
        const ports = (c.ports ?? []).flatMap((p) => [p.name, p.containerPort]);
        expect(ports).toContain(c.livenessProbe!.httpGet.port);
        expect(ports).toContain(c.readinessProbe!.httpGet.port);
        expect(c.livenessProbe!.httpGet.path).toBe('/healthz');
        expect(c.readinessProbe!.httpGet.path).toBe('/readyz');
      }
    }
    const cm = find('ConfigMap', 'dist-job-scheduler-config') as Obj & { data: Record<string, string> };
    const ports = (n: string) =>
      podSpec(find('Deployment', n)).containers[0]!.ports!.map((p) => p.containerPort);
    expect(ports('dist-job-scheduler-server')).toContain(Number(cm.data.PORT));
    expect(ports('dist-job-scheduler-server')).toContain(Number(cm.data.METRICS_PORT));
    expect(ports('dist-job-scheduler-scheduler')).toContain(Number(cm.data.METRICS_PORT));
  });

  it('Prometheus scrapes both processes on METRICS_PORT, which no Service exposes', () => {
    const cm = find('ConfigMap', 'dist-job-scheduler-config') as Obj & { data: Record<string, string> };
    const metricsPort = Number(cm.data.METRICS_PORT);
    expect(metricsPort).not.toBe(Number(cm.data.PORT));
    for (const name of ['dist-job-scheduler-server', 'dist-job-scheduler-scheduler']) {
      const d = find('Deployment', name) as Obj & {
        spec: { template: { metadata: { annotations?: Record<string, string> } } };
      };
      expect(d.spec.template.metadata.annotations, name).toMatchObject({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(metricsPort),
        'prometheus.io/path': '/metrics',
      });
      expect(podSpec(d).containers[0]!.ports, name).toContainEqual({
        name: 'metrics',
        containerPort: metricsPort,
      });
    }
    // The public Service (what the ingress routes to) reaches the API port only.
    const svc = find('Service', 'dist-job-scheduler-server') as Obj & {
      spec: { ports: { port: number; targetPort: string | number }[] };
    };
    for (const p of svc.spec.ports) {
      expect(p.targetPort).not.toBe('metrics');
      expect(p.targetPort).not.toBe(metricsPort);
    }
  });

  it('prometheus-operator: the monitoring overlay adds a PodMonitor per process on its metrics port', () => {
    const overlay = parseAllDocuments(
      fs.readFileSync('deploy/k8s-monitoring/kustomization.yaml', 'utf8'),
    )[0]!.toJS() as { resources: string[] };
    // Beside the base, not inside it (kustomize refuses that); k8s-cloudnativepg.test.ts builds it.
    expect(overlay.resources).toEqual(['../k8s', 'podmonitors.yaml']);
    const monitors = parseAllDocuments(fs.readFileSync('deploy/k8s-monitoring/podmonitors.yaml', 'utf8')).map(
      (d) =>
        d.toJS() as Obj & {
          spec: {
            selector: { matchLabels: Record<string, string> };
            podMetricsEndpoints: { port: string; path: string }[];
          };
        },
    );
    const cm = find('ConfigMap', 'dist-job-scheduler-config') as Obj & { data: Record<string, string> };
    for (const name of ['dist-job-scheduler-server', 'dist-job-scheduler-scheduler']) {
      const m = monitors.find((o) => o.metadata.name === name)!;
      expect(m, name).toBeDefined();
      expect(`${m.apiVersion}/${m.kind}`).toBe('monitoring.coreos.com/v1/PodMonitor');
      // It selects exactly this Deployment's pods (and the other's labels do not match it).
      const d = find('Deployment', name) as Obj & {
        spec: { template: { metadata: { labels: Record<string, string> } } };
      };
      expect(d.spec.template.metadata.labels).toMatchObject(m.spec.selector.matchLabels);
      for (const other of workloads.filter((w) => w.metadata.name !== name && w.kind === 'Deployment'))
        expect((other.spec as typeof d.spec).template.metadata.labels).not.toMatchObject(
          m.spec.selector.matchLabels,
        );
      // The named port is the operations listener, never the public one.
      for (const e of m.spec.podMetricsEndpoints) {
        const port = podSpec(d).containers[0]!.ports!.find((p) => p.name === e.port);
        expect(port?.containerPort, `${name} ${e.port}`).toBe(Number(cm.data.METRICS_PORT));
        expect(e.path).toBe('/metrics');
      }
    }
  });

  it('plain Prometheus: the scrape job keeps annotated pods and rewrites the address to their metrics port', () => {
    const [job] = parseAllDocuments(fs.readFileSync('deploy/prometheus/scrape.yaml', 'utf8'))[0]!.toJS() as {
      relabel_configs: {
        source_labels?: string[];
        action?: string;
        regex?: string;
        replacement?: string;
        target_label?: string;
      }[];
    }[];
    // Prometheus's relabelling (anchored RE2, `;`-joined sources, $n replacement) applied to one pod.
    const relabel = (labels: Record<string, string>) => {
      const out = { ...labels };
      for (const r of job!.relabel_configs) {
        const value = (r.source_labels ?? []).map((l) => out[l] ?? '').join(';');
        const m = new RegExp(`^(?:${r.regex ?? '(.*)'})$`).exec(value);
        if (r.action === 'keep') {
          if (!m) return null;
          continue;
        }
        if (m && r.target_label)
          out[r.target_label] = (r.replacement ?? '$1').replace(
            /\$(\d)/g,
            (_, i: string) => m[Number(i)] ?? '',
          );
      }
      return out;
    };
    const server = find('Deployment', 'dist-job-scheduler-server') as Obj & {
      spec: { template: { metadata: { annotations: Record<string, string> } } };
    };
    const a = server.spec.template.metadata.annotations;
    const pod = {
      __address__: '10.1.2.3:3000', // Kubernetes discovery names the first declared port
      __meta_kubernetes_pod_annotation_prometheus_io_scrape: a['prometheus.io/scrape']!,
      __meta_kubernetes_pod_annotation_prometheus_io_port: a['prometheus.io/port']!,
      __meta_kubernetes_pod_annotation_prometheus_io_path: a['prometheus.io/path']!,
      __meta_kubernetes_namespace: 'dist-job-scheduler',
      __meta_kubernetes_pod_name: 'dist-job-scheduler-server-5d9c7-abcde',
    };
    const cm = find('ConfigMap', 'dist-job-scheduler-config') as Obj & { data: Record<string, string> };
    expect(relabel(pod)).toMatchObject({
      __address__: `10.1.2.3:${cm.data.METRICS_PORT}`,
      __metrics_path__: '/metrics',
      namespace: 'dist-job-scheduler',
      pod: 'dist-job-scheduler-server-5d9c7-abcde',
    });
    expect(relabel({ ...pod, __meta_kubernetes_pod_annotation_prometheus_io_scrape: '' })).toBeNull();
  });

  it('provides every setting the processes require, and the settings parse', () => {
    const cm = find('ConfigMap', 'dist-job-scheduler-config') as Obj & { data: Record<string, string> };
    const secret = find('Secret', 'dist-job-scheduler-secrets') as Obj & {
      stringData: Record<string, string>;
    };
    for (const name of ['dist-job-scheduler-server', 'dist-job-scheduler-scheduler']) {
      const refs = podSpec(find('Deployment', name)).containers[0]!.envFrom!;
      expect(refs.map((r) => r.configMapRef?.name ?? r.secretRef?.name).sort()).toEqual([
        'dist-job-scheduler-config',
        'dist-job-scheduler-secrets',
      ]);
    }
    // The template's placeholders stand for real values of the right shape.
    const real = {
      ...secret.stringData,
      JWT_SECRET: Buffer.alloc(48, 1).toString('base64'),
      SECRETS_KEY: Buffer.alloc(48, 2).toString('base64'),
    };
    const cfg = parseConfig({ ...cm.data, ...real });
    expect(cfg.NODE_ENV).toBe('production');
    // Sign-in links are emailed; without the Secret's key the processes refuse to start.
    expect(cfg.MAIL_TRANSPORT).toBe('resend');
    expect(() => parseConfig({ ...cm.data, ...real, RESEND_API_KEY: '' })).toThrow(/RESEND_API_KEY/);
    // Retention is set explicitly (and reaches the scheduler as parsed numbers).
    expect([cfg.RETENTION_SUCCEEDED_DAYS, cfg.RETENTION_CANCELLED_DAYS, cfg.RETENTION_FAILED_DAYS]).toEqual([
      Number(cm.data.RETENTION_SUCCEEDED_DAYS),
      Number(cm.data.RETENTION_CANCELLED_DAYS),
      Number(cm.data.RETENTION_FAILED_DAYS),
    ]);
    expect(cfg.RETENTION_FAILED_DAYS).toBeGreaterThan(0);
    for (const required of ['DATABASE_URL', 'JWT_SECRET', 'SECRETS_KEY'])
      expect(Object.keys(secret.stringData)).toContain(required);
    const migrate = podSpec(find('Job', 'dist-job-scheduler-migrate')).containers[0]!;
    expect(migrate.env!.find((e) => e.name === 'DATABASE_URL')!.valueFrom!.secretKeyRef).toEqual({
      name: 'dist-job-scheduler-secrets',
      key: 'DATABASE_URL',
    });
  });

  it('images match the three Dockerfiles', () => {
    const images = workloads.map((o) => podSpec(o).containers[0]!.image).sort();
    expect(images).toEqual([
      'dist-job-scheduler-migrate',
      'dist-job-scheduler-scheduler',
      'dist-job-scheduler-server',
    ]);
    for (const img of images)
      expect(fs.existsSync(`Dockerfile.${img.replace('dist-job-scheduler-', '')}`)).toBe(true);
    expect(kustomization.images.map((i) => i.name).sort()).toEqual(images);
    const ci = fs.readFileSync('.ci/run', 'utf8');
    for (const img of images) expect(ci).toContain(img);
  });

  it('the scheduler starts with the same Node flags in the image, in npm start and without a k8s override', () => {
    // The last exec-form CMD is the one Docker runs.
    const cmds = [...fs.readFileSync('Dockerfile.scheduler', 'utf8').matchAll(/^CMD (\[.*\])\r?$/gm)];
    const cmd = JSON.parse(cmds.at(-1)![1]!) as string[];
    expect(cmd[0]).toBe('node');
    expect(cmd.at(-1)).toBe('dist/cmd/scheduler.js');
    expect(cmd).toContain('--max-semi-space-size=8');
    const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['start:scheduler']).toBe(cmd.join(' '));
    // A command or args in the manifest would replace the image's CMD and drop the flags.
    const container = podSpec(find('Deployment', 'dist-job-scheduler-scheduler'))
      .containers[0] as unknown as Record<string, unknown>;
    expect(container.image).toBe('dist-job-scheduler-scheduler');
    expect(container.command).toBeUndefined();
    expect(container.args).toBeUndefined();
  });

  it('the scheduler gets longer to stop than its drain grace period', () => {
    const cm = find('ConfigMap', 'dist-job-scheduler-config') as Obj & { data: Record<string, string> };
    const grace = podSpec(find('Deployment', 'dist-job-scheduler-scheduler')).terminationGracePeriodSeconds!;
    expect(grace * 1000).toBeGreaterThan(Number(cm.data.SCHEDULER_SHUTDOWN_GRACE_MS));
  });

  it('every container runs locked down with resource requests and limits', () => {
    for (const o of workloads) {
      const spec = podSpec(o);
      expect(spec.securityContext?.runAsNonRoot, o.metadata.name).toBe(true);
      for (const c of spec.containers) {
        expect(c.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(c.resources?.requests).toBeDefined();
        expect(c.resources?.limits).toBeDefined();
      }
    }
  });

  it('the scheduler may not reach private ranges or cloud metadata, but may reach DNS and Postgres', () => {
    const np = find('NetworkPolicy', 'dist-job-scheduler-scheduler-egress') as Obj & {
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        egress: { to: { ipBlock?: { cidr: string; except?: string[] } }[]; ports?: { port: number }[] }[];
      };
    };
    expect(np.spec.podSelector.matchLabels).toEqual({
      'app.kubernetes.io/name': 'dist-job-scheduler-scheduler',
    });
    const blocks = np.spec.egress.flatMap((e) => e.to).flatMap((t) => (t.ipBlock ? [t.ipBlock] : []));
    const v4 = blocks.find((b) => b.cidr === '0.0.0.0/0')!;
    for (const cidr of [
      '0.0.0.0/8',
      '10.0.0.0/8',
      '100.64.0.0/10',
      '127.0.0.0/8',
      '169.254.0.0/16',
      '172.16.0.0/12',
      '192.0.0.0/24',
      '192.0.2.0/24',
      '192.168.0.0/16',
      '198.18.0.0/15',
      '198.51.100.0/24',
      '203.0.113.0/24',
      '224.0.0.0/4',
      '240.0.0.0/4',
      '168.63.129.16/32',
    ])
      expect(v4.except).toContain(cidr);
    const v6 = blocks.find((b) => b.cidr === '::/0')!;
    for (const cidr of [
      '::1/128',
      '::ffff:0:0/96',
      '64:ff9b::/96',
      '64:ff9b:1::/48',
      '2002::/16',
      'fc00::/7',
      'fe80::/10',
      'ff00::/8',
    ])
      expect(v6.except).toContain(cidr);
    const ports = np.spec.egress.flatMap((e) => (e.ports ?? []).map((p) => p.port));
    expect(ports).toEqual(expect.arrayContaining([53, 5432]));
  });

  it('the egress except-lists deny everything the SSRF guard refuses, and nothing public', () => {
    const np = find('NetworkPolicy', 'dist-job-scheduler-scheduler-egress') as Obj & {
      spec: { egress: { to: { ipBlock?: { cidr: string; except?: string[] } }[] }[] };
    };
    type Addr = ipaddr.IPv4 | ipaddr.IPv6;
    type Net = [Addr, number];
    const blocks = np.spec.egress.flatMap((e) => e.to).flatMap((t) => (t.ipBlock ? [t.ipBlock] : []));
    expect(blocks.map((b) => b.cidr).sort()).toEqual(['0.0.0.0/0', '::/0']);
    const excepts: Net[] = [];
    for (const b of blocks) {
      const outer = ipaddr.parseCIDR(b.cidr);
      for (const e of b.except ?? []) {
        // Kubernetes refuses an except outside its cidr; a host address with a prefix is a typo.
        expect(ipaddr.isValidCIDR(e), e).toBe(true);
        const net = ipaddr.parseCIDR(e);
        expect(net[0].kind(), e).toBe(outer[0].kind());
        expect(net[1], e).toBeGreaterThan(outer[1]);
        expect(ends(net)[0].toString(), `${e} is written as its network address`).toBe(net[0].toString());
        excepts.push(net);
      }
    }
    const denied = (a: Addr) => excepts.some(([net, bits]) => net.kind() === a.kind() && a.match(net, bits));
    const guard = createTargetPolicy([]);
    const refused = (a: Addr) => blockedAddressReason(a.toString(), guard) !== null;

    // Complete: every address the guard refuses among both ends of every ipaddr.js special range
    // (which the guard builds on), the cloud metadata endpoints and a few tricky forms, is denied.
    type Table = Record<string, Net | Net[]>;
    const tables = [
      (ipaddr.IPv4.prototype as unknown as { SpecialRanges: Table }).SpecialRanges,
      (ipaddr.IPv6.prototype as unknown as { SpecialRanges: Table }).SpecialRanges,
    ];
    const probes: Addr[] = [];
    for (const table of tables)
      for (const entry of Object.values(table))
        for (const range of Array.isArray(entry[0]) ? (entry as Net[]) : [entry as Net])
          probes.push(...ends(range));
    expect(probes.length).toBeGreaterThanOrEqual(60);
    for (const a of [
      '169.254.169.254',
      '168.63.129.16',
      '100.100.100.200',
      'fd00:ec2::254',
      '::ffff:127.0.0.1', // IPv4-mapped loopback
      '64:ff9b::a00:1', // NAT64 of 10.0.0.1
      '64:ff9b:1:a00:0:100::', // local-use NAT64 (/48) of 10.0.0.1 (RFC 6052 2.2: skips bits 64-71)
      '2002:a9fe:a9fe::', // 6to4 of 169.254.169.254
      '::7f00:1', // IPv4-compatible 127.0.0.1
      '100:0:0:1::1',
      '4000::1', // outside 2000::/3: not global unicast
      'e000::1',
    ])
      probes.push(ipaddr.parse(a));
    let refusedCount = 0;
    for (const a of probes)
      if (refused(a)) {
        refusedCount++;
        expect(denied(a), `${a.toString()} is refused by the guard, so denied here`).toBe(true);
      }
    expect(refusedCount).toBeGreaterThanOrEqual(50);

    // Sound: both ends of every denied range are refused by the guard, special-purpose by ipaddr.js,
    // or (IPv6) outside 2000::/3, the only global unicast space. Public resolvers stay reachable.
    const globalUnicast = ipaddr.parseCIDR('2000::/3');
    const notPublic = (a: Addr) =>
      refused(a) || a.range() !== 'unicast' || (a.kind() === 'ipv6' && !a.match(globalUnicast));
    for (const net of excepts)
      for (const a of ends(net))
        expect(notPublic(a), `${a.toString()} (in ${net[0].toString()}/${net[1]}) is not public`).toBe(true);
    for (const pub of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '2001:4860:4860::8888']) {
      expect(refused(ipaddr.parse(pub)), pub).toBe(false);
      expect(denied(ipaddr.parse(pub)), pub).toBe(false);
    }
  });

  it('only the ingress controller reaches the server, and only Prometheus the metrics ports', () => {
    interface Peer {
      namespaceSelector?: { matchLabels?: Record<string, string> };
      podSelector?: { matchLabels?: Record<string, string> };
      ipBlock?: unknown;
    }
    type Policy = Obj & {
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        policyTypes: string[];
        ingress: { from?: Peer[]; ports?: { protocol?: string; port: string | number }[] }[];
      };
    };
    const cm = find('ConfigMap', 'dist-job-scheduler-config') as Obj & { data: Record<string, string> };
    const ingressController = { ns: 'ingress-nginx', pod: 'ingress-nginx' };
    const prometheus = { ns: 'monitoring', pod: 'prometheus' };
    const cases = [
      {
        policy: 'dist-job-scheduler-server-ingress',
        deployment: 'dist-job-scheduler-server',
        // The ingress controller reaches the API port only; Prometheus the metrics port only.
        allowed: [
          { ...ingressController, port: Number(cm.data.PORT) },
          { ...prometheus, port: Number(cm.data.METRICS_PORT) },
        ],
      },
      {
        policy: 'dist-job-scheduler-scheduler-ingress',
        deployment: 'dist-job-scheduler-scheduler',
        allowed: [{ ...prometheus, port: Number(cm.data.METRICS_PORT) }],
      },
    ];
    const ingressPolicies = objects.filter(
      (o) => o.kind === 'NetworkPolicy' && (o as Policy).spec.policyTypes.includes('Ingress'),
    );
    expect(ingressPolicies.map((o) => o.metadata.name).sort()).toEqual(cases.map((c) => c.policy).sort());
    for (const c of cases) {
      const np = find('NetworkPolicy', c.policy) as Policy;
      expect(np, c.policy).toBeDefined();
      expect(np.spec.policyTypes).toEqual(['Ingress']);
      const deployment = find('Deployment', c.deployment) as Obj & {
        spec: { selector: { matchLabels: Record<string, string> } };
      };
      expect(np.spec.podSelector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
      const containerPorts = podSpec(deployment).containers[0]!.ports!;
      const admitted = np.spec.ingress.flatMap((rule) => {
        // A rule without peers or ports would admit every pod, or every port.
        expect(rule.from?.length, c.policy).toBeGreaterThan(0);
        expect(rule.ports?.length, c.policy).toBeGreaterThan(0);
        return rule.from!.flatMap((peer) => {
          // Both selectors in one peer (AND), never an IP block: the pods themselves are named.
          expect(peer.ipBlock).toBeUndefined();
          expect(Object.keys(peer.namespaceSelector?.matchLabels ?? {})).toEqual([
            'kubernetes.io/metadata.name',
          ]);
          expect(Object.keys(peer.podSelector?.matchLabels ?? {})).toEqual(['app.kubernetes.io/name']);
          return rule.ports!.map((p) => {
            expect(p.protocol ?? 'TCP').toBe('TCP');
            const port =
              typeof p.port === 'number'
                ? p.port
                : containerPorts.find((x) => x.name === p.port)?.containerPort;
            return {
              ns: peer.namespaceSelector!.matchLabels!['kubernetes.io/metadata.name'],
              pod: peer.podSelector!.matchLabels!['app.kubernetes.io/name'],
              port,
            };
          });
        });
      });
      expect(admitted, c.policy).toEqual(c.allowed);
      // The selectors are cluster-specific: the manifest says what they match and why probes still work.
      const source = fs.readFileSync(
        path.join(
          DIR,
          kustomization.resources.find((f) => fs.readFileSync(path.join(DIR, f), 'utf8').includes(c.policy))!,
        ),
        'utf8',
      );
      for (const a of c.allowed) expect(source).toMatch(new RegExp(`#.*${a.ns}`));
      expect(source).toMatch(/#.*[Kk]ubelet probes are not subject to NetworkPolicy/);
    }
  });

  it('TRUST_PROXY trusts the ingress controller by CIDR, never a hop count or the whole cluster', () => {
    const cm = find('ConfigMap', 'dist-job-scheduler-config') as Obj & { data: Record<string, string> };
    const cfg = parseConfig({
      ...cm.data,
      DATABASE_URL: 'postgres://u@db:5432/d',
      JWT_SECRET: Buffer.alloc(48, 1).toString('base64'),
      SECRETS_KEY: Buffer.alloc(48, 2).toString('base64'),
      RESEND_API_KEY: 're_x',
    });
    expect(typeof cfg.TRUST_PROXY).toBe('string');
    const entries = String(cfg.TRUST_PROXY)
      .split(',')
      .map((e) => e.trim());
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) {
      expect(ipaddr.isValidCIDR(e), `${e} is a CIDR`).toBe(true);
      const [addr, bits] = ipaddr.parseCIDR(e);
      // A /8 or /12 trusts every pod of a typical cluster, and any pod could forge client IPs.
      expect(bits, e).toBeGreaterThanOrEqual(addr.kind() === 'ipv4' ? 16 : 48);
    }
  });
});
