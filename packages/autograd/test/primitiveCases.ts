import fc from 'fast-check';
import {
  type Primitive, type Tensor,
  abs, add, cast, clamp, concat, div, exp, expand, flip, gather, grad, indexAdd, indexSelect,
  log, matmul, max, maximum, minimum, mul, narrow, neg, noGrad, norm, permute, pow, relu, reshape, scatterAdd,
  sigmoid, sqrt, stack, sum, tanh, tensor, unbind, where,
} from '@seqgrad/autograd';
import { awayFromZeroArb, broadcastPairArb, distinct, numelOf, shapeArb, tensorArb } from './helpers.js';

/**
 * One case per primitive: an arbitrary of (function, float64 inputs) on random shapes, with
 * broadcasting where the op broadcasts. Keyed by the `Primitive` union, so a new primitive
 * without a case here does not compile. Used by the gradient tests (primitives.test.ts) and
 * the forward-mode tests (jvp.test.ts).
 */

export interface Check {
  fn: (...xs: Tensor[]) => Tensor;
  inputs: Tensor[];
}

export interface Case {
  arb: fc.Arbitrary<Check>;
  /** Twice differentiable on the generated inputs: also run gradgradcheck. */
  smooth: boolean;
}

const unary = (f: (x: Tensor) => Tensor, lo = -2, hi = 2): fc.Arbitrary<Check> =>
  shapeArb().chain((s) => tensorArb(s, lo, hi)).map((x) => ({ fn: f, inputs: [x] }));

const binaryBroadcast = (
  f: (a: Tensor, b: Tensor) => Tensor,
  aArb: (s: number[]) => fc.Arbitrary<Tensor> = (s) => tensorArb(s),
  bArb: (s: number[]) => fc.Arbitrary<Tensor> = (s) => tensorArb(s),
): fc.Arbitrary<Check> =>
  broadcastPairArb().chain(([sa, sb]) => fc.tuple(aArb(sa), bArb(sb))).map(([a, b]) => ({ fn: f, inputs: [a, b] }));

/** A rank ≥ 1 shape with one of its axes. */
const shapeAndAxis = (minRank = 1) =>
  shapeArb(minRank, 3, 3).chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: 0, max: s.length - 1 })));

const noTies = (a: Tensor, b: Tensor) => noGrad(() => a.sub(b).abs().data.every((v) => v > 1e-3));

export const cases: Record<Primitive, Case> = {
  add: { arb: binaryBroadcast((a, b) => add(a, b)), smooth: true },
  mul: { arb: binaryBroadcast((a, b) => mul(a, b)), smooth: true },
  div: { arb: binaryBroadcast((a, b) => div(a, b), (s) => tensorArb(s), (s) => awayFromZeroArb(s, 0.5, 2)), smooth: true },
  neg: { arb: unary(neg), smooth: true },
  pow: { arb: binaryBroadcast((a, b) => pow(a, b), (s) => tensorArb(s, 0.5, 2), (s) => tensorArb(s, -2, 2)), smooth: true },
  exp: { arb: unary(exp), smooth: true },
  log: { arb: unary(log, 0.2, 3), smooth: true },
  sqrt: { arb: unary(sqrt, 0.2, 3), smooth: true },
  abs: { arb: shapeArb().chain((s) => awayFromZeroArb(s, 0.01)).map((x) => ({ fn: abs, inputs: [x] })), smooth: false },
  tanh: { arb: unary(tanh), smooth: true },
  sigmoid: { arb: unary(sigmoid, -4, 4), smooth: true },
  relu: { arb: shapeArb().chain((s) => awayFromZeroArb(s, 0.01)).map((x) => ({ fn: relu, inputs: [x] })), smooth: false },
  clamp: {
    arb: fc
      .tuple(shapeArb().chain((s) => tensorArb(s)), fc.constantFrom<[number | null, number | null]>([-0.5, 0.5], [null, 0.3], [-1, null], [0, 0]))
      .filter(([x, [lo, hi]]) => x.data.every((v) => (lo === null || Math.abs(v - lo) > 1e-3) && (hi === null || Math.abs(v - hi) > 1e-3)))
      .map(([x, [lo, hi]]) => ({ fn: (t: Tensor) => clamp(t, lo, hi), inputs: [x] })),
    smooth: false,
  },
  maximum: { arb: binaryBroadcast((a, b) => maximum(a, b)).filter((c) => noTies(c.inputs[0]!, c.inputs[1]!)), smooth: false },
  minimum: { arb: binaryBroadcast((a, b) => minimum(a, b)).filter((c) => noTies(c.inputs[0]!, c.inputs[1]!)), smooth: false },
  where: {
    arb: broadcastPairArb()
      .chain(([sa, sb]) =>
        fc.tuple(
          tensorArb(sa),
          tensorArb(sb),
          fc.boolean().chain((first) => {
            const sc = first ? sa : sb;
            return fc
              .array(fc.boolean(), { minLength: numelOf(sc), maxLength: numelOf(sc) })
              .map((bits) => tensor(bits.map(Number), { shape: sc, dtype: 'float64' }));
          }),
        ),
      )
      .map(([a, b, c]) => ({ fn: (x: Tensor, y: Tensor) => where(c, x, y), inputs: [a, b] })),
    smooth: true,
  },
  cast: { arb: unary((x) => cast(x, 'float64').mul(x)), smooth: true },
  sum: {
    arb: shapeArb(1)
      .chain((s) => fc.tuple(tensorArb(s), fc.subarray(s.map((_, i) => i)), fc.boolean()))
      .map(([x, axes, keepdim]) => ({ fn: (t: Tensor) => sum(t, axes.length ? axes : undefined, keepdim), inputs: [x] })),
    smooth: true,
  },
  amax: {
    arb: shapeAndAxis()
      .chain(([s, axis]) => fc.tuple(tensorArb(s), fc.constant(axis), fc.boolean()))
      .filter(([x]) => distinct(x.data))
      .map(([x, axis, keepdim]) => ({ fn: (t: Tensor) => max(t, axis, keepdim), inputs: [x] })),
    smooth: false,
  },
  norm: {
    arb: shapeAndAxis()
      .chain(([s, axis]) => fc.tuple(awayFromZeroArb(s), fc.constantFrom(1.5, 2, 3), fc.constantFrom<number | undefined>(axis, undefined)))
      .map(([x, p, axis]) => ({ fn: (t: Tensor) => norm(t, p, axis), inputs: [x] })),
    smooth: true,
  },
  matmul: {
    arb: fc
      .record({
        m: fc.integer({ min: 1, max: 3 }),
        k: fc.integer({ min: 1, max: 3 }),
        n: fc.integer({ min: 1, max: 3 }),
        kind: fc.constantFrom('1d1d', '1d2d', '2d1d', '2d2d', 'batched', 'batched1d'),
        batch: broadcastPairArb(2, 2),
        transA: fc.boolean(),
        transB: fc.boolean(),
      })
      .chain(({ m, k, n, kind, batch: [ba, bb], transA, transB }) => {
        const mat = (b: number[], r: number, c: number, t: boolean) => [...b, ...(t ? [c, r] : [r, c])];
        const [sa, sb, opts] =
          kind === '1d1d' ? [[k], [k], {}]
          : kind === '1d2d' ? [[k], mat([], k, n, transB), { transB }]
          : kind === '2d1d' ? [mat([], m, k, transA), [k], { transA }]
          : kind === '2d2d' ? [mat([], m, k, transA), mat([], k, n, transB), { transA, transB }]
          : kind === 'batched' ? [mat(ba, m, k, transA), mat(bb, k, n, transB), { transA, transB }]
          : [[k], mat(bb, k, n, false), {}];
        return fc.tuple(tensorArb(sa), tensorArb(sb)).map(([a, b]) => ({ fn: (x: Tensor, y: Tensor) => matmul(x, y, opts), inputs: [a, b] }));
      }),
    smooth: true,
  },
  reshape: {
    arb: shapeArb()
      .chain((s) => fc.tuple(tensorArb(s), fc.constantFrom(0, 1, 2)))
      .map(([x, which]) => {
        const n = x.size;
        const target = which === 0 ? [n] : which === 1 ? [...x.shape].reverse() : [1, n, 1];
        return { fn: (t: Tensor) => reshape(t, target), inputs: [x] };
      }),
    smooth: true,
  },
  permute: {
    arb: shapeArb(1)
      .chain((s) => fc.tuple(tensorArb(s), fc.shuffledSubarray(s.map((_, i) => i), { minLength: s.length, maxLength: s.length })))
      .map(([x, perm]) => ({ fn: (t: Tensor) => permute(t, perm), inputs: [x] })),
    smooth: true,
  },
  expand: {
    arb: broadcastPairArb()
      .map(([a, b]) => (a.length >= b.length ? [b, a] : [a, b]))
      .filter(([small, big]) => small.every((d, i) => d === 1 || d === big[big.length - small.length + i]))
      .chain(([small, big]) => tensorArb(small).map((x) => ({ fn: (t: Tensor) => expand(t, big), inputs: [x] }))),
    smooth: true,
  },
  concat: {
    arb: shapeAndAxis()
      .chain(([s, axis]) =>
        fc.tuple(fc.constant(axis), fc.array(fc.integer({ min: 0, max: 3 }).chain((len) => tensorArb(s.map((d, i) => (i === axis ? len : d)))), { minLength: 1, maxLength: 3 })),
      )
      .map(([axis, xs]) => ({ fn: (...ts: Tensor[]) => concat(ts, axis), inputs: xs })),
    smooth: true,
  },
  narrow: {
    arb: shapeAndAxis()
      .chain(([s, axis]) =>
        fc.tuple(tensorArb(s), fc.constant(axis), fc.integer({ min: 0, max: s[axis]! }).chain((start) => fc.tuple(fc.constant(start), fc.integer({ min: 0, max: s[axis]! - start })))),
      )
      .map(([x, axis, [start, length]]) => ({ fn: (t: Tensor) => narrow(t, axis, start, length), inputs: [x] })),
    smooth: true,
  },
  // pad is narrow's backward: reach it as the gradient of a narrow with respect to its input.
  pad: {
    arb: shapeAndAxis()
      .chain(([s, axis]) =>
        fc.tuple(fc.constant(s), fc.constant(axis), fc.integer({ min: 0, max: s[axis]! - 1 }).chain((start) => fc.tuple(fc.constant(start), fc.integer({ min: 1, max: s[axis]! - start })))),
      )
      .chain(([s, axis, [start, length]]) =>
        tensorArb(s.map((d, i) => (i === axis ? length : d))).map((v) => {
          const base = tensor(new Float64Array(numelOf(s)), { shape: s, dtype: 'float64', requiresGrad: true });
          const fn = (g: Tensor) => grad(narrow(base, axis, start, length), [base], { gradOutputs: [g], createGraph: true })[0]!;
          return { fn, inputs: [v] };
        }),
      ),
    smooth: true,
  },
  flip: {
    arb: shapeArb(1)
      .chain((s) => fc.tuple(tensorArb(s), fc.subarray(s.map((_, i) => i))))
      .map(([x, axes]) => ({ fn: (t: Tensor) => flip(t, axes), inputs: [x] })),
    smooth: true,
  },
  unbind: {
    arb: shapeAndAxis()
      .filter(([s, axis]) => s[axis]! > 0)
      .chain(([s, axis]) => fc.tuple(tensorArb(s), fc.constant(axis)))
      // Weight each slice differently so a gradient sent to the wrong slice is caught.
      .map(([x, axis]) => ({ fn: (t: Tensor) => stack(unbind(t, axis).map((u, i) => u.mul(i + 1)), 0), inputs: [x] })),
    smooth: true,
  },
  indexSelect: {
    arb: shapeAndAxis()
      .chain(([s, axis]) => fc.tuple(tensorArb(s), fc.constant(axis), fc.array(fc.integer({ min: -s[axis]!, max: s[axis]! - 1 }), { minLength: 0, maxLength: 4 })))
      .map(([x, axis, idx]) => ({ fn: (t: Tensor) => indexSelect(t, axis, tensor(idx, { dtype: 'int32' })), inputs: [x] })),
    smooth: true,
  },
  indexAdd: {
    arb: shapeAndAxis()
      .chain(([s, axis]) => fc.tuple(tensorArb(s), fc.constant(axis), fc.integer({ min: 1, max: 4 })))
      .chain(([src, axis, size]) =>
        fc.array(fc.integer({ min: 0, max: size - 1 }), { minLength: src.shape[axis]!, maxLength: src.shape[axis]! }).map((idx) => ({
          fn: (t: Tensor) => indexAdd(t, axis, tensor(idx, { dtype: 'int32' }), size),
          inputs: [src],
        })),
      ),
    smooth: true,
  },
  gather: {
    arb: shapeAndAxis()
      .chain(([s, axis]) =>
        fc.tuple(
          tensorArb(s),
          fc.constant(axis),
          fc.tuple(...s.map((d, i) => fc.integer({ min: i === axis ? 1 : 1, max: i === axis ? 4 : d }))),
        ),
      )
      .chain(([x, axis, idxShape]) =>
        fc.array(fc.integer({ min: 0, max: x.shape[axis]! - 1 }), { minLength: numelOf(idxShape), maxLength: numelOf(idxShape) }).map((idx) => ({
          fn: (t: Tensor) => gather(t, axis, tensor(idx, { shape: idxShape, dtype: 'int32' })),
          inputs: [x],
        })),
      ),
    smooth: true,
  },
  scatterAdd: {
    arb: shapeAndAxis()
      .chain(([s, axis]) => fc.tuple(tensorArb(s), fc.constant(axis), fc.integer({ min: 1, max: 4 })))
      .chain(([src, axis, size]) =>
        fc.array(fc.integer({ min: 0, max: size - 1 }), { minLength: src.size, maxLength: src.size }).map((idx) => ({
          fn: (t: Tensor) => scatterAdd(t, axis, tensor(idx, { shape: src.shape, dtype: 'int32' }), src.shape.map((d, i) => (i === axis ? size : d))),
          inputs: [src],
        })),
      ),
    smooth: true,
  },
};
