/**
 * The toy task: reverse a sequence of tokens. Sources have random lengths in
 * [minLength, maxLength] and are padded with PAD to maxLength; the target is the source
 * reversed. Token ids: PAD = 0, BOS = 1 (the decoder's first input), symbols 2..V+1.
 */
import { type Generator, type Tensor, tensor } from '@seqgrad/autograd';

export const PAD = 0;
export const BOS = 1;

export interface TaskOptions {
  /** Number of distinct symbols (the vocabulary is symbols + 2). */
  symbols: number;
  minLength: number;
  maxLength: number;
}

export interface Batch {
  /** (B, T) int32, PAD after each length. */
  source: Tensor;
  /** Int32Array (B): valid length of each source. */
  lengths: Int32Array;
  /** (B, T) float32: 1 at real tokens, 0 at padding. */
  sourceMask: Tensor;
  /** (B, T) int32: BOS, then the target shifted right (teacher forcing). */
  decoderInput: Tensor;
  /** (B, T) int32: the reversed source, −100 (ignored by crossEntropy) after each length. */
  target: Tensor;
}

/** A batch of B random sequences, drawn from `generator`. */
export function makeBatch(B: number, task: TaskOptions, generator: Generator): Batch {
  const T = task.maxLength;
  const source = new Int32Array(B * T); // PAD = 0
  const mask = new Float32Array(B * T);
  const decoderInput = new Int32Array(B * T);
  const target = new Int32Array(B * T).fill(-100);
  const lengths = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const L = generator.integer(task.minLength, task.maxLength + 1);
    lengths[b] = L;
    for (let t = 0; t < L; t++) {
      source[b * T + t] = 2 + generator.integer(0, task.symbols);
      mask[b * T + t] = 1;
    }
    for (let t = 0; t < L; t++) target[b * T + t] = source[b * T + (L - 1 - t)]!;
    decoderInput[b * T] = BOS;
    for (let t = 1; t < T; t++) decoderInput[b * T + t] = t < L ? target[b * T + t - 1]! : PAD;
  }
  return {
    source: tensor(source, { shape: [B, T] }),
    lengths,
    sourceMask: tensor(mask, { shape: [B, T] }),
    decoderInput: tensor(decoderInput, { shape: [B, T] }),
    target: tensor(target, { shape: [B, T] }),
  };
}
