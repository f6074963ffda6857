/**
 * Shared pieces of the learning tests: seeded task generators and a small training loop.
 * Everything is float32 with small hidden sizes so that each test stays well under a minute.
 */
import { Generator, Tensor, narrow, noGrad, reshape, tensor } from '@seqgrad/autograd';
import { GRU, LSTM, Linear, RNN, type Module } from '@seqgrad/layers';

export type Kind = 'LSTM' | 'GRU' | 'RNN';

export interface SeqModelOptions {
  /** LSTM: initial forget-gate bias (the course recommends 1–2; PyTorch's default init otherwise). */
  forgetBias?: number;
  /** RNN: 'tanh' (default) or 'relu'. */
  nonlinearity?: 'tanh' | 'relu';
}

/** A recurrent layer (batch first) with a linear read-out, initialised from `seed`. */
export class SeqModel {
  readonly rnn: LSTM | GRU | RNN;
  readonly head: Linear;
  constructor(kind: Kind, inputSize: number, hiddenSize: number, outputSize: number, seed: number, opts: SeqModelOptions = {}) {
    const generator = new Generator(seed);
    const base = { batchFirst: true, generator } as const;
    this.rnn =
      kind === 'LSTM' ? new LSTM(inputSize, hiddenSize, { ...base, forgetBias: opts.forgetBias })
      : kind === 'GRU' ? new GRU(inputSize, hiddenSize, base)
      : new RNN(inputSize, hiddenSize, { ...base, nonlinearity: opts.nonlinearity });
    this.head = new Linear(hiddenSize, outputSize, { generator });
  }
  parameters(): Tensor[] {
    return [...(this.rnn as Module).parameters(), ...this.head.parameters()];
  }
  /** (B, T, I) → (B, T, H) hidden states. */
  hidden(x: Tensor): Tensor {
    return this.rnn.forward(x).output;
  }
  /** The read-out of every step: (B, T, O). */
  forward(x: Tensor): Tensor {
    return this.head.forward(this.hidden(x));
  }
  /** The read-out of the last step only: (B, O). */
  forwardLast(x: Tensor): Tensor {
    const h = this.hidden(x);
    const [B, T, H] = h.shape as [number, number, number];
    return this.head.forward(reshape(narrow(h, 1, T - 1, 1), [B, H]));
  }
}

/**
 * Delayed echo: a stream of random symbols from `vocab`, one-hot; the target at step t is the
 * symbol seen at t − k (steps t < k have no target). x (B, T, vocab), targets (B·(T − k)) int32.
 */
export function delayedEcho(gen: Generator, B: number, T: number, vocab: number, k: number): { x: Tensor; target: Tensor } {
  const x = new Float32Array(B * T * vocab);
  const target = new Int32Array(B * (T - k));
  for (let b = 0; b < B; b++) {
    const symbols = Array.from({ length: T }, () => gen.integer(0, vocab));
    symbols.forEach((s, t) => (x[(b * T + t) * vocab + s] = 1));
    for (let t = k; t < T; t++) target[b * (T - k) + (t - k)] = symbols[t - k]!;
  }
  return { x: tensor(x, { shape: [B, T, vocab] }), target: tensor(target, { shape: [B * (T - k)] }) };
}

/**
 * The adding problem (Hochreiter & Schmidhuber 1997): channel 0 holds U(0, 1) values, channel 1
 * marks two steps, one in each half; the target is the sum of the two marked values.
 * Predicting the mean (1) scores MSE = Var = 2/12 ≈ 0.167. x (B, T, 2), target (B, 1).
 */
export function addingProblem(gen: Generator, B: number, T: number): { x: Tensor; target: Tensor } {
  const x = new Float32Array(B * T * 2);
  const target = new Float32Array(B);
  const half = Math.floor(T / 2);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) x[(b * T + t) * 2] = gen.uniform();
    const i = gen.integer(0, half);
    const j = gen.integer(half, T);
    x[(b * T + i) * 2 + 1] = 1;
    x[(b * T + j) * 2 + 1] = 1;
    target[b] = x[(b * T + i) * 2]! + x[(b * T + j) * 2]!;
  }
  return { x: tensor(x, { shape: [B, T, 2] }), target: tensor(target, { shape: [B, 1] }) };
}

/** Fraction of rows of `logits` (N, C) whose argmax equals `target` (N). */
export function accuracy(logits: Tensor, target: Tensor): number {
  return noGrad(() => {
    const [N, C] = logits.shape as [number, number];
    let hits = 0;
    for (let n = 0; n < N; n++) {
      let best = 0;
      for (let c = 1; c < C; c++) if (logits.data[n * C + c]! > logits.data[n * C + best]!) best = c;
      if (best === target.data[n]) hits++;
    }
    return hits / N;
  });
}

export const seconds = (start: number) => ((performance.now() - start) / 1000).toFixed(1);

/**
 * Sum of a random walk: x_t ~ U(−1, 1) on one channel, target Σ x_t / √(T/3) (unit variance,
 * so predicting 0 scores MSE ≈ 1). x (B, T, 1), target (B, 1).
 */
export function scaledSum(gen: Generator, B: number, T: number): { x: Tensor; target: Tensor } {
  const x = new Float32Array(B * T);
  const target = new Float32Array(B);
  const scale = 1 / Math.sqrt(T / 3);
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let t = 0; t < T; t++) s += x[b * T + t] = 2 * gen.uniform() - 1;
    target[b] = s * scale;
  }
  return { x: tensor(x, { shape: [B, T, 1] }), target: tensor(target, { shape: [B, 1] }) };
}
