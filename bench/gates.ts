/**
 * The fused layers' gate loops in WebAssembly against the TypeScript loops, alternating in one
 * process (kernels.setWasmGates), CPU time of this process per step (user + system), median of
 * the rounds, and the ratio of every round. Each variant runs untimed steps after the switch and
 * no GC is forced: a forced full GC slows the steps right after it (the WebAssembly ones more, at
 * S about 2× for the next ten steps), which a training loop does not do every few steps.
 *
 *   npx tsc -b bench && node bench/dist/gates.js --sizes S,M --layers LSTM,GRU,RNN --modes train,forward --rounds 5
 */
import { kernels } from '@seqgrad/autograd';
import { seqgradRunner } from './src/seqgradRunner.js';
import { median, medianCpuMs } from './src/timing.js';
import { sweepArgs } from './src/sweepArgs.js';
import { SIZES } from './src/workloads.js';

const { sizes, layers, modes, rounds } = sweepArgs(process.argv.slice(2));

console.log(`| layer | size | mode | TypeScript gates, CPU ms | WebAssembly gates, CPU ms | speed-up | per round |`);
console.log(`|---|---|---|---:|---:|---:|---|`);
for (const size of sizes) {
  const d = SIZES[size]!;
  for (const layer of layers) {
    for (const mode of modes) {
      const runner = seqgradRunner(layer, d, mode, 'fused');
      const per = d.B * d.T * d.H < 100_000 ? 15 : 3;
      const js: number[] = [];
      const wasm: number[] = [];
      for (let r = 0; r < rounds; r++) {
        for (const on of [false, true]) {
          kernels.setWasmGates(on);
          for (let i = 0; i < 3; i++) runner.step(); // untimed, after the switch
          (on ? wasm : js).push(medianCpuMs(() => runner.step(), per));
        }
      }
      kernels.setWasmGates(true);
      const ratios = js.map((v, i) => (v / wasm[i]!).toFixed(2));
      console.log(`| ${layer} | ${size} | ${mode} | ${median(js).toFixed(1)} | ${median(wasm).toFixed(1)} | ${(median(js) / median(wasm)).toFixed(2)}× | ${ratios.join(', ')} |`);
    }
  }
}
