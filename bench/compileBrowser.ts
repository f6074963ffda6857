/**
 * The compiled-cell benchmark in Chromium and in Node, same module (src/compilePeers.ts): the
 * compiled cells against the fused LSTM in each, and the ratios side by side. Time is CPU time
 * of the thread that runs the steps: the renderer's main thread in Chromium (the DevTools
 * protocol's ThreadTime metric), the process in Node (process.cpuUsage); per round and peer,
 * the mean of `reps` steps, rounds alternating between the peers; medians over rounds. Chromium
 * is Debian's (/usr/bin/chromium or SEQGRAD_CHROMIUM) driven by playwright-core; the page is
 * bundled by esbuild.
 *
 *   npx tsc -b bench && node bench/dist/compileBrowser.js [--sizes S] [--rounds 5]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compilePeers, median } from './src/compilePeers.js';
import { SIZES } from './src/workloads.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const req = createRequire(join(root, 'packages/cli/package.json'));

function args(): { sizes: string[]; rounds: number } {
  const a = process.argv.slice(2);
  const get = (k: string) => {
    const i = a.indexOf(k);
    return i >= 0 ? a[i + 1] : undefined;
  };
  return { sizes: (get('--sizes') ?? 'S').split(','), rounds: Number(get('--rounds') ?? 5) };
}

/** The part of playwright-core this script uses (a devDependency of the seqgrad CLI package, not of the bench). */
interface Page {
  addScriptTag(opts: { content: string }): Promise<unknown>;
  evaluate<A, R>(fn: (arg: A) => R, arg: A): Promise<R>;
}
interface Chromium {
  launchPersistentContext(dir: string, opts: { executablePath: string; headless: boolean; args: string[] }): Promise<{
    newPage(): Promise<Page>;
    newCDPSession(page: Page): Promise<{ send(method: string, params?: object): Promise<{ metrics?: { name: string; value: number }[] }> }>;
    browser(): { version(): string } | null;
    close(): Promise<void>;
  }>;
}

type Window = { setupPeers: (size: string) => string[]; runPeer: (i: number, reps: number) => void };

/** Per peer: the median over rounds of the mean CPU ms of `reps` steps, after one untimed step each. */
async function measure(count: number, rounds: number, reps: number, run: (i: number, reps: number) => Promise<void>, cpuMs: () => Promise<number>): Promise<number[]> {
  for (let i = 0; i < count; i++) await run(i, 1);
  const per: number[][] = Array.from({ length: count }, () => []);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < count; i++) {
      const c0 = await cpuMs();
      await run(i, reps);
      per[i]!.push(((await cpuMs()) - c0) / reps);
    }
  }
  return per.map(median);
}

async function main(): Promise<void> {
  const { sizes, rounds } = args();
  const { build } = req('esbuild') as typeof import('esbuild');
  const bundle = await build({
    entryPoints: [join(root, 'bench/dist/src/compileBrowserEntry.js')], bundle: true, format: 'iife', platform: 'browser', write: false, logLevel: 'silent',
  });
  const { chromium } = req('playwright-core') as { chromium: Chromium };
  const profile = mkdtempSync(join(tmpdir(), 'seqgrad-bench-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.SEQGRAD_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  try {
    const page = await context.newPage();
    await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const pageCpuMs = async () => 1000 * ((await cdp.send('Performance.getMetrics')).metrics!.find((m) => m.name === 'ThreadTime')?.value ?? NaN);
    const nodeCpuMs = async () => {
      const c = process.cpuUsage();
      return (c.user + c.system) / 1000;
    };
    for (const s of sizes) {
      const d = SIZES[s]!;
      const reps = s === 'S' ? 7 : 3;
      const names = await page.evaluate((size: string) => (globalThis as unknown as Window).setupPeers(size), s);
      const web = await measure(names.length, rounds, reps, (i, k) => page.evaluate(([j, n]: readonly [number, number]) => (globalThis as unknown as Window).runPeer(j, n), [i, k] as const), pageCpuMs);
      const peers = compilePeers(d, { compiledOnly: true });
      const node = await measure(peers.length, rounds, reps, async (i, k) => {
        for (let j = 0; j < k; j++) peers[i]![1]();
      }, nodeCpuMs);
      console.log(`size ${s} (B=${d.B}, T=${d.T}, I=${d.I}, H=${d.H}), float32 training step, CPU ms, median of ${rounds} rounds of the mean of ${reps} steps; Chromium ${context.browser()?.version() ?? ''}, Node ${process.version}`);
      console.log('| peer | Node ms | × fused (Node) | Chromium ms | × fused (Chromium) | Chromium / Node |');
      console.log('|---|---:|---:|---:|---:|---:|');
      names.forEach((name, i) => {
        console.log(`| ${name} | ${node[i]!.toFixed(1)} | ${(node[i]! / node[0]!).toFixed(2)} | ${web[i]!.toFixed(1)} | ${(web[i]! / web[0]!).toFixed(2)} | ${(web[i]! / node[i]!).toFixed(2)} |`);
      });
    }
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

await main();
