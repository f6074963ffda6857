/**
 * The adding problem (Hochreiter & Schmidhuber 1997) at T = 50: the sum of the two values
 * marked in a sequence of 50 uniform numbers, one mark in each half. Predicting the mean
 * scores MSE ≈ 2/12 ≈ 0.167. With the same budget (800 Adam steps, batch 32, H = 16),
 * LSTM and GRU must get below 0.01 while a tanh RNN stays far above (> 0.1): the gradient
 * that has to travel up to 50 steps back vanishes in the plain RNN, not in the gated cells.
 */
import { describe, expect, test } from 'vitest';
import { Generator, mseLoss, noGrad } from '@seqgrad/autograd';
import { Adam, clipGradNorm } from '@seqgrad/optim';
import { addingProblem, type Kind, SeqModel, seconds } from './tasks.js';

const T = 50;
const HIDDEN = 16;
const BATCH = 32;
const STEPS = 800;

function trainAdding(kind: Kind): number {
  // Forget-gate bias 2 for the LSTM, within the course's 1–2. With PyTorch's default init
  // (bias ≈ 0) the LSTM needs 500 to over 800 steps to leave the 0.167 plateau depending on the
  // seed; with bias 2 seeds 1–4 all leave it by step 600 (seed 1, used here, by step 300).
  const model = new SeqModel(kind, 2, HIDDEN, 1, 1, { forgetBias: 2 });
  const params = model.parameters();
  const opt = new Adam(params, { lr: 0.02 });
  const data = new Generator(7);
  const heldOut = addingProblem(new Generator(99), 512, T);
  const start = performance.now();
  for (let step = 0; step < STEPS; step++) {
    const { x, target } = addingProblem(data, BATCH, T);
    const loss = mseLoss(model.forwardLast(x), target);
    opt.zeroGrad();
    loss.backward();
    clipGradNorm(params, 1);
    opt.step();
  }
  const mse = noGrad(() => mseLoss(model.forwardLast(heldOut.x), heldOut.target).item());
  console.log(`adding problem T=${T}, ${kind} H=${HIDDEN}: held-out MSE ${mse.toFixed(5)} after ${STEPS} steps (${seconds(start)}s); mean predictor ≈ 0.167`);
  return mse;
}

describe('learning: the adding problem', () => {
  test('addingProblem: predicting the mean scores about 2/12 on the held-out set', () => {
    const { target } = addingProblem(new Generator(99), 512, T);
    const y = Array.from(target.data);
    expect(y.reduce((s, v) => s + (v - 1) ** 2, 0) / y.length).toBeCloseTo(1 / 6, 1);
  });
  for (const kind of ['LSTM', 'GRU'] as const) {
    test(`${kind}: reaches MSE < 0.01 at T = ${T} within ${STEPS} steps`, () => {
      expect(trainAdding(kind)).toBeLessThan(0.01);
    });
  }
  test(`RNN (tanh): stays far above (MSE > 0.1) on the same ${STEPS}-step budget`, () => {
    expect(trainAdding('RNN')).toBeGreaterThan(0.1);
  });
});
