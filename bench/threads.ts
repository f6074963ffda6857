/**
 * The fused layers' training step on one thread and on two, alternating in one process: wall and
 * CPU ms per step (CPU: user + system of this process, every thread), medians over the rounds.
 *
 * Configurations:
 * - `1 thread`: no worker threads (as SEQGRAD_NUM_THREADS=1);
 * - `2, repacked`: two threads, with the per-step recurrent products (`kernels.gemmPacked`) given
 *   to the threaded GEMM on their source, so every step stages op(B) and each thread packs its
 *   columns again (what a kernel installed over the threads with `setGemmKernel` gets);
 * - `2, packed on 1`: two threads for the other products, the recurrent ones on one thread over
 *   the packed operand (`packedMinWork: Infinity`);
 * - `2, split ≥ 2²²`: two threads, recurrent products of at least 2²² multiply-adds split over the
 *   shared packed copy;
 * - `2, packed split`: the default, the same from 2²¹ (`kernels.THRESHOLDS.threadsPackedMinWork`);
 * - `2, all split`: the same with `packedMinWork: 0` (every recurrent product split).
 *
 *   npx tsc -b bench && node bench/dist/threads.js --sizes S,M --layers LSTM,GRU,RNN --rounds 5
 */
import { kernels } from '@seqgrad/autograd';
import { disableGemmThreads, enableGemmThreads } from '@seqgrad/autograd/threads';
import { seqgradRunner } from './src/seqgradRunner.js';
import { median } from './src/timing.js';
import { sweepArgs } from './src/sweepArgs.js';
import { SIZES } from './src/workloads.js';

const { sizes, layers, rounds } = sweepArgs(process.argv.slice(2));

interface Config {
  name: string;
  apply(): void;
}
const configs: Config[] = [
  { name: '1 thread', apply: () => disableGemmThreads() },
  {
    name: '2, repacked',
    apply: () => {
      enableGemmThreads(2);
      const threaded = kernels.backend().threads > 1 ? captureKernel() : null;
      if (threaded) kernels.setGemmKernel((...a) => threaded(...a));
    },
  },
  { name: '2, packed on 1', apply: () => enableGemmThreads(2, { packedMinWork: Infinity }) },
  { name: '2, split ≥ 2²²', apply: () => enableGemmThreads(2, { packedMinWork: 1 << 22 }) },
  { name: '2, packed split', apply: () => enableGemmThreads(2) },
  { name: '2, all split', apply: () => enableGemmThreads(2, { packedMinWork: 0 }) },
];

/** The kernel in place now (the threaded one), read by swapping it out and back. */
function captureKernel(): kernels.GemmKernel {
  const k = kernels.setGemmKernel(kernels.gemmWasm!);
  kernels.setGemmKernel(k);
  return k;
}

console.log(`| layer | size | ${configs.map((c) => `${c.name}: wall / CPU ms`).join(' | ')} |`);
console.log(`|---|---|${configs.map(() => '---:|').join('')}`);
for (const size of sizes) {
  const d = SIZES[size]!;
  for (const layer of layers) {
    const runner = seqgradRunner(layer, d, 'train', 'fused');
    const per = d.B * d.T * d.H < 100_000 ? 15 : size === 'L' ? 2 : 5;
    const wall = configs.map((): number[] => []);
    const cpu = configs.map((): number[] => []);
    for (let r = 0; r < rounds; r++) {
      for (const [i, c] of configs.entries()) {
        disableGemmThreads();
        kernels.setGemmKernel(kernels.gemmWasm!); // removes the wrapper of '2, repacked', which disableGemmThreads leaves in place
        c.apply();
        for (let k = 0; k < (size === 'L' ? 2 : 5); k++) runner.step(); // untimed, after the switch (the pool starts)
        for (let k = 0; k < per; k++) {
          const t0 = performance.now();
          const c0 = process.cpuUsage();
          runner.step();
          const used = process.cpuUsage(c0);
          wall[i]!.push(performance.now() - t0);
          cpu[i]!.push((used.user + used.system) / 1000);
        }
      }
    }
    disableGemmThreads();
    kernels.setGemmKernel(kernels.gemmWasm!);
    runner.dispose();
    const cell = (i: number) => `${median(wall[i]!).toFixed(1)} / ${median(cpu[i]!).toFixed(1)}`;
    console.log(`| ${layer} | ${size} | ${configs.map((_, i) => cell(i)).join(' | ')} |`);
  }
}
