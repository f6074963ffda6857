import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import { NOT_ISOLATED_MESSAGE } from '@seqgrad/autograd/threads';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { tmp } from '../cli/helpers.js';
import { type Browser, launchChromium } from '../setup/chromium.js';
import { root } from './page.js';

// The GEMM's Web Worker pool (`@seqgrad/autograd/threads`, browser condition) in Debian's chromium:
// a page served with COOP/COEP is cross-origin isolated and its worker multiplies on the pool; a
// page served without them says so once and stays on one thread.

declare const window: any;
declare const crossOriginIsolated: boolean;

const site = tmp('seqgrad-gemm-threads-');
let server: Server;
let origin = '';
let browser: Browser;

const PAGE = `<!doctype html><meta charset="utf-8"><title>gemm threads</title>
<script type="module">
  window.runGemm = (request) => new Promise((resolve, reject) => {
    const worker = new Worker('./gemm.worker.js', { type: 'module' });
    worker.onmessage = (e) => { resolve(e.data); worker.terminate(); };
    worker.onerror = (e) => reject(new Error(e.message));
    worker.postMessage(request);
  });
</script>`;

beforeAll(async () => {
  // tsconfigRaw: the packages as a bundler resolves them for a page (their dist/ by the "browser"
  // condition), not through tests/tsconfig.json's paths into src/, so both entries of autograd share one copy.
  const common = { bundle: true, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'silent', tsconfigRaw: {} } as const;
  // The test's worker, and the pool's worker code beside it (threadPool.ts starts it from new URL('./gemmWorker.js', import.meta.url)).
  await build({ ...common, entryPoints: [join(root, 'tests/playground/fixtures/gemmThreads.worker.ts')], outfile: join(site, 'gemm.worker.js') });
  await build({ ...common, entryPoints: [join(root, 'packages/autograd/dist/backend/gemmWorker.js')], outfile: join(site, 'gemmWorker.js') });
  writeFileSync(join(site, 'index.html'), PAGE);
  // /isolated/... is served with the two headers, /plain/... without.
  server = createServer((req, res) => {
    const [, mode, name] = /^\/(isolated|plain)\/([\w.-]+)$/.exec(new URL(req.url ?? '/', 'http://x').pathname) ?? [];
    if (!name) return void res.writeHead(404).end();
    const headers: Record<string, string> = { 'content-type': name.endsWith('.html') ? 'text/html' : 'text/javascript' };
    if (mode === 'isolated') Object.assign(headers, { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' });
    try {
      res.writeHead(200, headers).end(readFileSync(join(site, name)));
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
  rmSync(site, { recursive: true, force: true });
});

interface Answer {
  results: { shape: number[]; one: number[]; pooled: number[] }[];
  threads: number;
  backend: { gemm: string; threads: number; reason: string };
  reason: string | null;
  warnings: string[];
  timing: { threads: number; ms: number }[] | null;
}

async function run(mode: 'isolated' | 'plain', request: object): Promise<{ isolated: boolean; answer: Answer; errors: string[] }> {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(`${origin}/${mode}/index.html`);
    await page.waitForFunction(() => typeof window.runGemm === 'function');
    const isolated = await page.evaluate(() => crossOriginIsolated);
    const answer = (await page.evaluate((r) => window.runGemm(r), request)) as Answer;
    return { isolated, answer, errors };
  } finally {
    await page.close();
  }
}

test('enableGemmThreads (browser): on a cross-origin-isolated page the Web Worker pool multiplies float32 bit-identically to one thread, and kernels.backend() reports its threads', async () => {
  // By rows (M ≥ N) and by columns (M < N), edges that are no multiple of the register tile, and more than one K slice.
  const shapes = [[64, 48, 40], [130, 300, 70], [20, 96, 300], [512, 512, 512], [257, 700, 129]];
  const timeShape = process.env.SEQGRAD_GEMM_TIMING ? 512 : undefined;
  const { isolated, answer, errors } = await run('isolated', { threads: 2, shapes, timeShape, timeThreads: [1, 2, 1, 2] });
  expect(isolated).toBe(true);
  expect(errors).toEqual([]);
  expect(answer.warnings).toEqual([]);
  expect(answer.reason).toBeNull();
  expect(answer.threads).toBe(2);
  expect(answer.backend.gemm).toBe('wasm-simd-threads');
  expect(answer.backend.threads).toBe(2);
  expect(answer.backend.reason).toMatch(/on 2 threads/);
  expect(answer.results.map((r) => r.shape)).toEqual(shapes);
  for (const r of answer.results) {
    expect(r.pooled.length).toBe(r.shape[0]! * r.shape[2]!);
    // Every bit of every element.
    expect(r.pooled).toEqual(r.one);
  }
  if (timeShape) console.log(`gemm ${timeShape}³ float32 in chromium, median ms by threads: ${JSON.stringify(answer.timing)}`);
}, 180_000);

test('enableGemmThreads (browser): a page without COOP/COEP says so once, naming both headers, and stays on one thread', async () => {
  const { isolated, answer, errors } = await run('plain', { threads: 2, shapes: [[64, 64, 64]], timeShape: 64, timeThreads: [2, 2] });
  expect(isolated).toBe(false);
  expect(errors).toEqual([]);
  expect(answer.warnings).toEqual([NOT_ISOLATED_MESSAGE]);
  expect(NOT_ISOLATED_MESSAGE).toMatch(/Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp/);
  expect(answer.reason).toBe(NOT_ISOLATED_MESSAGE);
  expect(answer.threads).toBe(1);
  expect(answer.backend.threads).toBe(1);
  expect(answer.backend.gemm).toBe('wasm-simd');
  expect(answer.results[0]!.pooled).toEqual(answer.results[0]!.one);
}, 120_000);
