/**
 * The playground under test: builds the page with Vite, serves dist/ on 127.0.0.1 and opens it
 * in Debian's chromium through playwright-core (never a downloaded browser).
 */
import { spawnSync } from 'node:child_process';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { serveStatic } from '../../apps/playground/serve.mjs';
import { launchChromium } from '../setup/chromium.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const app = join(root, 'apps/playground');

/** `vite build` of the playground into apps/playground/dist. */
export function buildPage(): void {
  const vite = join(app, 'node_modules/vite/bin/vite.js');
  // vitest sets NODE_ENV=test, which would make Vite build for development (no service worker).
  const r = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: app, encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production' } });
  if (r.status !== 0) throw new Error(`vite build failed:\n${r.stdout}${r.stderr}`);
}

export interface Session {
  url: string;
  context: BrowserContext;
  close(): Promise<void>;
}

export async function openSession(): Promise<Session> {
  const { server, url } = (await serveStatic(join(app, 'dist'))) as { server: Server; url: string };
  const browser = await launchChromium({ width: 1300, height: 1000 });
  return {
    url,
    context: browser.context,
    async close() {
      await browser.close();
      await new Promise((ok) => server.close(ok));
    },
  };
}

/** Opens the page and collects every console error and uncaught exception. */
export async function openPage(session: Session): Promise<{ page: Page; errors: string[] }> {
  const page = await session.context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(session.url);
  await waitFor(page, bothReady);
  return { page, errors };
}

// The page's globals inside functions that run in the page (the tests are type-checked without
// the DOM library). The page's Content-Security-Policy forbids evaluating strings, so what runs
// in the page is always a function.
declare const document: any;
declare const window: any;

/** Both runs have built their task and model in their workers. */
export const bothReady = () => ['run0', 'run1'].every((id) => document.getElementById(id).dataset.ready === 'true');

/** Waits until a function run in the page returns something truthy. */
export async function waitFor<A>(page: Page, fn: (arg: A) => unknown, arg?: A, timeout = 60_000): Promise<void> {
  await page.waitForFunction(fn as (arg: unknown) => unknown, arg, { timeout });
}

/** A data attribute of an element. */
export function data(page: Page, selector: string, name: string): Promise<string | undefined> {
  return page.evaluate(([sel, key]) => document.querySelector(sel).dataset[key], [selector, name] as const);
}

/** Non-white pixels of a canvas (what was drawn on it). */
export function inked(page: Page, selector: string): Promise<number> {
  return page.evaluate((sel) => {
    const canvas = document.querySelector(sel);
    const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 250 || d[i + 1] < 250 || d[i + 2] < 250) n++;
    return n;
  }, selector);
}

/** The accuracy chart's values of one run, by step. */
export function accuracyOf(page: Page, run: number): Promise<(number | null)[]> {
  return page.evaluate((r) => window.playground.charts.accuracy.values(r), run);
}

/** A chart's values of one run, by step. */
export function chartOf(page: Page, chart: 'loss' | 'accuracy' | 'gradNorm', run: number): Promise<(number | null)[]> {
  return page.evaluate(([c, r]) => window.playground.charts[c].values(r), [chart, run] as const);
}

/** One run's gradient-flow measurements: the training step and ‖dL/dh_t‖ for every t. */
export function flowOf(page: Page, run: number): Promise<{ step: number; norms: number[] }[]> {
  return page.evaluate((r) => window.playground.runs[r].flow, run);
}

/** Every element's data attribute for a selector. */
export function dataAll(page: Page, selector: string, name: string): Promise<(string | undefined)[]> {
  return page.evaluate(([sel, key]) => [...document.querySelectorAll(sel)].map((e: any) => e.dataset[key]), [selector, name] as const);
}

/** Sets the cell editor's code and trains it as run A's cell. */
export async function useCustomCell(page: Page, code: string): Promise<void> {
  await waitFor(page, () => window.playground.editor !== null);
  await page.evaluate((text) => {
    window.playground.editor.code = text;
  }, code);
  await page.selectOption('#run0 select.cell', 'custom');
}
