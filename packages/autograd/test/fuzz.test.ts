import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  type FloatDType, Generator, SeqgradError, Tensor,
  abs, add, binaryCrossEntropyWithLogits, grad, chunk, dropout, embedding, indexAdd, linear, scatterAdd, split, clamp, concat, crossEntropy, div, exp, expand, flatten, flip, gather, indexSelect, log, logSoftmax, logsumexp, matmul,
  max, maximum, mean, min, minimum, mseLoss, mul, narrow, neg, norm, permute, pow, rand, randint, relu, reshape, select, sigmoid, softmax,
  sqrt, squeeze, stack, sub, sum, tanh, tensor, transpose, unsqueeze, where,
} from '@seqgrad/autograd';

/**
 * Random chains of ops on random shapes (size-0 axes included), with random and often invalid
 * arguments. Each op either returns a result or throws SeqgradError: never another exception,
 * never a hang, and never a NaN or Infinity where the inputs are finite and the op is defined
 * (the values are kept bounded so that the true result is always finite), in the values or in
 * the gradients.
 */

interface Step {
  op: string;
  a: number;
  b: number;
  c: number;
  shape: number[];
  dtype: FloatDType | 'int32';
  seed: number;
}

const dimArb = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 3 }), weight: 8 }, { arbitrary: fc.constant(0), weight: 1 });
const shapeArb = fc.array(dimArb, { minLength: 0, maxLength: 4 });
const dtypeArb = fc.oneof(
  { arbitrary: fc.constantFrom<FloatDType>('float32', 'float64'), weight: 10 },
  { arbitrary: fc.constant<'int32'>('int32'), weight: 1 },
);

const REDUCTIONS = new Set(['sum', 'mean', 'max', 'min', 'logsumexp', 'norm', 'softmax', 'logSoftmax', 'crossEntropy', 'mseLoss', 'bce']);

type Apply = (x: Tensor, s: Step, other: () => Tensor) => Tensor;

const axis = (x: Tensor, k: number) => (x.ndim === 0 ? k : k % (x.ndim + 1)); // sometimes out of range
const OPS: Record<string, Apply> = {
  neg: (x) => neg(x),
  tanh: (x) => tanh(x),
  sigmoid: (x) => sigmoid(x),
  relu: (x) => relu(x),
  abs: (x) => abs(x),
  expTanh: (x) => exp(tanh(x)),
  logAbs: (x) => log(abs(x).add(1)),
  sqrtAbs: (x) => sqrt(abs(x).add(1)),
  clamp: (x, s) => clamp(x, -1 + s.a / 8, 1),
  scale: (x, s) => mul(x, s.a / 4),
  powBounded: (x, s) => pow(abs(tanh(x)).add(0.5), (s.b % 3) + 0.5),
  add: (x, _s, o) => add(x, o()),
  sub: (x, _s, o) => sub(o(), x),
  mul: (x, _s, o) => mul(x, tanh(o())),
  div: (x, _s, o) => div(x, abs(o()).add(1)),
  maximum: (x, _s, o) => maximum(x, o()),
  minimum: (x, _s, o) => minimum(o(), x),
  where: (x, _s, o) => { const y = o(); return where(y.gt(0), x, y); },
  matmul: (x, _s, o) => tanh(matmul(x, o())),
  matmulT: (x, s, o) => tanh(matmul(x, o(), { transA: s.a > 0, transB: s.b > 0 })),
  concat: (x, s, o) => concat([x, o()], s.a),
  stack: (x, s, o) => stack([x, o()], s.a),
  sum: (x, s) => sum(x, s.a === 0 ? undefined : axis(x, s.a), s.b > 0),
  mean: (x, s) => mean(x, axis(x, s.a), s.b > 0),
  max: (x, s) => max(x, axis(x, s.a), s.b > 0),
  min: (x, s) => min(x, s.a === 0 ? undefined : axis(x, s.a)),
  logsumexp: (x, s) => logsumexp(x, axis(x, s.a), s.b > 0),
  norm: (x, s) => norm(x, [1, 2, 3, Infinity][s.c % 4], s.a === 0 ? undefined : axis(x, s.a)),
  softmax: (x, s) => softmax(x, s.a),
  logSoftmax: (x, s) => logSoftmax(x, s.a),
  reshapeShape: (x, s) => reshape(x, s.shape),
  reshapeInfer: (x, s) => reshape(x, [s.c || 1, -1]),
  flatten: (x, s) => flatten(x, s.a, s.b),
  permute: (x, s) => permute(x, x.shape.map((_, i) => (i + s.c) % Math.max(1, x.ndim + (s.a > 2 ? 1 : 0)))),
  transpose: (x, s) => transpose(x, s.a, s.b),
  flip: (x, s) => flip(x, s.a),
  narrow: (x, s) => narrow(x, s.a, s.b, s.c),
  select: (x, s) => select(x, s.a, s.b),
  unsqueeze: (x, s) => unsqueeze(x, s.a),
  squeeze: (x, s) => squeeze(x, s.a === 0 ? undefined : s.a),
  expand: (x, s) => expand(x, s.shape),
  chunk: (x, s) => chunk(x, s.c + (s.b > 0 ? 1 : 0), s.a)[0] ?? x,
  indexSelect: (x, s) => indexSelect(x, s.a, randint(-3, 4, [s.c], { generator: new Generator(s.seed) })),
  gather: (x, s) => gather(x, s.a, randint(0, 3, s.shape, { generator: new Generator(s.seed) })),
  // With 'mean', all targets ignored is NaN by definition (as PyTorch): ignoring only with 'sum'/'none'.
  crossEntropy: (x, s) => {
    const reduction = (['mean', 'sum', 'none'] as const)[s.c % 3];
    const target = randint(reduction === 'mean' ? 0 : -1, 3, s.shape, { generator: new Generator(s.seed) });
    return crossEntropy(x, target, { ignoreIndex: -1, reduction });
  },
  mseLoss: (x, _s, o) => mseLoss(x, o()),
  number: (x, s) => add(s.a, x),
  linear: (x, s, o) => tanh(linear(x, o(), s.b > 0 ? undefined : null)),
  bce: (x, _s, o) => binaryCrossEntropyWithLogits(x, sigmoid(o())),
  dropout: (x, s) => dropout(x, s.c / 4, { generator: new Generator(s.seed) }),
  embedding: (x, s) => embedding(x, randint(0, 3, s.shape, { generator: new Generator(s.seed) })),
  indexAdd: (x, s) => indexAdd(x, s.a, randint(0, 3, [x.shape[((s.a % Math.max(1, x.ndim)) + x.ndim) % Math.max(1, x.ndim)] ?? 1], { generator: new Generator(s.seed) }), 3),
  scatterAdd: (x, s) => scatterAdd(x, s.a, randint(0, 2, x.shape, { generator: new Generator(s.seed) }), x.shape.map((d) => d + s.c)),
  split: (x, s) => split(x, s.c + 1, s.b)[0]!,
};

const stepArb: fc.Arbitrary<Step> = fc.record({
  op: fc.constantFrom(...Object.keys(OPS)),
  a: fc.integer({ min: -4, max: 4 }),
  b: fc.integer({ min: -4, max: 4 }),
  c: fc.integer({ min: 0, max: 4 }),
  shape: shapeArb,
  dtype: dtypeArb,
  seed: fc.nat(),
});

/** The other operand: usually the same or a broadcast-compatible shape, sometimes a random one. */
function otherFor(x: Tensor, s: Step): Tensor {
  const g = new Generator(s.seed);
  const shape = s.c === 0 ? s.shape : s.c === 1 ? x.shape.map((d, i) => (i % 2 ? 1 : d)) : s.c === 2 ? [...x.shape].reverse() : [...x.shape];
  if (s.dtype === 'int32') return randint(-2, 3, shape, { generator: g });
  return rand(shape, { low: -3, high: 3, dtype: s.dtype, generator: g });
}

const startArb = shapeArb.chain((shape) =>
  fc.tuple(
    fc.constant(shape),
    fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: shape.reduce((n, d) => n * d, 1), maxLength: shape.reduce((n, d) => n * d, 1) }),
    fc.constantFrom<FloatDType>('float32', 'float64'),
  ),
);
const chainArb = fc.array(stepArb, { minLength: 1, maxLength: 12 });

/** Runs a chain; a SeqgradError skips the step (the chain goes on from the last good tensor). */
function runChain(shape: number[], values: number[], dtype: FloatDType, steps: Step[]): { leaf: Tensor; x: Tensor; defined: boolean } {
  const leaf = tensor(values, { shape, dtype, requiresGrad: true });
  let x = leaf;
  let defined = true;
  for (const s of steps) {
    // A reduction over an empty axis is undefined (mean → NaN, logsumexp → −∞, as in PyTorch).
    if (REDUCTIONS.has(s.op) && x.size === 0) defined = false;
    try {
      const input = x;
      x = OPS[s.op]!(x, s, () => otherFor(input, s));
    } catch (e) {
      if (!(e instanceof SeqgradError)) throw new Error(`${s.op} threw a non-SeqgradError: ${String(e)}\n${(e as Error).stack}`);
      expect((e as Error).message.startsWith(`${(e as SeqgradError).op}: `)).toBe(true);
      continue;
    }
    expect(x).toBeInstanceOf(Tensor);
    if (defined && !x.isFinite()) throw new Error(`${s.op} produced NaN/Infinity: ${x.toString()}`);
  }
  return { leaf, x, defined };
}

describe('fuzz', () => {
  test('fuzz: random op chains give finite results and gradients, or throw SeqgradError', () => {
    fc.assert(
      fc.property(startArb, chainArb, ([shape, values, dtype], steps) => {
        const started = performance.now();
        const { leaf, x, defined } = runChain(shape, values, dtype, steps);
        if (defined && x.requiresGrad && x.size > 0) {
          x.mul(x.detach().tanh()).sum().backward();
          if (leaf.grad && !leaf.grad.isFinite()) throw new Error(`gradient holds NaN/Infinity: ${leaf.grad.toString()}`);
        }
        expect(performance.now() - started).toBeLessThan(5000);
      }),
    );
  });

  test('fuzz: second derivatives through random op chains are finite or throw SeqgradError', () => {
    fc.assert(
      fc.property(startArb, chainArb, ([shape, values, dtype], steps) => {
        // Tiny inputs are flushed to 0 here: second derivatives like the norm's (I − uuᵀ)/‖x‖ are
        // truly beyond the dtype's range at ‖x‖ ~ 5e-324 (float64) or 1e-45 (float32).
        const tiny = dtype === 'float32' ? 1e-30 : 1e-150;
        const { leaf, x, defined } = runChain(shape, values.map((v) => (Math.abs(v) < tiny ? 0 : v)), dtype, steps);
        if (!defined || !x.requiresGrad || x.size === 0) return;
        const [g] = grad(x.mul(x.detach().tanh()).sum(), [leaf], { createGraph: true, allowUnused: true });
        if (!g || !g.isFinite()) throw new Error(`first-order gradient: ${String(g)}`);
        if (!g.requiresGrad) return; // the chain is linear in the leaf
        const [gg] = grad(g.square().sum(), [leaf], { allowUnused: true });
        if (gg && !gg.isFinite()) throw new Error(`second-order gradient holds NaN/Infinity: ${gg.toString()}`);
      }),
    );
  });
});
