// The magic-link email queue, defined once: its name, its pg-boss options (the retry policy among
// them) and its payload. The migrate step creates the queue from these options, the sign-in service
// sends to it and the server's mail worker works on it. Definitions only, no imports from src/: the
// migrate step (src/db/) reads them without depending on anything above it.
import type { Queue } from 'pg-boss';

/** Name of the queue of magic-link emails to send. */
export const MAGIC_LINK_QUEUE = 'magic-link-email';

/** One queued email: the recipient and the sign-in token, sealed (src/auth/crypto.ts Sealer). */
export interface MagicLinkJob {
  to: string;
  sealed_token: string;
}

/**
 * The queue's options, applied when the migrate step creates it. A failed send is retried up to 8
 * times, the wait doubling from 2 s and capped at 5 minutes (about 8.5 minutes in all): a provider
 * outage of a few minutes delays the email, still within a link's default 15-minute lifetime.
 */
export const MAGIC_LINK_QUEUE_OPTIONS = {
  retryLimit: 8,
  retryDelay: 2,
  retryBackoff: true,
  retryDelayMax: 300,
  // The payload is encrypted, and it is deleted once sent: no usable token lingers in the queue.
  deleteAfterSeconds: 1,
  retentionSeconds: 3600,
  expireInSeconds: 60,
  notify: true,
} as const satisfies Omit<Queue, 'name'>;
