// A dedicated LISTEN connection (NOTIFY needs a session, not a pooled client). Reconnects with
// backoff when the database goes away or the connection lands on a read-only node (a failover: it
// retries until it finds the writable primary), and reports each (re)connect so the caller can
// rescan for anything notified while it was deaf, and each loss so it can stop trusting what it cached.
// Used by the scheduler (due jobs, cancels) and the API server (auth revocations).
import pg from 'pg';
import type { Logger } from '../logger.ts';
import { requireWritable } from './pool.ts';

export class Listener {
  private client: pg.Client | null = null;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private backoffMs = 100;
  private pingTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly databaseUrl: string,
    private readonly channels: string[],
    private readonly onNotify: (channel: string, payload: string) => void,
    private readonly onConnect: () => void,
    private readonly log: Logger,
    private readonly opts: {
      applicationName?: string;
      onDisconnect?: () => void;
      pingIntervalMs?: number;
    } = {},
  ) {}

  async start(): Promise<void> {
    await this.connect().catch(() => this.scheduleReconnect());
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      application_name: this.opts.applicationName ?? 'djs-scheduler-listen',
      keepAlive: true,
      // The OS default waits two hours before the first probe.
      keepAliveInitialDelayMillis: 10_000,
    });
    client.on('error', (err) => {
      this.log.warn({ err: { message: err.message } }, 'LISTEN connection lost');
      this.drop(client);
    });
    client.on('end', () => this.drop(client));
    client.on('notification', (n) => this.onNotify(n.channel, n.payload ?? ''));
    try {
      await client.connect();
      // Only a writable primary will ever notify: NOTIFY is not replicated, and writers move with the
      // primary. A standby refuses LISTEN, but a read-only session on a node being demoted takes it
      // and would stay deaf. Either way this is a failed attempt: retry until the primary is found.
      await requireWritable(client);
      for (const ch of this.channels) await client.query(`LISTEN ${ch}`);
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      throw err;
    }
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.backoffMs = 100;
    this.onConnect();
    this.ping(client);
  }

  /**
   * A half-open connection (a partition, a failover that moved the address) raises no error and
   * delivers nothing: the caller would go on trusting a deaf listener. A query every few seconds
   * that must answer in time turns that into a drop and a reconnect.
   */
  private ping(client: pg.Client): void {
    const every = this.opts.pingIntervalMs ?? 5_000;
    this.pingTimer = setTimeout(() => {
      if (this.client !== client) return;
      const deadline = setTimeout(() => {
        this.log.warn('LISTEN connection did not answer a ping; reconnecting');
        this.drop(client);
      }, every);
      deadline.unref();
      client
        .query('SELECT 1')
        .then(() => {
          clearTimeout(deadline);
          this.ping(client);
        })
        .catch(() => {
          clearTimeout(deadline);
          this.drop(client);
        });
    }, every);
    this.pingTimer.unref();
  }

  private drop(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = null;
    this.opts.onDisconnect?.();
    client.end().catch(() => {});
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retryTimer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 5_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect().catch((err: Error & { code?: string }) => {
        this.log.debug({ err: { message: err.message, code: err.code } }, 'LISTEN reconnect failed');
        this.scheduleReconnect();
      });
    }, delay);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pingTimer) clearTimeout(this.pingTimer);
    const c = this.client;
    this.client = null;
    if (c) this.opts.onDisconnect?.();
    if (c) {
      c.removeAllListeners('end');
      await c.end().catch(() => {});
    }
  }
}
