/**
 * Trains the sequence-to-sequence model on the reversal task and measures greedy-decoding
 * accuracy on held-out sequences. Used by tests/examples/attention.test.ts and docs/attention.md.
 */
import { Generator } from '@seqgrad/autograd';
import { Adam, clipGradNorm } from '@seqgrad/optim';
import { type AttentionKind, Seq2Seq } from './seq2seq.js';
import { type TaskOptions, makeBatch } from './task.js';

export interface TrainOptions {
  attention: AttentionKind;
  task: TaskOptions;
  steps: number;
  batchSize: number;
  embedSize: number;
  hiddenSize: number;
  /** Additive attention's hidden size (default hiddenSize). */
  attentionSize?: number;
  lr: number;
  /** Seeds the initialisation and the training data; the test set has its own fixed seed. */
  seed: number;
  /** Held-out sequences for the accuracy (default 500). */
  testSize?: number;
}

export interface TrainResult {
  model: Seq2Seq;
  /** Loss of every step. */
  losses: number[];
  /** Fraction of target tokens right under greedy decoding (each output fed back). */
  tokenAccuracy: number;
  /** Fraction of test sequences reversed without a single mistake. */
  sequenceAccuracy: number;
  seconds: number;
}

/** Greedy-decoding accuracy of `model` on `size` fresh sequences (seeded by `seed`). */
export function evaluate(model: Seq2Seq, task: TaskOptions, size: number, seed: number): { tokenAccuracy: number; sequenceAccuracy: number } {
  const batch = makeBatch(size, task, new Generator(seed));
  const T = task.maxLength;
  const predicted = model.greedy(batch.source, batch.lengths, batch.sourceMask, T);
  let tokens = 0;
  let rightTokens = 0;
  let rightSequences = 0;
  for (let b = 0; b < size; b++) {
    let allRight = true;
    for (let t = 0; t < batch.lengths[b]!; t++) {
      const ok = predicted[b * T + t] === batch.target.data[b * T + t];
      tokens++;
      if (ok) rightTokens++;
      else allRight = false;
    }
    if (allRight) rightSequences++;
  }
  return { tokenAccuracy: rightTokens / tokens, sequenceAccuracy: rightSequences / size };
}

export function train(opts: TrainOptions): TrainResult {
  const start = performance.now();
  const generator = new Generator(opts.seed);
  const model = new Seq2Seq({
    vocabSize: opts.task.symbols + 2, embedSize: opts.embedSize, hiddenSize: opts.hiddenSize, attention: opts.attention,
    attentionSize: opts.attentionSize, generator,
  });
  const optimizer = new Adam(model.parameters(), { lr: opts.lr });
  const data = new Generator(opts.seed + 1);
  const losses: number[] = [];
  for (let step = 0; step < opts.steps; step++) {
    const loss = model.loss(makeBatch(opts.batchSize, opts.task, data));
    optimizer.zeroGrad();
    loss.backward();
    clipGradNorm(model.parameters(), 1);
    optimizer.step();
    losses.push(loss.item());
  }
  const acc = evaluate(model, opts.task, opts.testSize ?? 500, 12345);
  return { model, losses, ...acc, seconds: (performance.now() - start) / 1000 };
}
