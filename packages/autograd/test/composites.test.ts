import fc from 'fast-check';
import { describe, test } from 'vitest';
import {
  Generator, type Tensor,
  binaryCrossEntropyWithLogits, chunk, crossEntropy, dropout, embedding, flatten, gradcheck, gradgradcheck, linear, logSoftmax, logsumexp,
  mean, min, mseLoss, norm, select, slice, softmax, split, square, squeeze, stack, sub, tensor, transpose, unsqueeze, variance,
} from '@seqgrad/autograd';
import { awayFromZeroArb, broadcastPairArb, distinct, shapeArb, tensorArb } from './helpers.js';

/**
 * Composites have no backward code of their own; their gradients come from the primitives.
 * These properties check that the composition is right (first and second order) on random
 * shapes, in float64.
 */

interface Check {
  fn: (...xs: Tensor[]) => Tensor;
  inputs: Tensor[];
}

const withAxis = (minRank = 1) => shapeArb(minRank, 3, 3).chain((s) => fc.tuple(tensorArb(s), fc.integer({ min: -s.length, max: s.length - 1 })));
const int = (v: number[], shape: readonly number[]) => tensor(v, { dtype: 'int32', shape });

const composites: Record<string, fc.Arbitrary<Check>> = {
  sub: broadcastPairArb().chain(([a, b]) => fc.tuple(tensorArb(a), tensorArb(b))).map(([a, b]) => ({ fn: sub, inputs: [a, b] })),
  square: shapeArb().chain((s) => tensorArb(s)).map((x) => ({ fn: square, inputs: [x] })),
  mean: withAxis().map(([x, a]) => ({ fn: (t: Tensor) => mean(t, a, true), inputs: [x] })),
  variance: shapeArb(1, 3, 3)
    .filter((s) => s[0]! > 1)
    .chain((s) => tensorArb(s))
    .map((x) => ({ fn: (t: Tensor) => variance(t, 0), inputs: [x] })),
  logsumexp: withAxis().map(([x, a]) => ({ fn: (t: Tensor) => logsumexp(t, a), inputs: [x] })),
  softmax: withAxis().map(([x, a]) => ({ fn: (t: Tensor) => softmax(t, a), inputs: [x] })),
  logSoftmax: withAxis().map(([x, a]) => ({ fn: (t: Tensor) => logSoftmax(t, a), inputs: [x] })),
  crossEntropy: fc
    .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 2 }), fc.constantFrom('mean', 'sum', 'none'))
    .chain(([n, c, d, reduction]) =>
      fc.tuple(
        tensorArb(d ? [n, c, d] : [n, c]),
        fc.array(fc.integer({ min: -1, max: c - 1 }), { minLength: n * (d || 1), maxLength: n * (d || 1) }),
        fc.constant(d ? [n, d] : [n]),
        fc.constant(reduction as 'mean' | 'sum' | 'none'),
      ),
    )
    .filter(([, t, , reduction]) => reduction !== 'mean' || t.some((v) => v >= 0))
    .map(([x, t, tShape, reduction]) => ({ fn: (l: Tensor) => crossEntropy(l, int(t, tShape), { ignoreIndex: -1, reduction }), inputs: [x] })),
  mseLoss: shapeArb().chain((s) => fc.tuple(tensorArb(s), tensorArb(s))).map(([a, b]) => ({ fn: (x: Tensor, y: Tensor) => mseLoss(x, y), inputs: [a, b] })),
  binaryCrossEntropyWithLogits: shapeArb()
    .chain((s) => fc.tuple(awayFromZeroArb(s, 0.05, 3), tensorArb(s, 0, 1), fc.constantFrom(1, 2.5)))
    .map(([x, y, w]) => ({ fn: (a: Tensor, b: Tensor) => binaryCrossEntropyWithLogits(a, b, { posWeight: w }), inputs: [x, y] })),
  linear: fc
    .tuple(shapeArb(0, 2, 2), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.boolean())
    .chain(([batch, i, o, bias]) => fc.tuple(tensorArb([...batch, i]), tensorArb([o, i]), bias ? tensorArb([o]) : fc.constant(null)))
    .map(([x, w, b]) => ({ fn: (...ts: Tensor[]) => linear(ts[0]!, ts[1]!, ts[2]), inputs: b ? [x, w, b] : [x, w] })),
  stack: shapeArb(0, 2, 3)
    .chain((s) => fc.tuple(fc.array(tensorArb(s), { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: s.length })))
    .map(([xs, a]) => ({ fn: (...ts: Tensor[]) => stack(ts, a), inputs: xs })),
  split: withAxis().map(([x, a]) => ({ fn: (t: Tensor) => split(t, 2, a).map((p, i) => p.mul(i + 1).sum()).reduce((p, q) => p.add(q)), inputs: [x] })),
  chunk: withAxis().map(([x, a]) => ({ fn: (t: Tensor) => chunk(t, 2, a)[0]!.tanh(), inputs: [x] })),
  selectSlice: withAxis().map(([x, a]) => ({ fn: (t: Tensor) => select(t, a, -1).add(slice(t, a, 0, 1).sum()), inputs: [x] })),
  transposeFlatten: shapeArb(2, 3, 3).chain((s) => tensorArb(s)).map((x) => ({ fn: (t: Tensor) => flatten(transpose(t)), inputs: [x] })),
  squeezeUnsqueeze: shapeArb().chain((s) => tensorArb(s)).map((x) => ({ fn: (t: Tensor) => squeeze(unsqueeze(t, 0), 0).mul(t), inputs: [x] })),
  embedding: fc
    .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }))
    .chain(([v, d]) => fc.tuple(tensorArb([v, d]), fc.array(fc.integer({ min: 0, max: v - 1 }), { minLength: 1, maxLength: 5 })))
    // (paddingIdx deliberately withholds a true gradient, as in PyTorch: tested by example in indexing.test.ts)
    .map(([w, idx]) => ({ fn: (t: Tensor) => embedding(t, idx), inputs: [w] })),
  normKinked: withAxis()
    .filter(([x]) => distinct(x.data.map(Math.abs), 1e-3) && x.data.every((v) => Math.abs(v) > 1e-3))
    .chain(([x, a]) => fc.constantFrom(1, Infinity).map((p) => ({ fn: (t: Tensor) => norm(t, p, a), inputs: [x] }))),
  min: withAxis()
    .filter(([x]) => distinct(x.data))
    .chain(([x, a]) => fc.boolean().map((keepdim) => ({ fn: (t: Tensor) => min(t, a, keepdim), inputs: [x] }))),
  dropout: shapeArb()
    .chain((s) => fc.tuple(tensorArb(s), fc.nat()))
    .map(([x, seed]) => ({ fn: (t: Tensor) => dropout(t, 0.4, { generator: new Generator(seed) }), inputs: [x] })),
};

describe('composites', () => {
  for (const [name, arb] of Object.entries(composites)) {
    test(`${name}: first and second derivatives match finite differences (composed, no own backward)`, () => {
      fc.assert(fc.property(arb, ({ fn, inputs }) => gradcheck(fn, inputs) && gradgradcheck(fn, inputs)));
    });
  }
});
