/**
 * The peers of the compiled-cell benchmark, shared by Node (compile.ts) and Chromium
 * (compileBrowser.ts runs this module bundled in a page): training steps of custom cells run
 * by scan compiled and op by op, next to the fused LSTM. No Node built-in is imported here.
 */
import { type FloatDType, type Generator, Tensor, add, chunk, linear, mul, sigmoid, sub, tanh, zeros } from '@seqgrad/autograd';
import { LSTM, LayerNormLSTMCell, Recurrent, RecurrentCell, init } from '@seqgrad/layers';
import { type Dims, filledArray } from './workloads.js';

type LSTMState = { h: Tensor; c: Tensor };

/** LSTM with coupled input and forget gates (f = 1 − i): three gate blocks i, g, o. */
export class CoupledLSTMCell extends RecurrentCell<LSTMState> {
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

export type Peer = [name: string, step: () => void];

/** One training step: forward, sum of the outputs, backward to x and every weight. */
export function trainStep(forward: (x: Tensor) => Tensor, params: () => Tensor[], x: Tensor): () => void {
  return () => {
    for (const p of params()) p.grad = null;
    x.grad = null;
    forward(x).sum().backward();
  };
}

/** The fused LSTM first (the baseline of the ratios), then each cell compiled and, unless `compiledOnly`, op by op. */
export function compilePeers(d: Dims, opts: { compiledOnly?: boolean } = {}): Peer[] {
  const x = new Tensor(filledArray(d.B * d.T * d.I, 11), [d.B, d.T, d.I], true);
  const out: Peer[] = [];
  const fused = new LSTM(d.I, d.H, { impl: 'fused' });
  out.push(['LSTM fused', trainStep((v) => fused.forward(v).output, () => fused.parameters(), x)]);
  const modes = opts.compiledOnly ? [true] : [true, false];
  const how = (compile: boolean) => (compile ? 'compiled' : 'op by op');
  for (const compile of modes) {
    const lstm = new LSTM(d.I, d.H, { impl: 'composed', compile });
    out.push([`LSTM composed, ${how(compile)}`, trainStep((v) => lstm.forward(v).output, () => lstm.parameters(), x)]);
  }
  for (const compile of modes) {
    const r = new Recurrent(new CoupledLSTMCell(d.I, d.H), { compile });
    out.push([`coupled-gate LSTM cell, ${how(compile)}`, trainStep((v) => r.forward(v).output, () => r.parameters(), x)]);
  }
  for (const compile of modes) {
    const r = new Recurrent(new LayerNormLSTMCell(d.I, d.H), { compile });
    out.push([`LayerNormLSTMCell, ${how(compile)}`, trainStep((v) => r.forward(v).output, () => r.parameters(), x)]);
  }
  return out;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface PeerResult {
  name: string;
  ms: number;
  ratio: number;
  firstMs: number;
}

/**
 * The first call of each peer, then `rounds` rounds alternating between the peers, each
 * `reps` steps; the median of the per-round medians, and the ratio to the first peer.
 */
export function runRounds(list: Peer[], rounds: number, reps: number, clock: () => number, gc?: () => void): PeerResult[] {
  const first = list.map(([, fn]) => {
    const c0 = clock();
    fn();
    return clock() - c0;
  });
  const perRound: number[][] = list.map(() => []);
  for (let r = 0; r < rounds; r++) {
    list.forEach(([, fn], i) => {
      gc?.();
      const times: number[] = [];
      for (let k = 0; k < reps; k++) {
        const c0 = clock();
        fn();
        times.push(clock() - c0);
      }
      perRound[i]!.push(median(times));
    });
  }
  const base = median(perRound[0]!);
  return list.map(([name], i) => ({ name, ms: median(perRound[i]!), ratio: median(perRound[i]!) / base, firstMs: first[i]! }));
}
