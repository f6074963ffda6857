import { SeqgradError, fmt } from '../errors.js';
import { type Shape, normAxes, normAxis, numel, sameShape } from '../shapes.js';
import { reduce } from '../kernels/reduce.js';
import { type FloatDType, Tensor, arrayFor } from '../tensor.js';
import { abs, add, binaryRaw, div, exp, log, mul, neg, pow, sub, unaryRaw, where } from './elementwise.js';
import { type PrimitiveFn, assertFloat, definePrimitive } from './op.js';
import { expand, reshape } from './shape.js';

type Axes = number | readonly number[] | undefined;

function reducedShapes(x: Tensor, axes: number[], keepdim: boolean): { keep: number[]; out: number[]; flags: boolean[] } {
  const flags = x.shape.map((_, d) => axes.includes(d));
  const keep = x.shape.map((d, i) => (flags[i] ? 1 : d));
  const out = keepdim ? keep : x.shape.filter((_, i) => !flags[i]);
  return { keep, out, flags };
}

/** Brings a reduced gradient back to the input's shape: reshape to keepdim form, then expand. */
function unreduce(g: Tensor, keepShape: Shape, inShape: Shape): Tensor {
  return expand(reshape(g, keepShape), inShape);
}

const sumOp: PrimitiveFn<'sum'> = definePrimitive('sum', {
  forward(x, axes, keepdim) {
    const { keep, out, flags } = reducedShapes(x, axes, keepdim);
    const o = arrayFor(x.dtype as FloatDType, numel(out)) as Float32Array | Float64Array;
    reduce('sum', o, x.data, x.shape, flags);
    return { out: new Tensor(o, out), saved: { keepShape: keep, inShape: x.shape } };
  },
  // d Σx = broadcast(dy)
  backward: ({ keepShape, inShape }, g) => [unreduce(g, keepShape, inShape)],
  // ẏ = Σ ẋ
  jvp: ({ args: [, axes, keepdim] }, [t]) => sumOp(t, axes, keepdim),
});

const amaxOp: PrimitiveFn<'amax'> = definePrimitive('amax', {
  forward(x, axes, keepdim) {
    const { keep, out, flags } = reducedShapes(x, axes, keepdim);
    const o = arrayFor(x.dtype, numel(out)) as Float32Array | Float64Array;
    const arg = new Int32Array(o.length);
    reduce('max', o, x.data, x.shape, flags, arg);
    const mask = arrayFor(x.dtype, x.size);
    for (let i = 0; i < arg.length; i++) mask[arg[i]!] = 1;
    return { out: new Tensor(o, out), saved: { mask: new Tensor(mask, x.shape), keepShape: keep } };
  },
  // d max(x) = dy at the (first) arg of the maximum, 0 elsewhere
  backward: ({ mask, keepShape }, g) => [mul(unreduce(g, keepShape, mask.shape), mask)],
  // ẏ = ẋ at the (first) arg of the maximum
  jvp: ({ saved: { mask }, args: [, axes, keepdim] }, [t]) => sumOp(mul(t, mask), axes, keepdim),
});

/** min(x) = −max(−x): the same values and the same (first) arg, as the kernel breaks ties alike. */
const amin = (x: Tensor, axes: number[], keepdim: boolean): Tensor => neg(amaxOp(neg(x), axes, keepdim));

const normOp: PrimitiveFn<'norm'> = definePrimitive('norm', {
  forward(x, p, axes, keepdim) {
    const { keep, out, flags } = reducedShapes(x, axes, keepdim);
    // ‖x‖ = m (Σ |x/m|^p)^(1/p) with m = max |x|: the powers neither underflow (|x| ~ 1e-200 in
    // float64, 1e-20 in float32) nor overflow (|x| ~ 1e20 in float32), as LAPACK's nrm2.
    const absX = unaryRaw('abs', x);
    const m = arrayFor(x.dtype, numel(keep)) as Float32Array | Float64Array;
    reduce('max', m, absX.data, x.shape, flags, new Int32Array(m.length));
    const mSafe = new Tensor(m.map((v) => (v === 0 || !Number.isFinite(v) ? 1 : v)), keep);
    const scaled = binaryRaw('div', absX, mSafe, x.dtype).data;
    const powed = new Float64Array(x.size);
    for (let i = 0; i < scaled.length; i++) powed[i] = p === 2 ? scaled[i]! * scaled[i]! : Math.pow(scaled[i]!, p);
    const sums = new Float64Array(numel(out));
    reduce('sum', sums, powed, x.shape, flags);
    const o = arrayFor(x.dtype, numel(out)) as Float32Array | Float64Array;
    for (let i = 0; i < o.length; i++) {
      const root = p === 2 ? Math.sqrt(sums[i]!) : Math.pow(sums[i]!, 1 / p);
      o[i] = Number.isFinite(m[i]!) ? m[i]! * root : m[i]!; // an infinite entry makes the norm infinite (NaN stays NaN)
    }
    return { out: new Tensor(o, out), saved: { x, p, axes, keepShape: keep } };
  },
  // d ‖x‖_p = sign(x) |x / ‖x‖|^(p−1) dy   (0 where ‖x‖ = 0, as PyTorch's subgradient)
  // (x is divided by the norm before the power: |x|^(p−1) / ‖x‖^(p−1) underflows to 0/0 for
  //  tiny x, and its derivative overflows)
  backward({ x, p, axes, keepShape }, g) {
    const gk = unreduce(g, keepShape, x.shape);
    return [mul(gk, normDirection(x, p, axes))];
  },
  // ẏ = Σ sign(x) |x / ‖x‖|^(p−1) ẋ
  jvp: ({ saved: { x, p, axes }, args: [, , , keepdim] }, [t]) => sumOp(mul(t, normDirection(x, p, axes)), axes, keepdim),
});

/** ∂‖x‖_p/∂x over `axes`, 0 where the norm is 0 (differentiable: it serves the second derivative). */
function normDirection(x: Tensor, p: number, axes: number[]): Tensor {
  const n = normOp(x, p, axes, true);
  const zero = binaryRaw('eq', n, new Tensor(arrayFor(n.dtype, 1), []), n.dtype);
  const nonzero = new Tensor(unaryRaw('neg', zero).data.map((v) => v + 1), n.shape);
  const scaled = div(x, where(zero, 1, n));
  const direction = p === 2 ? scaled : mul(unaryRaw('sign', x), pow(abs(scaled), p - 1));
  return mul(direction, expand(nonzero, x.shape));
}

/**
 * Sum over `axes` (all when omitted), optionally keeping reduced axes as size 1.
 *
 * @example
 * sum(tensor([[1, 2], [3, 4]]), 1); // [3, 7]
 */
export function sum(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  assertFloat('sum', 'x', x);
  return sumOp(x, normAxes('sum', axes, x.ndim), keepdim);
}

/** Mean over `axes` (composed: sum / count). */
export function mean(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  assertFloat('mean', 'x', x);
  const ax = normAxes('mean', axes, x.ndim);
  const count = ax.reduce((n, a) => n * x.shape[a]!, 1);
  return div(sumOp(x, ax, keepdim), count);
}

function extreme(op: 'max' | 'min', x: Tensor, axes: Axes, keepdim: boolean): Tensor {
  assertFloat(op, 'x', x);
  const ax = normAxes(op, axes, x.ndim);
  if (x.size === 0) throw new SeqgradError(op, `cannot reduce an empty tensor ${fmt(x.shape)}`);
  return (op === 'max' ? amaxOp : amin)(x, ax, keepdim);
}

/** Maximum over `axes`; the gradient goes to the (first) element that attains it. */
export function max(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  return extreme('max', x, axes, keepdim);
}

/** Minimum over `axes`; the gradient goes to the (first) element that attains it. */
export function min(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  return extreme('min', x, axes, keepdim);
}

function argExtreme(op: 'argmax' | 'argmin', x: Tensor, axis: number | undefined, keepdim: boolean): Tensor {
  if (x.size === 0) throw new SeqgradError(op, `cannot reduce an empty tensor ${fmt(x.shape)}`);
  const flat = axis === undefined;
  const src = flat ? new Tensor(x.data, [x.size]) : x;
  const ax = flat ? 0 : normAxis(op, axis, x.ndim);
  const { out, flags } = reducedShapes(src, [ax], keepdim && !flat);
  const vals = new Float64Array(numel(out));
  const arg = new Int32Array(vals.length);
  reduce(op === 'argmax' ? 'max' : 'min', vals, src.data, src.shape, flags, arg);
  // Convert flat input positions into indices along the axis.
  const inner = numel(src.shape.slice(ax + 1));
  const len = src.shape[ax]!;
  for (let i = 0; i < arg.length; i++) arg[i] = Math.floor(arg[i]! / inner) % len;
  return new Tensor(arg, out);
}

/** Index of the maximum along `axis` (flattened when omitted), int32, no gradient. */
export function argmax(x: Tensor, axis?: number, keepdim = false): Tensor {
  return argExtreme('argmax', x, axis, keepdim);
}
/** Index of the minimum along `axis` (flattened when omitted), int32, no gradient. */
export function argmin(x: Tensor, axis?: number, keepdim = false): Tensor {
  return argExtreme('argmin', x, axis, keepdim);
}

/**
 * log Σ exp(x) over `axes`, computed stably as m + log Σ exp(x − m) with m = max(x)
 * (m is a constant for the gradient; the result is exact for inputs up to ±1e4 and beyond).
 */
export function logsumexp(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  assertFloat('logsumexp', 'x', x);
  const ax = normAxes('logsumexp', axes, x.ndim);
  const shift = maxShift(x, ax);
  const lse = add(log(sumOp(exp(sub(x, shift)), ax, true)), shift);
  return keepdim ? lse : reshape(lse, lse.shape.filter((_, i) => !ax.includes(i)));
}

/**
 * @internal The maximum over `axes` (kept as size-1 axes), as a constant without gradient and
 * with non-finite maxima replaced by 0: the shift m that makes exp(x − m) safe in logsumexp,
 * softmax and logSoftmax. Any constant m gives the same value and gradient in exact arithmetic.
 */
export function maxShift(x: Tensor, axes: readonly number[]): Tensor {
  const { keep, flags } = reducedShapes(x, [...axes], true);
  const m = arrayFor(x.dtype, numel(keep)) as Float32Array | Float64Array;
  const arg = new Int32Array(m.length);
  reduce('max', m, x.data, x.shape, flags, arg);
  for (let i = 0; i < m.length; i++) if (!Number.isFinite(m[i]!)) m[i] = 0;
  return new Tensor(m, keep);
}


/**
 * The p-norm over `axes` (all when omitted): (Σ|x|^p)^(1/p), p > 0 or Infinity.
 * Its gradient at the zero vector is 0 (PyTorch's choice), not NaN.
 */
export function norm(x: Tensor, p = 2, axes?: Axes, keepdim = false): Tensor {
  assertFloat('norm', 'x', x);
  const ax = normAxes('norm', axes, x.ndim);
  if (p === Infinity) return amaxOp(abs(x), ax, keepdim);
  if (!(p > 0) || !Number.isFinite(p)) throw new SeqgradError('norm', `p must be a positive number or Infinity, got ${p}`);
  if (p === 1) return sumOp(abs(x), ax, keepdim);
  return normOp(x, p, ax, keepdim);
}

/** Variance over `axes` with Bessel's `correction` (default 1, as `torch.var`). */
export function variance(x: Tensor, axes?: Axes, opts: { keepdim?: boolean; correction?: number } = {}): Tensor {
  assertFloat('var', 'x', x);
  const ax = normAxes('var', axes, x.ndim);
  const count = ax.reduce((n, a) => n * x.shape[a]!, 1);
  const correction = opts.correction ?? 1;
  if (typeof correction !== 'number' || !Number.isFinite(correction)) {
    throw new SeqgradError('variance', `correction must be a finite number, got ${typeof correction === 'string' ? `'${correction}'` : String(correction)}`);
  }
  const centered = sub(x, mean(x, ax, true));
  return div(sumOp(mul(centered, centered), ax, opts.keepdim ?? false), Math.max(0, count - correction));
}

/**
 * Sums a broadcast gradient back to `shape`: over leading axes and over axes where `shape`
 * has size 1. Composed of sum and reshape, so it is differentiable.
 */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  if (lead < 0) throw new SeqgradError('sumTo', `cannot sum ${fmt(g.shape)} to the larger rank ${fmt(shape)}`);
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] !== 1 && shape[i] !== g.shape[i + lead]) {
      throw new SeqgradError('sumTo', `g${fmt(g.shape)} cannot be summed to ${fmt(shape)}: dimension ${i - shape.length} is ${g.shape[i + lead]} vs ${shape[i]}`);
    }
  }
  const axes: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = axes.length > 0 ? sumOp(g, axes, false) : g;
  return sameShape(s.shape, shape) ? s : reshape(s, shape);
}

/** The rules of the reduction primitives. */
export const reductionRules = { sum: sumOp.rule, amax: amaxOp.rule, norm: normOp.rule };
