// Magic-link email delivery: a pg-boss worker (run by the server process) opens the sealed token and
// sends it with Resend, or, with MAIL_TRANSPORT=log (the default outside production without
// RESEND_API_KEY), writes it to the log as the local mailbox.
import { Resend } from 'resend';
import type { PgBoss } from 'pg-boss';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { escapeHtml } from '../lib/html.ts';
import type { Sealer } from './crypto.ts';
import { MAGIC_LINK_QUEUE, type MagicLinkJob } from '../queue/mail.ts';

export interface Email {
  to: string;
  subject: string;
  text: string;
  html: string;
  link: string;
}

/** Where emails go. */
export interface MailTransport {
  send(email: Email): Promise<void>;
}

/** Sends through the Resend API (or a compatible stand-in at `baseUrl`). */
export class ResendTransport implements MailTransport {
  private readonly resend: Resend;
  constructor(
    apiKey: string,
    private readonly from: string,
    baseUrl?: string,
  ) {
    this.resend = new Resend(apiKey, baseUrl ? { baseUrl } : undefined);
  }
  async send(email: Email): Promise<void> {
    const { error } = await this.resend.emails.send({
      from: this.from,
      to: email.to,
      subject: email.subject,
      text: email.text,
      html: email.html,
    });
    if (error) throw new Error(`resend: ${error.name}: ${error.message}`);
  }
}

/** Development mailbox: one JSON log line per email, with the link in the field `magic_link`. */
class LogTransport implements MailTransport {
  constructor(private readonly log: Logger) {}
  send(email: Email): Promise<void> {
    this.log.info(
      { to: email.to, magic_link: email.link },
      'sign-in link (MAIL_TRANSPORT=log: this log is the mailbox)',
    );
    return Promise.resolve();
  }
}

/** The transport `MAIL_TRANSPORT` names; config parsing has already refused `resend` without a key. */
export function createMailTransport(
  config: Pick<Config, 'MAIL_TRANSPORT' | 'RESEND_API_KEY' | 'RESEND_BASE_URL' | 'MAIL_FROM'>,
  log: Logger,
): MailTransport {
  if (config.MAIL_TRANSPORT === 'log') return new LogTransport(log);
  if (!config.RESEND_API_KEY) throw new Error('MAIL_TRANSPORT=resend requires RESEND_API_KEY');
  return new ResendTransport(config.RESEND_API_KEY, config.MAIL_FROM, config.RESEND_BASE_URL);
}

/** The magic-link email for `link`. */
function magicLinkEmail(to: string, link: string, ttlMinutes: number): Email {
  return {
    to,
    link,
    subject: 'Your dist-job-scheduler sign-in link',
    text: `Open this link to sign in (valid for ${ttlMinutes} minutes, once):\n\n${link}\n\nIf you did not ask for it, ignore this email.`,
    html: `<p>Open this link to sign in (valid for ${ttlMinutes} minutes, once):</p><p><a href="${escapeHtml(link)}">${escapeHtml(link)}</a></p><p>If you did not ask for it, ignore this email.</p>`,
  };
}

/** Starts the worker; pg-boss retries a failed send with backoff (MAGIC_LINK_QUEUE_OPTIONS, src/queue/mail.ts). */
export async function startMailWorker(deps: {
  boss: PgBoss;
  transport: MailTransport;
  sealer: Sealer;
  publicUrl: string;
  ttlSeconds: number;
  log: Logger;
  metrics: Metrics;
}): Promise<string> {
  return deps.boss.work<MagicLinkJob>(
    MAGIC_LINK_QUEUE,
    // NOTIFY wakes the worker for new emails; retries (scheduled for later) are found by this poll.
    { batchSize: 1, pollingIntervalSeconds: 1, notifyPollingIntervalSeconds: 1 },
    async ([job]) => {
      if (!job) return;
      const token = deps.sealer.open(job.data.sealed_token);
      const link = `${deps.publicUrl}/v1/auth/verify?token=${encodeURIComponent(token)}`;
      try {
        await deps.transport.send(magicLinkEmail(job.data.to, link, Math.round(deps.ttlSeconds / 60)));
        deps.metrics.mailSent.inc();
      } catch (err) {
        deps.metrics.mailFailed.inc();
        deps.log.warn(
          { err: { message: (err as Error).message }, job_id: job.id },
          'magic-link email failed; will retry',
        );
        throw err;
      }
    },
  );
}
