/**
 * `pnpm bench:matmul`: GFLOP/s of C = A·B (square, float32) for the seqgrad GEMM kernels and
 * TensorFlow.js 4.22 (wasm, and cpu at the smaller sizes), all in one process, alternating.
 * "WASM 2 threads" is the WebAssembly GEMM split between this thread and a worker
 * (`@seqgrad/autograd/threads`) at every size (threshold 0), to show where splitting pays.
 *
 *   node dist/matmul.js [--sizes 64,128,256] [--budget 1000] [--quick] [--clock wall|cpu] [--threads 2]
 *
 * (`--threads 1` leaves the threaded column out.)
 *
 * Writes bench/results/matmul.md and matmul.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { kernels } from '@seqgrad/autograd';

type GemmKernel = kernels.GemmKernel;
import { gemmBaseline } from './src/gemmBaseline.js';
import { tf, useTfBackend } from './src/tf.js';
import { time } from './src/timing.js';
import { machine } from './src/machine.js';

interface Column {
  name: string;
  /** Returns a closure doing one multiply of two n×n matrices, or null to skip that size. */
  setup(n: number): Promise<(() => void) | null>;
  dispose?(): void;
}

function randomArray(len: number, f64: boolean, seed: number): Float32Array | Float64Array {
  const a = f64 ? new Float64Array(len) : new Float32Array(len);
  let s = seed >>> 0;
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

function kernelColumn(name: string, kernel: GemmKernel | undefined, f64: boolean, maxN: number): Column {
  return {
    name,
    async setup(n) {
      if (!kernel || n > maxN) return null;
      const A = randomArray(n * n, f64, 1);
      const B = randomArray(n * n, f64, 2);
      const C = f64 ? new Float64Array(n * n) : new Float32Array(n * n);
      return () => kernel(false, false, n, n, n, 1, A, 0, n, B, 0, n, 0, C, 0, n);
    },
  };
}

function tfColumn(backend: 'cpu' | 'wasm', maxN: number): Column {
  let held: tf.Tensor[] = [];
  return {
    name: `TF.js ${backend}`,
    async setup(n) {
      if (n > maxN) return null;
      await useTfBackend(backend);
      tf.dispose(held);
      const a = tf.tensor2d(randomArray(n * n, false, 1) as Float32Array, [n, n]);
      const b = tf.tensor2d(randomArray(n * n, false, 2) as Float32Array, [n, n]);
      held = [a, b];
      return () => {
        const c = tf.matMul(a, b);
        c.dataSync();
        c.dispose();
      };
    },
    dispose() {
      tf.dispose(held);
      held = [];
    },
  };
}

const threadedColumn = (threads: number) => `WASM ${threads} threads (f32)`;

export interface MatmulRow {
  n: number;
  gflops: Record<string, number | null>;
}

/** `threads` > 1 adds the column of the WebAssembly GEMM split between that many threads. */
export async function runMatmul(sizes: number[], budgetMs: number, clock: 'wall' | 'cpu' = 'wall', threads = 1): Promise<{ columns: string[]; rows: MatmulRow[] }> {
  const k = kernels as typeof kernels & { gemmWasm?: GemmKernel };
  // The threaded kernel goes through kernels.gemm; every other column calls its kernel directly.
  // Imported only when asked for: the vitest alias of @seqgrad/autograd does not map the subpath.
  let threaded: Column[] = [];
  if (threads > 1 && kernels.wasmSimdAvailable()) {
    const { enableGemmThreads } = await import('@seqgrad/autograd/threads');
    enableGemmThreads(threads, { minWork: 0 });
    threaded = [kernelColumn(threadedColumn(threads), kernels.gemm, false, 4096)];
  }
  const columns: Column[] = [
    kernelColumn('TS before (f32)', gemmBaseline, false, 2048),
    kernelColumn('TS now (f32)', kernels.gemmJs, false, 2048),
    kernelColumn('WASM SIMD (f32)', k.gemmWasm, false, 4096),
    ...threaded,
    tfColumn('wasm', 4096),
    tfColumn('cpu', 512),
    kernelColumn('TS now (f64)', kernels.gemmJs, true, 1024),
    kernelColumn('WASM SIMD (f64)', k.gemmWasm, true, 4096),
  ];
  const rows: MatmulRow[] = [];
  for (const n of sizes) {
    const row: MatmulRow = { n, gflops: {} };
    const flops = 2 * n * n * n;
    for (const col of columns) {
      const run = await col.setup(n);
      if (!run) {
        row.gflops[col.name] = null;
        continue;
      }
      const t = time(run, { minRuns: 3, budgetMs, tooSlowMs: 4000 });
      row.gflops[col.name] = flops / ((clock === 'cpu' ? t.medianCpuMs : t.medianMs) * 1e6);
      col.dispose?.();
    }
    rows.push(row);
    console.log(`n=${n}: ` + Object.entries(row.gflops).map(([c, g]) => `${c} ${g === null ? '–' : g.toFixed(2)}`).join(' | '));
  }
  return { columns: columns.map((c) => c.name), rows };
}

export function matmulMarkdown(columns: string[], rows: MatmulRow[], clock: 'wall' | 'cpu' = 'wall'): string {
  const wasm = 'WASM SIMD (f32)';
  const peer = 'TF.js wasm';
  const threaded = columns.find((c) => /^WASM \d+ threads/.test(c));
  const lines = [
    `GEMM C = A·B, n×n, GFLOP/s (2n³ / median ${clock === 'cpu' ? 'CPU' : 'wall-clock'} time), higher is better. ${machine()}`,
    '',
    `| n | ${columns.join(' | ')} | WASM / TF.js wasm |${threaded ? ` ${threaded.replace(' (f32)', '')} / 1 |` : ''}`,
    `|---|${columns.map(() => '---:').join('|')}|---:|${threaded ? '---:|' : ''}`,
  ];
  for (const r of rows) {
    const cells = columns.map((c) => (r.gflops[c] == null ? '–' : r.gflops[c]!.toFixed(2)));
    const w = r.gflops[wasm];
    const p = r.gflops[peer];
    const t = threaded ? r.gflops[threaded] : undefined;
    lines.push(`| ${r.n} | ${cells.join(' | ')} | ${w && p ? `${(w / p).toFixed(2)}×` : '–'} |${threaded ? ` ${w && t ? `${(t / w).toFixed(2)}×` : '–'} |` : ''}`);
  }
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const quick = args.includes('--quick');
  const sizes = (arg('--sizes') ?? (quick ? '64,128' : '64,128,256,512,1024,2048')).split(',').map(Number);
  const budget = Number(arg('--budget') ?? (quick ? 100 : 1500));
  const clock = arg('--clock') === 'cpu' ? 'cpu' : 'wall';
  const threads = Number(arg('--threads') ?? 2);
  const { columns, rows } = await runMatmul(sizes, budget, clock, threads);
  const md = matmulMarkdown(columns, rows, clock);
  console.log('\n' + md);
  const out = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../results/' : './results/', import.meta.url));
  mkdirSync(out, { recursive: true });
  writeFileSync(out + 'matmul.md', md);
  writeFileSync(out + 'matmul.json', JSON.stringify({ date: new Date().toISOString(), machine: machine(), columns, rows }, null, 2) + '\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
