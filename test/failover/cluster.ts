// A highly available PostgreSQL on one machine, from Debian's packages, the shape of a production
// deployment: one etcd, two PostgreSQL 15 nodes managed by Patroni, and HAProxy routing a read-write
// port to whichever node Patroni's REST API calls the primary (`GET /primary`) — what CloudNativePG's
// `-rw` Service or a Patroni + HAProxy setup give an application. Used by test/failover/run.ts.
// Pitfalls of this setup (../shared/notes/postgres-ha-local.md) are handled where they arise.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
const OS_USER = 'pgha'; // initdb refuses to run as root

export interface Member {
  name: string;
  role: string; // leader, sync_standby, replica
  state: string; // running, streaming, stopped, …
  lag?: number | string;
  timeline?: number;
}

export interface NodeSpec {
  name: string;
  pgPort: number;
  restPort: number;
}

export interface ClusterOptions {
  dir: string;
  /** Patroni's synchronous_mode: a commit waits for the standby (no acknowledged write is lost). */
  synchronous: boolean;
  basePort: number;
  log: (line: string) => void;
}

/** What is missing to run the cluster here, or null. */
export function missingPrerequisites(): string | null {
  const need = ['patroni', 'patronictl', 'etcd', 'haproxy'];
  for (const bin of need) {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    } catch {
      return `${bin} is not installed (apt-get install -y patroni etcd-server etcd-client haproxy postgresql-15)`;
    }
  }
  if (!fs.existsSync(path.join(PG_BIN, 'postgres'))) return `no PostgreSQL 15 server binaries in ${PG_BIN}`;
  if (process.getuid?.() !== 0) return 'the cluster needs root (it runs Patroni as a system user)';
  return null;
}

export class Cluster {
  readonly nodes: NodeSpec[];
  readonly etcdPort: number;
  readonly haproxyPort: number;
  private readonly children = new Map<string, ChildProcess>();
  private readonly logs = new Map<string, string>();

  constructor(private readonly o: ClusterOptions) {
    const p = o.basePort;
    this.etcdPort = p;
    this.haproxyPort = p + 10;
    this.nodes = [
      { name: 'node1', pgPort: p + 20, restPort: p + 30 },
      { name: 'node2', pgPort: p + 21, restPort: p + 31 },
    ];
  }

  /** The URL an application uses: HAProxy's read-write port. */
  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.haproxyPort}/${database}`;
  }

  async start(): Promise<void> {
    try {
      execFileSync('id', [OS_USER], { stdio: 'ignore' });
    } catch {
      execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', OS_USER]);
    }
    fs.rmSync(this.o.dir, { recursive: true, force: true });
    fs.mkdirSync(this.o.dir, { recursive: true, mode: 0o755 });
    this.startEtcd();
    await this.waitHttp(`http://127.0.0.1:${this.etcdPort}/health`, 'etcd', 20_000);
    for (const n of this.nodes) this.startNode(n);
    this.startHaproxy();
    await this.waitFor(
      async () => {
        const m = await this.members();
        return m.some((x) => x.role === 'leader' && x.state === 'running') &&
          m.some((x) => this.isStandbyReady(x))
          ? m
          : null;
      },
      'a leader and a streaming standby',
      90_000,
    );
  }

  private isStandbyReady(m: Member): boolean {
    const role = this.o.synchronous ? 'sync_standby' : 'replica';
    return (
      (m.role === role || m.role === 'sync_standby') && (m.state === 'streaming' || m.state === 'running')
    );
  }

  private spawnLogged(key: string, cmd: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    const append = (d: Buffer) =>
      this.logs.set(key, ((this.logs.get(key) ?? '') + d.toString()).slice(-30_000));
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    this.children.set(key, child);
    return child;
  }

  /** The last lines a component wrote (for a failure report). */
  logOf(key: string): string {
    return this.logs.get(key) ?? '';
  }

  private startEtcd() {
    const dir = path.join(this.o.dir, 'etcd');
    const peer = `http://127.0.0.1:${this.etcdPort + 1}`;
    const client = `http://127.0.0.1:${this.etcdPort}`;
    this.spawnLogged('etcd', 'etcd', [
      '--name=e1',
      `--data-dir=${dir}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=e1=${peer}`,
      '--log-level=warn',
    ]);
  }

  private configPath(n: NodeSpec) {
    return path.join(this.o.dir, `${n.name}.yml`);
  }

  private writeNodeConfig(n: NodeSpec) {
    const home = path.join(this.o.dir, n.name);
    const data = path.join(home, 'data');
    const sockets = path.join(home, 'sock');
    fs.mkdirSync(sockets, { recursive: true });
    fs.mkdirSync(home, { recursive: true });
    execFileSync('chown', ['-R', `${OS_USER}:`, home]);
    // ttl 10 / loop_wait 2 / retry_timeout 5: a dead leader's key expires in ~10 s (the failover time).
    const yml = `scope: djs-failover
name: ${n.name}
log:
  level: WARNING
restapi:
  listen: 127.0.0.1:${n.restPort}
  connect_address: 127.0.0.1:${n.restPort}
etcd3:
  hosts: 127.0.0.1:${this.etcdPort}
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 2
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    synchronous_mode: ${this.o.synchronous}
    postgresql:
      use_pg_rewind: true
      parameters:
        wal_level: replica
        hot_standby: 'on'
        wal_log_hints: 'on'
        max_wal_senders: 10
        max_replication_slots: 10
        max_connections: 300
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 trust
    - host all all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:${n.pgPort}
  connect_address: 127.0.0.1:${n.pgPort}
  data_dir: ${data}
  bin_dir: ${PG_BIN}
  pgpass: ${path.join(home, 'pgpass')}
  authentication:
    superuser:
      username: postgres
      password: postgres
    replication:
      username: replicator
      password: replicator
    rewind:
      username: rewinder
      password: rewinder
  parameters:
    unix_socket_directories: ${sockets}
tags:
  nofailover: false
  noloadbalance: false
`;
    fs.writeFileSync(this.configPath(n), yml);
  }

  startNode(n: NodeSpec): void {
    this.writeNodeConfig(n);
    // runuser keeps the caller's environment: an exported PGPASSWORD would override Patroni's pgpass.
    const env = { ...process.env };
    delete env.PGPASSWORD;
    delete env.PGUSER;
    delete env.PGHOST;
    delete env.PGPORT;
    delete env.PGDATABASE;
    this.spawnLogged(n.name, 'runuser', ['-u', OS_USER, '--', 'patroni', this.configPath(n)], env);
  }

  private startHaproxy() {
    const cfg = path.join(this.o.dir, 'haproxy.cfg');
    // retries 0: with retries, a client stalls ~1 s per retry on the dead node. on-marked-down
    // shutdown-sessions: connections to a demoted node are cut, not left to fail query by query.
    fs.writeFileSync(
      cfg,
      `global
  maxconn 2000
defaults
  mode tcp
  timeout connect 2s
  timeout client 30m
  timeout server 30m
  retries 0
listen rw
  bind 127.0.0.1:${this.haproxyPort}
  option httpchk GET /primary
  http-check expect status 200
  default-server inter 1s fastinter 500ms downinter 1s fall 2 rise 1 on-marked-down shutdown-sessions
${this.nodes.map((n) => `  server ${n.name} 127.0.0.1:${n.pgPort} check port ${n.restPort}`).join('\n')}
`,
    );
    this.spawnLogged('haproxy', 'haproxy', ['-db', '-f', cfg]);
  }

  async members(): Promise<Member[]> {
    for (const n of this.nodes) {
      try {
        const r = await fetch(`http://127.0.0.1:${n.restPort}/cluster`, {
          signal: AbortSignal.timeout(1000),
        });
        if (r.ok) return ((await r.json()) as { members: Member[] }).members;
      } catch {
        // This node's REST API is down; ask the other.
      }
    }
    return [];
  }

  async leader(): Promise<NodeSpec | null> {
    const m = (await this.members()).find((x) => x.role === 'leader' && x.state === 'running');
    return m ? this.nodes.find((n) => n.name === m.name)! : null;
  }

  /** A node lost: kill -9 its Patroni AND its postmaster (re-parented, it would live on) and children. */
  killNode(n: NodeSpec): void {
    const patroni = this.children.get(n.name);
    const pidFile = path.join(this.o.dir, n.name, 'data', 'postmaster.pid');
    const postmaster = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]) : 0;
    const pids = new Set<number>();
    if (patroni?.pid) {
      pids.add(patroni.pid);
      for (const c of childrenOf(patroni.pid)) pids.add(c);
    }
    if (postmaster) {
      pids.add(postmaster);
      for (const c of childrenOf(postmaster)) pids.add(c);
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }

  /**
   * Stops (SIGSTOP) the WAL sender of primary `n`, so its standby falls behind as one across a
   * network would (stopping the standby's receiver instead would not do: the bytes already sent wait
   * in its socket buffer). `resume()` lets it go on (SIGCONT). Found as the child of the node's
   * postmaster whose title names the walsender.
   */
  pauseWalSender(n: NodeSpec): { resume(): void } {
    const pidFile = path.join(this.o.dir, n.name, 'data', 'postmaster.pid');
    const postmaster = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
    const pid = childrenOf(postmaster).find((c) => {
      try {
        return /walsender/.test(fs.readFileSync(`/proc/${c}/cmdline`, 'utf8'));
      } catch {
        return false;
      }
    });
    if (!pid) throw new Error(`no walsender under ${n.name}'s postmaster ${postmaster}`);
    process.kill(pid, 'SIGSTOP');
    return {
      resume: () => {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // It went with its node.
        }
      },
    };
  }

  /** A planned switchover to the other node; resolves when patronictl returns. */
  switchover(from: NodeSpec, to: NodeSpec): void {
    execFileSync(
      'patronictl',
      ['-c', this.configPath(from), 'switchover', '--leader', from.name, '--candidate', to.name, '--force'],
      { stdio: 'pipe', timeout: 60_000 },
    );
  }

  async waitFor<T>(probe: () => Promise<T | null>, what: string, timeoutMs: number): Promise<T> {
    const until = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < until) {
      try {
        const v = await probe();
        if (v) return v;
      } catch (err) {
        last = err;
      }
      await sleep(200);
    }
    throw new Error(
      `${what}: not within ${timeoutMs} ms (${last instanceof Error ? last.message : 'no error'}); members ${JSON.stringify(await this.members())}`,
    );
  }

  private async waitHttp(url: string, what: string, timeoutMs: number) {
    await this.waitFor(async () => (await fetch(url).catch(() => null))?.ok ?? null, what, timeoutMs);
  }

  /** Waits until `node` is back as a streaming (sync) standby. */
  async waitStandby(n: NodeSpec, timeoutMs = 90_000): Promise<void> {
    await this.waitFor(
      async () =>
        (await this.members()).some((m) => m.name === n.name && this.isStandbyReady(m)) ? true : null,
      `${n.name} back as a standby`,
      timeoutMs,
    );
  }

  async stop(): Promise<void> {
    for (const n of this.nodes) this.killNode(n);
    for (const [, c] of this.children) if (c.exitCode === null) c.kill('SIGKILL');
    await sleep(300);
    fs.rmSync(this.o.dir, { recursive: true, force: true });
  }
}

/** Direct and indirect children of a pid (Linux /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  const parents = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
    } catch {
      // Exited while we looked.
    }
  }
  const walk = (p: number) => {
    for (const c of parents.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}
