import { Generator, Tensor, kernels } from '@seqgrad/autograd';
import { disableGemmThreads, enableGemmThreads } from '@seqgrad/autograd/threads';
import { GRU, LSTM, RNN, type RNNBase } from '@seqgrad/layers';
import { afterEach, describe, expect, test } from 'vitest';

/**
 * A fused training step on two threads gives the single thread's results bit for bit: every
 * product, the per-step recurrent ones (`kernels.gemmPacked`, split over the threads' shared copy
 * of the packed W_hh) included, goes through the same operations on either.
 */

type FloatDType = 'float32' | 'float64';

/** One training step (loss = sum of the outputs): the output, the input's and every parameter's gradient. */
function trainStep(make: () => RNNBase, dtype: FloatDType, B: number, T: number, I: number): Float64Array[] {
  const net = make();
  const g = new Generator(5);
  const xs = dtype === 'float32' ? new Float32Array(B * T * I) : new Float64Array(B * T * I);
  for (let i = 0; i < xs.length; i++) xs[i] = g.uniform() - 0.5;
  const x = new Tensor(xs, [B, T, I], true);
  const { output } = net.forward(x);
  output.sum().backward();
  return [output.data, x.grad!.data, ...net.parameters().map((p) => p.grad!.data)].map((d) => Float64Array.from(d));
}

function expectSameBits(actual: Float64Array[], expected: Float64Array[], what: string): void {
  expect(actual.length).toBe(expected.length);
  for (const [k, e] of expected.entries()) {
    const a = actual[k]!;
    for (let i = 0; i < e.length; i++) {
      if (!Object.is(a[i], e[i])) throw new Error(`${what}: array ${k} (0 output, 1 dx, then the parameters' gradients) [${i}] = ${a[i]} on two threads, ${e[i]} on one`);
    }
  }
}

afterEach(() => disableGemmThreads());

describe('fused layers on two threads', () => {
  const B = 32, T = 3, I = 40;
  const layers: [string, (dtype: FloatDType) => RNNBase][] = [
    ['LSTM H=256', (dtype) => new LSTM(I, 256, { batchFirst: true, impl: 'fused', dtype, generator: new Generator(1) })],
    ['LSTM H=128, projSize=72', (dtype) => new LSTM(I, 128, { batchFirst: true, impl: 'fused', dtype, projSize: 72, generator: new Generator(2) })],
    ['GRU H=200', (dtype) => new GRU(I, 200, { batchFirst: true, impl: 'fused', dtype, generator: new Generator(3) })],
    ['GRU H=200, resetAfter false', (dtype) => new GRU(I, 200, { batchFirst: true, impl: 'fused', dtype, resetAfter: false, generator: new Generator(4) })],
    ['RNN H=256, two layers', (dtype) => new RNN(I, 256, { batchFirst: true, impl: 'fused', dtype, numLayers: 2, generator: new Generator(5) })],
  ];
  for (const [name, make] of layers) {
    test(`${name.split(' ')[0]}: a fused training step on two threads equals one thread bit for bit (${name}, float32 and float64, recurrent products split)`, () => {
      for (const dtype of ['float32', 'float64'] as const) {
        disableGemmThreads();
        const one = trainStep(() => make(dtype), dtype, B, T, I);
        enableGemmThreads(2, { minWork: 0, packedMinWork: 0 });
        const two = trainStep(() => make(dtype), dtype, B, T, I);
        expectSameBits(two, one, `${name}, ${dtype}`);
        // The recurrent weights' copies in the threads' memory were released with their packed operands.
        expect(kernels.backend().threadPackedBytes).toBe(0);
        enableGemmThreads(2); // the default thresholds
        expectSameBits(trainStep(() => make(dtype), dtype, B, T, I), one, `${name}, ${dtype}, default thresholds`);
      }
    });
  }
});
