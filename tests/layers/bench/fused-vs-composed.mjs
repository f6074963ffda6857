// Fused vs composed LSTM training step (forward + backward of a sum-of-squares loss), float32.
// Run after a build:  npx tsc -b && node tests/layers/bench/fused-vs-composed.mjs
// Prints the median of several runs of each implementation, interleaved so both see the same machine load.
import { Generator, randn } from '@seqgrad/autograd';
import { LSTM } from '@seqgrad/layers';

const sizes = (process.argv[2] ? JSON.parse(process.argv[2]) : [
  { B: 8, T: 20, I: 16, H: 32 },
  { B: 32, T: 50, I: 64, H: 128 },
  { B: 16, T: 200, I: 32, H: 64 },
]);
const runs = Number(process.env.RUNS ?? 7);

function stepTimer(impl, { B, T, I, H }) {
  const lstm = new LSTM(I, H, { impl, generator: new Generator(1) });
  const x = randn([B, T, I], { generator: new Generator(2) });
  return () => {
    const t0 = performance.now();
    lstm.zeroGrad();
    lstm.forward(x).output.square().sum().backward();
    return performance.now() - t0;
  };
}

const median = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
for (const size of sizes) {
  const fused = stepTimer('fused', size);
  const composed = stepTimer('composed', size);
  fused(); composed(); // warm-up
  const tf = [], tc = [];
  for (let r = 0; r < runs; r++) { tf.push(fused()); tc.push(composed()); }
  const mf = median(tf), mc = median(tc);
  console.log(`B=${size.B} T=${size.T} I=${size.I} H=${size.H}: fused ${mf.toFixed(1)} ms, composed ${mc.toFixed(1)} ms, speed-up ${(mc / mf).toFixed(2)}x (median of ${runs})`);
}
