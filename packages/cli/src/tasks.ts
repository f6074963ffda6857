/**
 * The classic sequence tasks the CLI trains on. Every batch is drawn from an explicit seeded
 * `Generator`, so a run (and a resumed run) sees exactly the same data.
 *
 * - adding (Hochreiter & Schmidhuber 1997): x_t = (value_t ~ U[0,1), marker_t ∈ {0,1}) with one
 *   marker in each half of the sequence; the target is the sum of the two marked values.
 *   Predicting the mean (1.0) scores an MSE of about 1/6 ≈ 0.167.
 * - echo (delayed echo, also called memorization): one-hot symbols in, and at every step
 *   t ≥ k the symbol seen k steps earlier out.
 * - charlm: next-character prediction on a text (the embedded one by default).
 */
import { type Generator, Tensor, crossEntropy, mseLoss } from '@seqgrad/autograd';
import { EMBEDDED_TEXT } from './text.js';

export type TaskName = 'adding' | 'echo' | 'charlm';
export const TASK_NAMES: readonly TaskName[] = ['adding', 'echo', 'charlm'];

export interface Batch {
  /** Dense input (B, T, I) float32, or token indices (B, T) int32 when `inputKind` is 'tokens'. */
  input: Tensor;
  /** adding: (B, 1) float32; echo and charlm: (B, T) int32 with −100 where nothing is asked. */
  target: Tensor;
}

export interface Evaluation {
  loss: Tensor;
  /** Fraction correct: |error| < 0.04 for adding, top-1 symbol or character otherwise. */
  accuracy: number;
}

export interface Task {
  name: TaskName;
  /** Sequence length T of every batch. */
  seqLen: number;
  inputKind: 'dense' | 'tokens';
  /** Features per step (dense) or vocabulary size (tokens). */
  inputSize: number;
  outputSize: number;
  /** The model reads only the last time step's output (many-to-one) or every step. */
  readout: 'last' | 'all';
  /** A short description for tables and reports. */
  describe(): string;
  batch(batchSize: number, gen: Generator): Batch;
  /** `output` is the head's output: (B, O) for readout 'last', (B, T, O) for 'all'. */
  evaluate(output: Tensor, batch: Batch): Evaluation;
  /** charlm only: the characters, index = token id. */
  vocab?: string[];
}

export interface TaskOptions {
  seqLen?: number;
  /** echo: the delay k and the number of symbols. */
  delay?: number;
  symbols?: number;
  /** charlm: the training text (default: the embedded one) and its vocabulary (default: its characters). */
  text?: string;
  vocab?: string[];
}

/**
 * Per-task defaults: the sequence length, and the experiment's training steps (the adding
 * problem needs the most steps before a gated cell finds the two marked values).
 */
export const TASK_DEFAULTS: Record<TaskName, { seqLen: number; steps: number }> = {
  adding: { seqLen: 30, steps: 800 },
  echo: { seqLen: 20, steps: 400 },
  charlm: { seqLen: 32, steps: 300 },
};

/** adding: MSE on the predicted sum. */
export function addingTask(seqLen = TASK_DEFAULTS.adding.seqLen): Task {
  if (!Number.isInteger(seqLen) || seqLen < 2) throw new RangeError(`adding: --seq-len must be an integer ≥ 2, got ${seqLen}`);
  return {
    name: 'adding', seqLen, inputKind: 'dense', inputSize: 2, outputSize: 1, readout: 'last',
    describe: () => `adding problem, T=${seqLen} (mean predictor MSE ≈ 0.167)`,
    batch(B, gen) {
      const x = new Float32Array(B * seqLen * 2);
      const y = new Float32Array(B);
      const half = Math.floor(seqLen / 2);
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < seqLen; t++) x[(b * seqLen + t) * 2] = gen.uniform();
        const p1 = gen.integer(0, half);
        const p2 = gen.integer(half, seqLen);
        x[(b * seqLen + p1) * 2 + 1] = 1;
        x[(b * seqLen + p2) * 2 + 1] = 1;
        y[b] = x[(b * seqLen + p1) * 2]! + x[(b * seqLen + p2) * 2]!;
      }
      return { input: new Tensor(x, [B, seqLen, 2]), target: new Tensor(y, [B, 1]) };
    },
    evaluate(output, batch) {
      const loss = mseLoss(output, batch.target);
      let ok = 0;
      for (let i = 0; i < batch.target.size; i++) if (Math.abs(output.data[i]! - batch.target.data[i]!) < 0.04) ok++;
      return { loss, accuracy: ok / batch.target.size };
    },
  };
}

/** Cross entropy and top-1 accuracy over (B, T, C) logits and (B, T) targets (−100 ignored). */
function sequenceClassification(output: Tensor, target: Tensor): Evaluation {
  const [B, T, C] = output.shape as [number, number, number];
  const loss = crossEntropy(output.reshape([B * T, C]), target.reshape([B * T]));
  let ok = 0;
  let n = 0;
  const d = output.data;
  for (let i = 0; i < B * T; i++) {
    const want = target.data[i]!;
    if (want === -100) continue;
    let best = 0;
    for (let c = 1; c < C; c++) if (d[i * C + c]! > d[i * C + best]!) best = c;
    if (best === want) ok++;
    n++;
  }
  return { loss, accuracy: n === 0 ? 0 : ok / n };
}

/** echo: repeat the symbol seen `delay` steps earlier. */
export function echoTask(seqLen = TASK_DEFAULTS.echo.seqLen, delay = 5, symbols = 8): Task {
  if (!Number.isInteger(delay) || delay < 1) throw new RangeError(`echo: --delay must be an integer ≥ 1, got ${delay}`);
  if (!Number.isInteger(seqLen) || seqLen <= delay) throw new RangeError(`echo: --seq-len must be an integer > delay (${delay}), got ${seqLen}`);
  if (!Number.isInteger(symbols) || symbols < 2) throw new RangeError(`echo: symbols must be an integer ≥ 2, got ${symbols}`);
  return {
    name: 'echo', seqLen, inputKind: 'dense', inputSize: symbols, outputSize: symbols, readout: 'all',
    describe: () => `delayed echo, T=${seqLen}, k=${delay}, ${symbols} symbols (chance ${(100 / symbols).toFixed(1)}%)`,
    batch(B, gen) {
      const x = new Float32Array(B * seqLen * symbols);
      const y = new Int32Array(B * seqLen).fill(-100);
      const s = new Int32Array(seqLen);
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < seqLen; t++) {
          s[t] = gen.integer(0, symbols);
          x[(b * seqLen + t) * symbols + s[t]!] = 1;
          if (t >= delay) y[b * seqLen + t] = s[t - delay]!;
        }
      }
      return { input: new Tensor(x, [B, seqLen, symbols]), target: new Tensor(y, [B, seqLen]) };
    },
    evaluate: (output, batch) => sequenceClassification(output, batch.target),
  };
}

/** The sorted distinct characters of a text. */
export function vocabularyOf(text: string): string[] {
  return [...new Set(Array.from(text))].sort();
}

/** charlm: predict the next character of random windows of the text. */
export function charlmTask(seqLen = TASK_DEFAULTS.charlm.seqLen, text = EMBEDDED_TEXT, vocab = vocabularyOf(text)): Task {
  const chars = Array.from(text);
  if (chars.length < seqLen + 2) throw new RangeError(`charlm: the text has ${chars.length} characters, fewer than --seq-len + 2 = ${seqLen + 2}`);
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new RangeError(`charlm: --seq-len must be a positive integer, got ${seqLen}`);
  const index = new Map(vocab.map((c, i) => [c, i]));
  const ids = new Int32Array(chars.length);
  chars.forEach((c, i) => {
    const id = index.get(c);
    if (id === undefined) throw new RangeError(`charlm: character ${JSON.stringify(c)} is not in the model's vocabulary`);
    ids[i] = id;
  });
  const V = vocab.length;
  return {
    name: 'charlm', seqLen, inputKind: 'tokens', inputSize: V, outputSize: V, readout: 'all', vocab,
    describe: () => `character LM, ${chars.length} chars, vocabulary ${V}, T=${seqLen} (uniform ${Math.log2(V).toFixed(2)} bits/char)`,
    batch(B, gen) {
      const x = new Int32Array(B * seqLen);
      const y = new Int32Array(B * seqLen);
      for (let b = 0; b < B; b++) {
        const start = gen.integer(0, ids.length - seqLen - 1);
        for (let t = 0; t < seqLen; t++) {
          x[b * seqLen + t] = ids[start + t]!;
          y[b * seqLen + t] = ids[start + t + 1]!;
        }
      }
      return { input: new Tensor(x, [B, seqLen]), target: new Tensor(y, [B, seqLen]) };
    },
    evaluate: (output, batch) => sequenceClassification(output, batch.target),
  };
}

export function makeTask(name: TaskName, opts: TaskOptions = {}): Task {
  const seqLen = opts.seqLen ?? TASK_DEFAULTS[name].seqLen;
  if (name === 'adding') return addingTask(seqLen);
  if (name === 'echo') return echoTask(seqLen, opts.delay ?? 5, opts.symbols ?? 8);
  const text = opts.text ?? EMBEDDED_TEXT;
  return charlmTask(seqLen, text, opts.vocab ?? vocabularyOf(text));
}
