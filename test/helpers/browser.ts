// What the real-browser tests share: Debian's Chromium (driven by playwright-core) and a mailbox
// that catches the sign-in emails the app's own mail worker sends.
import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { startMailWorker, type Email } from '../../src/auth/mailer.ts';
import { Sealer } from '../../src/auth/crypto.ts';
import { silentLogger } from '../../src/logger.ts';
import type { TestApp } from './app.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = fs.existsSync(CHROMIUM);

/** Headless Chromium with the flags this machine needs; `args` adds more (host resolver rules…). */
export function launchChromium(args: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', ...args],
  });
}

/** Runs the app's mail worker into an array: every email the app sends, in order. */
export async function startMailbox(t: TestApp, publicUrl: string): Promise<Email[]> {
  const sent: Email[] = [];
  await startMailWorker({
    boss: t.boss,
    transport: {
      send: (e) => {
        sent.push(e);
        return Promise.resolve();
      },
    },
    sealer: new Sealer(t.config.SECRETS_KEY, 'magic-link'),
    publicUrl,
    ttlSeconds: 900,
    log: silentLogger,
    metrics: t.metrics,
  });
  return sent;
}
