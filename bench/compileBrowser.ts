/**
 * The compiled-cell benchmark in Chromium and in Node, same module (src/compilePeers.ts), same
 * clock (wall time, performance.now: a page has no CPU clock): the compiled cells against the
 * fused LSTM in each, and the ratios side by side. Chromium is Debian's (/usr/bin/chromium or
 * SEQGRAD_CHROMIUM), driven by playwright-core; the page is bundled by esbuild.
 *
 *   npx tsc -b bench && node bench/dist/compileBrowser.js [--sizes S] [--rounds 5]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compilePeers, type PeerResult, runRounds } from './src/compilePeers.js';
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
interface Chromium {
  launchPersistentContext(dir: string, opts: { executablePath: string; headless: boolean; args: string[] }): Promise<{
    newPage(): Promise<{
      addScriptTag(opts: { content: string }): Promise<unknown>;
      evaluate<A, R>(fn: (arg: A) => R, arg: A): Promise<R>;
    }>;
    browser(): { version(): string } | null;
    close(): Promise<void>;
  }>;
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
    for (const s of sizes) {
      const d = SIZES[s]!;
      const reps = s === 'S' ? 7 : 3;
      const web = await page.evaluate(([size, r, k]: readonly [string, number, number]) => (globalThis as unknown as {
        runCompileBench: (s: string, r: number, k: number) => PeerResult[];
      }).runCompileBench(size, r, k), [s, rounds, reps] as const);
      const node = runRounds(compilePeers(d, { compiledOnly: true }), rounds, reps, () => performance.now());
      console.log(`size ${s} (B=${d.B}, T=${d.T}, I=${d.I}, H=${d.H}), float32 training step, wall ms, median of ${rounds} rounds × ${reps}, Chromium ${context.browser()?.version() ?? ''} and Node ${process.version}`);
      console.log('| peer | Node ms | × fused (Node) | Chromium ms | × fused (Chromium) | Chromium / Node |');
      console.log('|---|---:|---:|---:|---:|---:|');
      node.forEach((n, i) => {
        const w = web[i]!;
        console.log(`| ${n.name} | ${n.ms.toFixed(1)} | ${n.ratio.toFixed(2)} | ${w.ms.toFixed(1)} | ${w.ratio.toFixed(2)} | ${(w.ms / n.ms).toFixed(2)} |`);
      });
    }
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

await main();
