/**
 * The one way the tests start a browser: Debian's chromium (never a downloaded one), driven by
 * playwright-core (a devDependency of the seqgrad package), headless, with a fresh profile that
 * `close()` removes.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.SEQGRAD_CHROMIUM ?? '/usr/bin/chromium';
const root = fileURLToPath(new URL('../..', import.meta.url));

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launches chromium with the flags this machine needs (no sandbox as root, no network of its own). */
export async function launchChromium(viewport?: { width: number; height: number }): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  const { chromium } = createRequire(join(root, 'packages/cli/package.json'))('playwright-core') as typeof import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'seqgrad-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    ...(viewport ? { viewport } : {}),
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
