/**
 * Delayed echo (memorization): at each step output the symbol seen k = 5 steps earlier.
 * A recurrent net must hold the last five symbols in its state. LSTM and GRU must reach
 * ≥ 99% accuracy on held-out sequences within a fixed budget of 400 Adam steps.
 */
import { describe, expect, test } from 'vitest';
import { crossEntropy, Generator, narrow, noGrad, reshape, type Tensor } from '@seqgrad/autograd';
import { Adam, clipGradNorm } from '@seqgrad/optim';
import { accuracy, delayedEcho, type Kind, SeqModel, seconds } from './tasks.js';

const T = 20; // sequence length
const VOCAB = 4;
const K = 5; // delay
const HIDDEN = 32;
const BATCH = 32;
const STEPS = 400;

function trainEcho(kind: Kind): number {
  const model = new SeqModel(kind, VOCAB, HIDDEN, VOCAB, 1);
  const params = model.parameters();
  const opt = new Adam(params, { lr: 0.02 });
  const data = new Generator(7);
  const heldOut = delayedEcho(new Generator(99), 256, T, VOCAB, K);
  // Logits of the steps that have a target (t ≥ k), as rows (B·(T − k), vocab).
  const logitsOf = (x: Tensor) => reshape(narrow(model.forward(x), 1, K, T - K), [-1, VOCAB]);
  const start = performance.now();
  for (let step = 0; step < STEPS; step++) {
    const { x, target } = delayedEcho(data, BATCH, T, VOCAB, K);
    const loss = crossEntropy(logitsOf(x), target);
    opt.zeroGrad();
    loss.backward();
    clipGradNorm(params, 1);
    opt.step();
  }
  const acc = noGrad(() => accuracy(logitsOf(heldOut.x), heldOut.target));
  console.log(`delayed echo k=${K}, ${kind} H=${HIDDEN}: held-out accuracy ${(100 * acc).toFixed(2)}% after ${STEPS} steps (${seconds(start)}s)`);
  return acc;
}

describe('learning: delayed echo', () => {
  for (const kind of ['LSTM', 'GRU'] as const) {
    test(`${kind}: echoes the input from ${K} steps earlier with ≥ 99% accuracy within ${STEPS} steps`, () => {
      expect(trainEcho(kind)).toBeGreaterThanOrEqual(0.99);
    });
  }
});
