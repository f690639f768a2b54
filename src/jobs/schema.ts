// The create-job request: strict zod schemas (unknown fields are errors) plus the target policy.
import crypto from 'node:crypto';
import { DateTime } from 'luxon';
import { z } from 'zod';
import { checkTargetUrl, type TargetPolicy } from './urlPolicy.ts';
import { RESERVED_HEADERS } from '../webhooks/signing.ts';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const FORBIDDEN_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'proxy-connection',
  ...RESERVED_HEADERS,
]);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// C0 controls and DEL: meaningless in a name or URL (WHATWG URL parsing would even drop tabs and
// newlines silently, so the URL checked would not be the URL typed).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;
// What Node and undici accept in a header value: tab, visible ASCII, space and obs-text (Latin-1).
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Strings that Postgres or the wire would silently change are refused rather than stored altered:
 * NUL (Postgres `text` cannot hold it) and lone UTF-16 surrogates (they would be stored as U+FFFD, so
 * the body signed and sent would differ from the one submitted).
 */
const storable = (s: string, ctx: z.RefinementCtx) => {
  if (s.includes('\0')) ctx.addIssue({ code: 'custom', message: 'must not contain NUL characters' });
  else if (!s.isWellFormed())
    ctx.addIssue({ code: 'custom', message: 'must be well-formed Unicode (no lone surrogates)' });
};
const plainText = (s: string, ctx: z.RefinementCtx) => {
  if (CONTROL.test(s)) ctx.addIssue({ code: 'custom', message: 'must not contain control characters' });
  else storable(s, ctx);
};
const MAX_HEADERS = 50;
const MAX_HEADER_BYTES = 16 * 1024;
// Requires an explicit offset: "2026-12-01T09:00:00" would mean a different instant on each server.
// The parts are captured so that their ranges are checked here (RFC 3339): luxon itself reads 24:00
// as the next day's midnight and takes any offset (+24:00, +99:99) as that many hours.
const ISO_WITH_OFFSET =
  /^\d{4}-\d{2}-\d{2}T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:Z|[+-](\d{2})(?::?(\d{2}))?)$/i;

export interface JobLimits {
  timeoutDefaultMs: number;
  timeoutMaxMs: number;
  bodyMaxBytes: number;
  fireAtMaxDays: number;
}

/**
 * Parses an RFC 3339 instant (ISO-8601 with an offset: seconds optional, offset also as +hhmm or
 * +hh); null when malformed, out of range (hour 24, minute or second 60, offset beyond ±23:59, a
 * day the month lacks) or offset-less. Instants are kept to the millisecond (a JS Date): further
 * digits round up to the next millisecond. Rounding up, unlike dropping them, never makes a job due
 * before the instant given and changes no comparison with a millisecond-precise time, so every
 * bound (fire_at_from, fire_at_to, start_at, end_at) selects what the full instant would.
 */
export function parseInstant(s: string): DateTime | null {
  const m = ISO_WITH_OFFSET.exec(s);
  if (!m) return null;
  const [, hour, minute, second = '00', fraction = '', offsetHours = '00', offsetMinutes = '00'] = m;
  if (+hour! > 23 || +minute! > 59 || +second > 59 || +offsetHours > 23 || +offsetMinutes > 59) return null;
  const beyondMs = fraction.slice(3);
  const dt = DateTime.fromISO(beyondMs ? s.replace(`.${fraction}`, `.${fraction.slice(0, 3)}`) : s, {
    setZone: true,
  });
  if (!dt.isValid) return null;
  return (/[1-9]/.test(beyondMs) ? dt.plus({ milliseconds: 1 }) : dt).toUTC();
}

/** Defaults of a job's retry policy when the request gives none. */
export const DEFAULT_RETRY = {
  strategy: 'exponential',
  max_attempts: 5,
  base_delay_ms: 1000,
  max_delay_ms: 3_600_000,
} as const;

/**
 * The parts of a job that describe the request and how it is retried: shared by one-off jobs and
 * schedules (whose occurrences are ordinary jobs), so both validate exactly alike.
 */
export function requestTemplate(limits: JobLimits, policy: TargetPolicy) {
  // `__proto__` as a JSON key is an own property of the parsed body, but copying it into a record
  // sets a prototype instead: the header would vanish silently. Refused before the copy.
  const noProtoKey = (h: unknown, ctx: z.RefinementCtx) => {
    if (h !== null && typeof h === 'object' && Object.hasOwn(h, '__proto__'))
      ctx.addIssue({ code: 'custom', path: ['__proto__'], message: 'not a valid header name' });
  };
  const headers = z.record(z.string(), z.string()).superRefine((h, ctx) => {
    const entries = Object.entries(h);
    if (entries.length > MAX_HEADERS)
      ctx.addIssue({ code: 'custom', message: `at most ${MAX_HEADERS} headers` });
    let total = 0;
    const seen = new Set<string>();
    for (const [name, value] of entries) {
      total += Buffer.byteLength(name) + Buffer.byteLength(value);
      const lower = name.toLowerCase();
      if (!TOKEN.test(name))
        ctx.addIssue({ code: 'custom', path: [name], message: 'not a valid header name' });
      else if (FORBIDDEN_HEADERS.has(lower) || lower.startsWith('djs-'))
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: 'this header is set by the scheduler and may not be given',
        });
      if (seen.has(lower))
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: 'duplicate header (names are case-insensitive)',
        });
      seen.add(lower);
      // eslint-disable-next-line no-control-regex
      if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value))
        ctx.addIssue({ code: 'custom', path: [name], message: 'header value contains control characters' });
      else if (!HEADER_VALUE.test(value))
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: 'header value must be Latin-1 text (encode other characters, e.g. percent-encoding)',
        });
    }
    if (total > MAX_HEADER_BYTES)
      ctx.addIssue({ code: 'custom', message: `headers total more than ${MAX_HEADER_BYTES} bytes` });
  });

  const request = z
    .strictObject({
      method: z.enum(METHODS),
      // The normalised URL (url.href) is what was checked, so it is what is stored and fired.
      url: z.string().transform((u, ctx) => {
        if (CONTROL.test(u) || !u.isWellFormed()) {
          ctx.addIssue({ code: 'custom', message: 'must not contain control characters or lone surrogates' });
          return z.NEVER;
        }
        const r = checkTargetUrl(u, policy);
        if (!r.ok) {
          ctx.addIssue({ code: 'custom', message: r.reason });
          return z.NEVER;
        }
        if (r.url.href.length > 2048) {
          ctx.addIssue({ code: 'custom', message: 'must be at most 2048 characters once normalised' });
          return z.NEVER;
        }
        return r.url.href;
      }),
      headers: z.unknown().superRefine(noProtoKey).pipe(headers).optional(),
      body: z.string().superRefine(storable).optional(),
    })
    .superRefine((r, ctx) => {
      if (r.body !== undefined && r.method === 'GET')
        ctx.addIssue({ code: 'custom', path: ['body'], message: 'a GET request cannot have a body' });
      if (r.body !== undefined && Buffer.byteLength(r.body) > limits.bodyMaxBytes)
        ctx.addIssue({ code: 'custom', path: ['body'], message: `at most ${limits.bodyMaxBytes} bytes` });
    });

  const retry = z
    .strictObject({
      strategy: z.enum(['linear', 'exponential']).default('exponential'),
      max_attempts: z.number().int().min(1).max(25).default(5),
      base_delay_ms: z.number().int().min(0).max(86_400_000).default(1000),
      max_delay_ms: z
        .number()
        .int()
        .min(0)
        .max(7 * 86_400_000)
        .default(3_600_000),
    })
    .refine((r) => r.base_delay_ms <= r.max_delay_ms, {
      message: 'base_delay_ms must not exceed max_delay_ms',
      path: ['max_delay_ms'],
    });

  return {
    name: z.string().min(1).max(200).superRefine(plainText),
    request,
    retry,
    timeout_ms: z.number().int().min(1000).max(limits.timeoutMaxMs),
  };
}

/** Builds the create schema for these limits and target policy. */
export function createJobSchema(limits: JobLimits, policy: TargetPolicy) {
  const t = requestTemplate(limits, policy);
  const maxSeconds = limits.fireAtMaxDays * 86400;
  return z
    .strictObject({
      name: t.name.optional(),
      request: t.request,
      fire_at: z
        .string()
        .max(64)
        .transform((s, ctx) => {
          const dt = parseInstant(s);
          if (!dt) {
            ctx.addIssue({
              code: 'custom',
              message: 'must be an ISO-8601 date-time with an offset or Z, e.g. 2026-12-01T09:00:00Z',
            });
            return z.NEVER;
          }
          if (dt.diffNow('seconds').seconds > maxSeconds) {
            ctx.addIssue({ code: 'custom', message: `must be at most ${limits.fireAtMaxDays} days ahead` });
            return z.NEVER;
          }
          return dt;
        })
        .optional(),
      delay_seconds: z.number().int().min(0).max(maxSeconds).optional(),
      timeout_ms: t.timeout_ms.default(limits.timeoutDefaultMs),
      retry: t.retry.default(DEFAULT_RETRY),
    })
    .superRefine((j, ctx) => {
      if (j.fire_at !== undefined && j.delay_seconds !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['delay_seconds'],
          message: 'give fire_at or delay_seconds, not both',
        });
    });
}

/** A stable hash of the raw request body, for telling an idempotent replay from a key reuse. */
export function requestHash(body: unknown): Buffer {
  return crypto.createHash('sha256').update(canonicalJson(body)).digest();
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
