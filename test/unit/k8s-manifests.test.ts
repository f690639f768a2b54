// Kubernetes manifests cannot be applied here (no cluster), so they are validated against the
// Kubernetes schemas (kubernetes-models) and cross-checked: probe ports exist, the config the
// processes require is provided and parses, images match the three Dockerfiles, grace periods and
// security settings hold.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { parseConfig } from '../../src/config.ts';

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
    expect(ports('dist-job-scheduler-scheduler')).toContain(Number(cm.data.METRICS_PORT));
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
      '10.0.0.0/8',
      '172.16.0.0/12',
      '192.168.0.0/16',
      '169.254.0.0/16',
      '100.64.0.0/10',
      '168.63.129.16/32',
    ])
      expect(v4.except).toContain(cidr);
    const v6 = blocks.find((b) => b.cidr === '::/0')!;
    for (const cidr of ['fc00::/7', 'fe80::/10']) expect(v6.except).toContain(cidr);
    const ports = np.spec.egress.flatMap((e) => (e.ports ?? []).map((p) => p.port));
    expect(ports).toEqual(expect.arrayContaining([53, 5432]));
  });
});
