// Headless Chromium (Debian `chromium`, never a downloaded browser) driven by playwright-core, with a
// fresh profile directory per launch and everything that phones home switched off.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

export interface RunningChromium {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

export async function startChromium(): Promise<RunningChromium> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'paysignal-chromium-'));
  try {
    // launchPersistentContext passes --user-data-dir itself: the profile is this fresh directory.
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_BIN,
      headless: true,
      args: [...CHROMIUM_ARGS],
      viewport: { width: 1280, height: 900 },
      timeout: 30_000,
    });
    return {
      context,
      async close() {
        await context.close();
        await rm(userDataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    throw error;
  }
}
