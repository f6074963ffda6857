/**
 * Training step of custom cells run by scan compiled vs op by op, next to the fused LSTM, in
 * one process, rounds alternating between the peers; medians of per-round medians of the
 * process's CPU time (user + system), which a machine shared with other work disturbs less
 * than wall time. Then, with the kernels warm, the first step of a new shape against a steady
 * one (trace and plan build reported apart), and the bytes a step allocates at T and 4T.
 *
 *   npx tsc -b bench && node --expose-gc bench/dist/compile.js [--sizes S,M] [--rounds 5] [--no-first] [--no-memory]
 */
import { Tensor, type Tensor as T } from '@seqgrad/autograd';
import { LSTMCell, LayerNormLSTMCell, Recurrent, type RecurrentCell } from '@seqgrad/layers';
import { CoupledLSTMCell, compilePeers, median, runRounds, trainStep } from './src/compilePeers.js';
import { type Dims, SIZES, filledArray } from './src/workloads.js';

type LSTMState = { h: T; c: T };

function args(): { sizes: string[]; rounds: number; first: boolean; memory: boolean } {
  const a = process.argv.slice(2);
  const get = (k: string) => {
    const i = a.indexOf(k);
    return i >= 0 ? a[i + 1] : undefined;
  };
  return {
    sizes: (get('--sizes') ?? 'S').split(','), rounds: Number(get('--rounds') ?? 5),
    first: !a.includes('--no-first'), memory: !a.includes('--no-memory'),
  };
}

const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
const gc = (globalThis as { gc?: () => void }).gc;

const cells: [string, (d: Dims) => RecurrentCell<LSTMState>][] = [
  ['LSTMCell', (d) => new LSTMCell(d.I, d.H) as unknown as RecurrentCell<LSTMState>],
  ['coupled-gate LSTM cell', (d) => new CoupledLSTMCell(d.I, d.H)],
  ['LayerNormLSTMCell', (d) => new LayerNormLSTMCell(d.I, d.H)],
];

function input(d: Dims, B: number, T: number): Tensor {
  return new Tensor(filledArray(B * T * d.I, 11), [B, T, d.I], true);
}

/**
 * The first training step of a shape the layer has not seen (batch B + 1, after steps at B
 * warmed the kernels), against the median of the 7 steps that follow it.
 */
function firstStep(s: string, d: Dims): void {
  console.log(`\nfirst step of a new shape at ${s} (B=${d.B + 1}, after warm-up at B=${d.B}), CPU ms; trace and plan build from explain(), wall ms`);
  console.log('| cell, compiled | trace | plan build | first step | steady step | first / steady |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [name, make] of cells) {
    const r = new Recurrent(make(d));
    const warm = input(d, d.B, d.T);
    const stepWarm = trainStep((v) => r.forward(v).output, () => r.parameters(), warm);
    for (let i = 0; i < 5; i++) stepWarm();
    const x = input(d, d.B + 1, d.T);
    const step = trainStep((v) => r.forward(v).output, () => r.parameters(), x);
    gc?.();
    const c0 = cpuMs();
    step();
    const first = cpuMs() - c0;
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const c1 = cpuMs();
      step();
      times.push(cpuMs() - c1);
    }
    const steady = median(times);
    const plan = r.explain(x).plan!;
    console.log(`| ${name} | ${plan.traceMs.toFixed(1)} | ${plan.buildMs.toFixed(1)} | ${first.toFixed(1)} | ${steady.toFixed(1)} | ${(first / steady).toFixed(2)} |`);
  }
}

/**
 * Bytes of typed arrays a call of `fn` makes: through the constructors (wrapped for the call)
 * and through slice/map of an existing array (the engine copies a leaf's gradient so).
 */
function typedBytes(fn: () => void): { arrays: number; bytes: number } {
  const g = globalThis as unknown as Record<string, unknown>;
  const ctors = { Float32Array, Float64Array, Int32Array };
  const proto = Object.getPrototypeOf(Float32Array.prototype) as { slice: (...a: unknown[]) => Float32Array; map: (...a: unknown[]) => Float32Array };
  const { slice, map } = proto;
  let arrays = 0;
  let bytes = 0;
  const note = (a: { byteLength: number }) => {
    arrays++;
    bytes += a.byteLength;
    return a;
  };
  for (const [k, C] of Object.entries(ctors)) {
    g[k] = new Proxy(C, { construct: (target, a, nt) => note(Reflect.construct(target, a, nt) as Float32Array) });
  }
  proto.slice = function (this: unknown, ...a: unknown[]) { return note(slice.apply(this, a)) as Float32Array; };
  proto.map = function (this: unknown, ...a: unknown[]) { return note(map.apply(this, a)) as Float32Array; };
  try {
    fn();
  } finally {
    Object.assign(g, ctors);
    proto.slice = slice;
    proto.map = map;
  }
  return { arrays, bytes };
}

/** Typed arrays a steady training step allocates at T and 4T. */
function memory(s: string, d: Dims): void {
  console.log(`
typed arrays allocated by one steady training step at ${s}, T = ${d.T} and ${4 * d.T} (float32)`);
  console.log('| cell, compiled | arrays at T | at 4T | KiB at T | KiB at 4T | growth, KiB | of which dx, x.grad, output, d output, KiB |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const [name, make] of cells) {
    const r = new Recurrent(make(d));
    const at = (T: number) => {
      const step = trainStep((v) => r.forward(v).output, () => r.parameters(), input(d, d.B, T));
      for (let i = 0; i < 3; i++) step();
      return typedBytes(step);
    };
    const a = at(d.T);
    const b = at(4 * d.T);
    // Arrays of T·B rows a step makes whatever the plan does: x's gradient and the engine's
    // copy of it as x.grad (I each), the output and its gradient from sum (H each).
    const io = (3 * d.T * d.B * 4 * (2 * d.I + 2 * d.H)) / 1024;
    const kib = (v: number) => (v / 1024).toFixed(0);
    console.log(`| ${name} | ${a.arrays} | ${b.arrays} | ${kib(a.bytes)} | ${kib(b.bytes)} | ${kib(b.bytes - a.bytes)} | ${io.toFixed(0)} |`);
  }
}

const { sizes, rounds, first, memory: mem } = args();
for (const s of sizes) {
  const d = SIZES[s]!;
  const reps = s === 'S' ? 7 : 3;
  const results = runRounds(compilePeers(d), rounds, reps, cpuMs, gc);
  console.log(`size ${s} (B=${d.B}, T=${d.T}, I=${d.I}, H=${d.H}), float32 training step, CPU ms of this process, median of ${rounds} rounds × ${reps}`);
  console.log('| peer | CPU ms | × fused LSTM | first call, CPU ms |');
  console.log('|---|---:|---:|---:|');
  for (const r of results) console.log(`| ${r.name} | ${r.ms.toFixed(1)} | ${r.ratio.toFixed(2)} | ${r.firstMs.toFixed(1)} |`);
  if (first) firstStep(s, d);
  if (mem) memory(s, d);
  console.log('');
}
