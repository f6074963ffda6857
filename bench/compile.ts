/**
 * Training step of custom cells run by scan compiled vs op by op, next to the fused LSTM, in
 * one process, rounds alternating between the peers; medians of per-round medians of the
 * process's CPU time (user + system), which a machine shared with other work disturbs less
 * than wall time.
 *
 *   npx tsc -b bench && node --expose-gc bench/dist/compile.js [--sizes S,M] [--rounds 5]
 */
import { type FloatDType, type Generator, Tensor, add, chunk, linear, mul, sigmoid, sub, tanh, zeros } from '@seqgrad/autograd';
import { LSTM, LayerNormLSTMCell, Recurrent, RecurrentCell, init } from '@seqgrad/layers';
import { median, medianCpuMs } from './src/timing.js';
import { type Dims, SIZES, filledArray } from './src/workloads.js';

type LSTMState = { h: Tensor; c: Tensor };

/** LSTM with coupled input and forget gates (f = 1 − i): three gate blocks i, g, o. */
class CoupledLSTMCell extends RecurrentCell<LSTMState> {
  readonly stateSizes = { h: this.hiddenSize, c: this.hiddenSize };
  readonly weightIh: Tensor;
  readonly weightHh: Tensor;
  readonly bias: Tensor;
  constructor(inputSize: number, hiddenSize: number, opts: { dtype?: FloatDType; generator?: Generator } = {}) {
    super(inputSize, hiddenSize, opts);
    const H = hiddenSize;
    this.weightIh = this.registerParameter('weight_ih', zeros([3 * H, inputSize], { dtype: this.dtype }));
    this.weightHh = this.registerParameter('weight_hh', zeros([3 * H, H], { dtype: this.dtype }));
    this.bias = this.registerParameter('bias', zeros([3 * H], { dtype: this.dtype }));
    this.resetParameters(opts.generator);
  }
  override resetParameters(generator?: Generator): void {
    const k = 1 / Math.sqrt(this.hiddenSize);
    for (const t of [this.weightIh, this.weightHh, this.bias]) init.uniform(t, -k, k, { generator });
  }
  step(x: Tensor, { h, c }: LSTMState): LSTMState {
    const [ai, ag, ao] = chunk(add(linear(x, this.weightIh, this.bias), linear(h, this.weightHh)), 3, -1) as [Tensor, Tensor, Tensor];
    const i = sigmoid(ai);
    const cNext = add(c, mul(i, sub(tanh(ag), c))); // (1 − i) c + i g
    return { h: mul(sigmoid(ao), tanh(cNext)), c: cNext };
  }
}

function args(): { sizes: string[]; rounds: number } {
  const a = process.argv.slice(2);
  const get = (k: string) => {
    const i = a.indexOf(k);
    return i >= 0 ? a[i + 1] : undefined;
  };
  return { sizes: (get('--sizes') ?? 'S').split(','), rounds: Number(get('--rounds') ?? 5) };
}

function trainStep(forward: (x: Tensor) => Tensor, params: () => Tensor[], x: Tensor): () => void {
  return () => {
    for (const p of params()) p.grad = null;
    x.grad = null;
    forward(x).sum().backward();
  };
}

function peers(d: Dims): [string, () => void][] {
  const x = new Tensor(filledArray(d.B * d.T * d.I, 11), [d.B, d.T, d.I], true);
  const out: [string, () => void][] = [];
  const fused = new LSTM(d.I, d.H, { impl: 'fused' });
  out.push(['LSTM fused', trainStep((v) => fused.forward(v).output, () => fused.parameters(), x)]);
  for (const compile of [true, false]) {
    const lstm = new LSTM(d.I, d.H, { impl: 'composed', compile });
    out.push([`LSTM composed, ${compile ? 'compiled' : 'op by op'}`, trainStep((v) => lstm.forward(v).output, () => lstm.parameters(), x)]);
  }
  for (const compile of [true, false]) {
    const r = new Recurrent(new CoupledLSTMCell(d.I, d.H), { compile });
    out.push([`coupled-gate LSTM cell, ${compile ? 'compiled' : 'op by op'}`, trainStep((v) => r.forward(v).output, () => r.parameters(), x)]);
  }
  for (const compile of [true, false]) {
    const r = new Recurrent(new LayerNormLSTMCell(d.I, d.H), { compile });
    out.push([`LayerNormLSTMCell, ${compile ? 'compiled' : 'op by op'}`, trainStep((v) => r.forward(v).output, () => r.parameters(), x)]);
  }
  return out;
}

const { sizes, rounds } = args();
const gc = (globalThis as { gc?: () => void }).gc;
for (const s of sizes) {
  const d = SIZES[s]!;
  const list = peers(d);
  // First call: tracing and building the plan, then the step itself.
  const first = list.map(([, fn]) => {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000;
  });
  const perRound: number[][] = list.map(() => []);
  const reps = s === 'S' ? 7 : 3;
  for (let r = 0; r < rounds; r++) {
    list.forEach(([, fn], i) => {
      gc?.();
      perRound[i]!.push(medianCpuMs(fn, reps));
    });
  }
  const base = median(perRound[0]!);
  console.log(`size ${s} (B=${d.B}, T=${d.T}, I=${d.I}, H=${d.H}), float32 training step, CPU ms of this process, median of ${rounds} rounds × ${reps}`);
  console.log('| peer | CPU ms | × fused LSTM | first call, CPU ms |');
  console.log('|---|---:|---:|---:|');
  list.forEach(([name], i) => {
    const m = median(perRound[i]!);
    console.log(`| ${name} | ${m.toFixed(1)} | ${(m / base).toFixed(2)} | ${first[i]!.toFixed(1)} |`);
  });
}
