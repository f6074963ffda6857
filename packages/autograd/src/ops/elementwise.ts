import { SeqgradError, fmt } from '../errors.js';
import { broadcastShapes, numel } from '../shapes.js';
import { broadcastCopy } from '../kernels/copy.js';
import { type BinaryOp, type UnaryOp, binaryBroadcast, unary } from '../kernels/elementwise.js';
import { full } from '../creation.js';
import { type DType, Tensor, arrayFor } from '../tensor.js';
import { type Operand, type PrimitiveFn, type Rule, assertFloat, definePrimitive, describe, promoteDtype } from './op.js';

// ---------------------------------------------------------------------------------------
// Helpers (no graph): kernels wrapped into fresh tensors
// ---------------------------------------------------------------------------------------

function toTensor(op: string, arg: string, x: Operand, like: Tensor): Tensor {
  if (x instanceof Tensor) return x;
  if (typeof x === 'number') return full([], x, { dtype: like.dtype === 'int32' ? 'float32' : like.dtype });
  throw new SeqgradError(op, `${arg} must be a Tensor or a number, got ${describe(x)}`);
}

/** Raw broadcasting binary kernel into a new tensor of `dtype` (no autograd). */
export function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor, dtype: DType, name: string = op): Tensor {
  const shape = broadcastShapes(name, a.shape, b.shape);
  const out = arrayFor(dtype, numel(shape));
  binaryBroadcast(op, out, shape, a.data, a.shape, b.data, b.shape);
  return new Tensor(out, shape);
}

/** Raw unary kernel into a new float tensor (no autograd). */
export function unaryRaw(op: UnaryOp, x: Tensor): Tensor {
  const out = arrayFor(x.dtype === 'int32' ? 'float32' : x.dtype, x.size) as Float32Array | Float64Array;
  unary(op, out, x.data);
  return new Tensor(out, x.shape);
}

/** Two operands as tensors, a number taking the other operand's float dtype; one must be a tensor. */
function operandTensors(op: string, a: Operand, b: Operand): [Tensor, Tensor] {
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) {
    throw new SeqgradError(op, `at least one argument must be a Tensor, got ${describe(a)} and ${describe(b)}`);
  }
  const ta = a instanceof Tensor ? a : toTensor(op, 'a', a, b as Tensor);
  const tb = b instanceof Tensor ? b : toTensor(op, 'b', b, ta);
  return [ta, tb];
}

/** Brings two operands to one float dtype (recorded casts, so gradients flow back in the input's dtype). */
function binaryOperands(op: string, a: Operand, b: Operand): [Tensor, Tensor] {
  const [ta, tb] = operandTensors(op, a, b);
  assertFloat(op, 'a', ta);
  assertFloat(op, 'b', tb);
  broadcastShapes(op, ta.shape, tb.shape);
  const dt = promoteDtype(ta.dtype, tb.dtype);
  return [ta.dtype === dt ? ta : cast(ta, dt), tb.dtype === dt ? tb : cast(tb, dt)];
}

// ---------------------------------------------------------------------------------------
// Primitives
// ---------------------------------------------------------------------------------------

/** Converts to `dtype` (a copy). */
export const cast: PrimitiveFn<'cast'> = definePrimitive('cast', {
  forward(x, dtype) {
    if (!(x instanceof Tensor)) throw new SeqgradError('cast', `x must be a Tensor, got ${describe(x)}`);
    if (dtype !== 'float32' && dtype !== 'float64' && dtype !== 'int32') {
      throw new SeqgradError('cast', `unknown dtype ${typeof dtype === 'string' ? `'${dtype}'` : String(dtype)} for x${fmt(x.shape)} (expected 'float32', 'float64' or 'int32')`);
    }
    const out = arrayFor(dtype, x.size);
    out.set(x.data);
    return { out: new Tensor(out, x.shape), saved: { from: x.dtype } };
  },
  // d cast(x) = cast back to x's dtype (dy)
  backward: ({ from }, g) => [cast(g, from)],
  // ẏ = cast(ẋ)
  jvp: ({ args: [, dtype] }, [t]) => cast(t, dtype),
});

const addOp: PrimitiveFn<'add'> = definePrimitive('add', {
  forward: (a, b) => ({ out: binaryRaw('add', a, b, a.dtype), saved: null }),
  // d(a + b) = da + db
  backward: (_, g) => [g, g],
  // ẏ = ȧ + ḃ
  jvp: (_, [ta, tb]) => add(ta, tb),
});

const mulOp: PrimitiveFn<'mul'> = definePrimitive('mul', {
  forward: (a, b) => ({ out: binaryRaw('mul', a, b, a.dtype), saved: { a, b } }),
  // d(a · b) = b da + a db
  backward: ({ a, b }, g, [needA, needB]) => [needA ? mul(g, b) : null, needB ? mul(g, a) : null],
  // ẏ = ȧ b + a ḃ
  jvp: ({ saved: { a, b } }, [ta, tb]) => add(mul(ta, b), mul(a, tb)),
});

const divOp: PrimitiveFn<'div'> = definePrimitive('div', {
  forward: (a, b) => ({ out: binaryRaw('div', a, b, a.dtype), saved: { a, b } }),
  // d(a / b) = da / b − a db / b²   (computed as (g / b)(a / b): b² underflows for |b| < 1e-19 in float32)
  backward: ({ a, b }, g, [needA, needB]) => [needA ? div(g, b) : null, needB ? neg(mul(div(g, b), div(a, b))) : null],
  // ẏ = (ȧ − y ḃ) / b
  jvp: ({ saved: { b }, out }, [ta, tb]) => div(sub(ta, mul(out, tb)), b),
});

const powOp: PrimitiveFn<'pow'> = definePrimitive('pow', {
  forward: (a, b) => ({ out: binaryRaw('pow', a, b, a.dtype), saved: { a, b } }),
  // d(a^b) = b a^(b−1) da + a^b ln(a) db
  // (the da term is 0 at a = b = 0, where 0 · 0^(−1) would be NaN; the db term is 0 where a = 0
  //  and b ≥ 0; both as in PyTorch)
  backward: ({ a, b }, g, [needA, needB]) => [needA ? mul(g, powPartialA(a, b)) : null, needB ? mul(g, powPartialB(a, b)) : null],
  // ẏ = b a^(b−1) ȧ + a^b ln(a) ḃ
  jvp: ({ saved: { a, b } }, [ta, tb]) => add(mul(ta, powPartialA(a, b)), mul(tb, powPartialB(a, b))),
});

/** ∂(a^b)/∂a = b a^(b−1), 0 where a = b = 0. */
function powPartialA(a: Tensor, b: Tensor): Tensor {
  const bothZero = binaryRaw('mul', compare('eq', a, 0), compare('eq', b, 0), a.dtype);
  return where(bothZero, 0, mul(b, pow(a, sub(b, 1))));
}

/** ∂(a^b)/∂b = a^b ln(a), 0 where a = 0 and b ≥ 0. */
function powPartialB(a: Tensor, b: Tensor): Tensor {
  const zeroBase = binaryRaw('mul', compare('eq', a, 0), compare('ge', b, 0), a.dtype);
  const keep = binaryRaw('add', unaryRaw('neg', zeroBase), full([], 1, { dtype: a.dtype }), a.dtype);
  return mul(pow(a, b), mul(log(where(keep, a, 1)), keep));
}

/**
 * −x elementwise.
 *
 * A primitive though `x · (−1)` is as fast: the scan compiler compiles `neg` by name.
 *
 * @example
 * neg(tensor([1, -2])); // [-1, 2]
 */
export const neg: PrimitiveFn<'neg'> = definePrimitive('neg', {
  forward(x) {
    assertFloat('neg', 'x', x);
    return { out: unaryRaw('neg', x), saved: null };
  },
  // d(−x) = −dx
  backward: (_, g) => [neg(g)],
  // ẏ = −ẋ
  jvp: (_, [t]) => neg(t),
});

/**
 * eˣ elementwise.
 *
 * @example
 * exp(tensor([0, 1])); // [1, 2.71828]
 */
export const exp: PrimitiveFn<'exp'> = definePrimitive('exp', {
  forward(x) {
    assertFloat('exp', 'x', x);
    const y = unaryRaw('exp', x);
    return { out: y, saved: { y } };
  },
  // d exp(x) = exp(x) dx, from the saved output: it is this op's own output in the graph, so
  // a backward that records (createGraph) still differentiates through it, back to x.
  backward: ({ y }, g) => [mul(g, y)],
  // ẏ = y ẋ
  jvp: ({ out }, [t]) => mul(t, out),
});

/**
 * Natural logarithm ln x elementwise (−Infinity at 0, NaN below).
 *
 * @example
 * log(tensor([1, Math.E])); // [0, 1]
 */
export const log: PrimitiveFn<'log'> = definePrimitive('log', {
  forward(x) {
    assertFloat('log', 'x', x);
    return { out: unaryRaw('log', x), saved: { x } };
  },
  // d ln(x) = dx / x
  backward: ({ x }, g) => [div(g, x)],
  // ẏ = ẋ / x
  jvp: ({ saved: { x } }, [t]) => div(t, x),
});

/**
 * √x elementwise.
 *
 * @example
 * sqrt(tensor([4, 9])); // [2, 3]
 */
export const sqrt: PrimitiveFn<'sqrt'> = definePrimitive('sqrt', {
  forward(x) {
    assertFloat('sqrt', 'x', x);
    return { out: unaryRaw('sqrt', x), saved: { x } };
  },
  // d √x = dx / (2 √x)
  backward: ({ x }, g) => [div(g, mul(sqrt(x), 2))],
  // ẏ = ẋ / (2 y)
  jvp: ({ out }, [t]) => div(t, mul(out, 2)),
});

/**
 * The rule of a piecewise-linear primitive y = f(x) (abs, relu): its derivative is a slope
 * with a kernel of its own (sign(x) for abs, [x > 0] for relu, both 0 at x = 0 as in PyTorch),
 * so the backward and the forward-mode rule are each one product with it.
 */
function piecewiseLinear<P extends 'abs' | 'relu'>(name: P, slope: 'sign' | 'reluMask'): PrimitiveFn<P> {
  const rule: Rule<'abs' | 'relu', { x: Tensor }> = {
    forward(x) {
      assertFloat(name, 'x', x);
      return { out: unaryRaw(name, x), saved: { x } };
    },
    // d f(x) = slope(x) dx
    backward: ({ x }, g) => [mul(g, unaryRaw(slope, x))],
    // ẏ = slope(x) ẋ
    jvp: ({ saved: { x } }, [t]) => mul(t, unaryRaw(slope, x)),
  };
  return definePrimitive(name, rule as Rule<P, { x: Tensor }>);
}

/**
 * |x| elementwise: d |x| = sign(x) dx, so its gradient at 0 is 0, as in PyTorch.
 *
 * A primitive, not `where(x < 0, −x, x)`: the composite runs three ops and is measured over 2× slower.
 *
 * @example
 * abs(tensor([-2, 3])); // [2, 3]
 */
export const abs: PrimitiveFn<'abs'> = piecewiseLinear('abs', 'sign');

/**
 * tanh x elementwise.
 *
 * @example
 * tanh(tensor([0])); // [0]
 */
export const tanh: PrimitiveFn<'tanh'> = definePrimitive('tanh', {
  forward(x) {
    assertFloat('tanh', 'x', x);
    const y = unaryRaw('tanh', x);
    return { out: y, saved: { y } };
  },
  // d tanh(x) = (1 − y²) dx with y the saved output (differentiable back to x under createGraph)
  backward: ({ y }, g) => [mul(g, sub(1, mul(y, y)))],
  // ẏ = (1 − y²) ẋ
  jvp: ({ out }, [t]) => mul(t, sub(1, mul(out, out))),
});

/**
 * σ(x) = 1 / (1 + e⁻ˣ) elementwise.
 *
 * @example
 * sigmoid(tensor([0])); // [0.5]
 */
export const sigmoid: PrimitiveFn<'sigmoid'> = definePrimitive('sigmoid', {
  forward(x) {
    assertFloat('sigmoid', 'x', x);
    const y = unaryRaw('sigmoid', x);
    return { out: y, saved: { y } };
  },
  // d σ(x) = y (1 − y) dx with y the saved output (differentiable back to x under createGraph)
  backward: ({ y }, g) => [mul(g, mul(y, sub(1, y)))],
  // ẏ = y (1 − y) ẋ
  jvp: ({ out }, [t]) => mul(t, mul(out, sub(1, out))),
});

/**
 * max(x, 0) elementwise: d relu(x) = [x > 0] dx, so its gradient at 0 is 0.
 *
 * A primitive, not `maximum(x, 0)`: that gives ½ the gradient at x = 0 (relu gives 0, as PyTorch) and is slower.
 *
 * @example
 * relu(tensor([-1, 2])); // [0, 2]
 */
export const relu: PrimitiveFn<'relu'> = piecewiseLinear('relu', 'reluMask');

// A primitive, not `minimum(maximum(x, lo), hi)`: that gives ½ the gradient at the bounds (clamp gives 1, as PyTorch) and is measured 3× slower.
const clampOp: PrimitiveFn<'clamp'> = definePrimitive('clamp', {
  forward(x, lo, hi) {
    const out = arrayFor(x.dtype, x.size);
    const inside = arrayFor(x.dtype, x.size);
    const d = x.data;
    for (let i = 0; i < d.length; i++) {
      const v = d[i]!;
      // min(max(v, lo), hi): with lo > hi every value becomes hi, as torch.clamp
      out[i] = v < lo ? (lo > hi ? hi : lo) : v > hi ? hi : v;
      inside[i] = v >= lo && v <= hi ? 1 : 0;
    }
    return { out: new Tensor(out, x.shape), saved: { inside: new Tensor(inside, x.shape) } };
  },
  // d clamp(x) = [lo ≤ x ≤ hi] dx
  backward: ({ inside }, g) => [mul(g, inside)],
  // ẏ = [lo ≤ x ≤ hi] ẋ
  jvp: ({ saved: { inside } }, [t]) => mul(t, inside),
});

// maximum and minimum share one rule: only the comparison that picks the winner differs.
// minimum is a primitive, not `−maximum(−a, −b)`: the same values, but three more ops, measured 1.4× slower.
function extremumRule(name: 'maximum' | 'minimum'): Rule<'maximum' | 'minimum', { weightA: Tensor }> {
  return {
    forward(a, b) {
      // weightA = 1 where a wins, ½ where a and b tie, 0 where b wins.
      const aWins = binaryRaw(name === 'maximum' ? 'gt' : 'lt', a, b, a.dtype, name);
      const tie = binaryRaw('eq', a, b, a.dtype, name);
      const weightA = binaryRaw('add', aWins, binaryRaw('mul', tie, full([], 0.5, { dtype: a.dtype }), a.dtype), a.dtype);
      return { out: binaryRaw(name, a, b, a.dtype), saved: { weightA } };
    },
    // d max(a, b) = [a > b] da + [b > a] db  (½ each on ties)
    backward: ({ weightA }, g, [needA, needB]) => [needA ? mul(g, weightA) : null, needB ? mul(g, sub(1, weightA)) : null],
    // ẏ = [a > b] ȧ + [b > a] ḃ  (½ each on ties)
    jvp: ({ saved: { weightA } }, [ta, tb]) => add(mul(ta, weightA), mul(tb, sub(1, weightA))),
  };
}
const maximumOp: PrimitiveFn<'maximum'> = definePrimitive('maximum', extremumRule('maximum'));
const minimumOp: PrimitiveFn<'minimum'> = definePrimitive('minimum', extremumRule('minimum'));

const whereOp: PrimitiveFn<'where'> = definePrimitive('where', {
  forward(cond, a, b) {
    const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, a.shape, ['cond', 'a']), b.shape, ['cond/a', 'b']);
    const n = numel(shape);
    const c = arrayFor(a.dtype, n);
    const x = arrayFor(a.dtype, n);
    const y = arrayFor(a.dtype, n);
    broadcastCopy(c, shape, cond.data, cond.shape);
    broadcastCopy(x, shape, a.data, a.shape);
    broadcastCopy(y, shape, b.data, b.shape);
    for (let i = 0; i < n; i++) {
      const on = c[i] !== 0;
      c[i] = on ? 1 : 0;
      x[i] = on ? x[i]! : y[i]!;
    }
    return { out: new Tensor(x, shape), saved: { mask: new Tensor(c, shape) } };
  },
  // d where(c, a, b) = [c] da + [¬c] db   (c gets no gradient)
  backward: ({ mask }, g, [, needA, needB]) => [null, needA ? mul(g, mask) : null, needB ? mul(g, sub(1, mask)) : null],
  // ẏ = where(c, ȧ, ḃ)
  jvp: ({ saved: { mask } }, [, ta, tb]) => whereOp(mask, ta, tb),
});

/** The rules of the elementwise primitives. */
export const elementwiseRules = {
  add: addOp.rule, mul: mulOp.rule, div: divOp.rule, neg: neg.rule, pow: powOp.rule, exp: exp.rule, log: log.rule,
  sqrt: sqrt.rule, abs: abs.rule, tanh: tanh.rule, sigmoid: sigmoid.rule, relu: relu.rule, clamp: clampOp.rule,
  maximum: maximumOp.rule, minimum: minimumOp.rule, where: whereOp.rule, cast: cast.rule,
};

// ---------------------------------------------------------------------------------------
// Public functions (numbers accepted where PyTorch accepts them)
// ---------------------------------------------------------------------------------------

/** a + b, broadcasting. @example add(x, 1) */
export function add(a: Operand, b: Operand): Tensor {
  return addOp(...binaryOperands('add', a, b));
}
/** a − b, broadcasting (composed: a + (−b)). */
export function sub(a: Operand, b: Operand): Tensor {
  const [ta, tb] = binaryOperands('sub', a, b);
  return addOp(ta, neg(tb));
}
/** a · b elementwise, broadcasting. */
export function mul(a: Operand, b: Operand): Tensor {
  return mulOp(...binaryOperands('mul', a, b));
}
/** a / b elementwise, broadcasting. */
export function div(a: Operand, b: Operand): Tensor {
  return divOp(...binaryOperands('div', a, b));
}
/** a ** b elementwise; b a tensor or a number. */
export function pow(a: Operand, b: Operand): Tensor {
  return powOp(...binaryOperands('pow', a, b));
}
/** x² (composed). */
export function square(x: Tensor): Tensor {
  return mul(x, x);
}
/** Elementwise maximum of two tensors. */
export function maximum(a: Operand, b: Operand): Tensor {
  return maximumOp(...binaryOperands('maximum', a, b));
}
/** Elementwise minimum of two tensors. */
export function minimum(a: Operand, b: Operand): Tensor {
  return minimumOp(...binaryOperands('minimum', a, b));
}
/** Limits values to [min, max]; either bound may be omitted. */
export function clamp(x: Tensor, min?: number | null, max?: number | null): Tensor {
  assertFloat('clamp', 'x', x);
  const lo = min ?? -Infinity;
  const hi = max ?? Infinity;
  if (Number.isNaN(lo) || Number.isNaN(hi)) throw new SeqgradError('clamp', `bounds must not be NaN (min=${min}, max=${max})`);
  if (min == null && max == null) throw new SeqgradError('clamp', 'at least one of min and max must be given');
  return clampOp(x, lo, hi);
}
/** Picks a where `cond` is non-zero, else b (broadcasting all three). `cond` gets no gradient. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  if (!(cond instanceof Tensor)) throw new SeqgradError('where', `cond must be a Tensor, got ${describe(cond)}`);
  const like = cond.dtype === 'int32' ? full([], 0) : cond;
  const [ta, tb] = binaryOperands('where', a instanceof Tensor || b instanceof Tensor ? a : toTensor('where', 'a', a, like), b);
  broadcastShapes('where', cond.shape, broadcastShapes('where', ta.shape, tb.shape), ['cond', 'a/b']);
  return whereOp(cond, ta, tb);
}
/** A differentiable copy with its own buffer. */
export function clone(x: Tensor): Tensor {
  if (!(x instanceof Tensor)) throw new SeqgradError('clone', `x must be a Tensor, got ${describe(x)}`);
  return cast(x, x.dtype);
}

function compare(op: BinaryOp, a: Operand, b: Operand): Tensor {
  const [ta, tb] = operandTensors(op, a, b);
  return binaryRaw(op, ta, tb, promoteDtype(ta.dtype, tb.dtype));
}
/**
 * Comparisons a = b, a ≠ b, a < b, a ≤ b, a > b, a ≥ b, broadcasting: masks (1 where true,
 * 0 where false) in the inputs' float dtype; no gradient.
 *
 * @example
 * lt(tensor([1, 5]), 3); // [1, 0]
 */
export const eq = (a: Operand, b: Operand): Tensor => compare('eq', a, b);
/** a ≠ b as a mask (see {@link eq}). */
export const ne = (a: Operand, b: Operand): Tensor => compare('ne', a, b);
/** a < b as a mask (see {@link eq}). */
export const lt = (a: Operand, b: Operand): Tensor => compare('lt', a, b);
/** a ≤ b as a mask (see {@link eq}). */
export const le = (a: Operand, b: Operand): Tensor => compare('le', a, b);
/** a > b as a mask (see {@link eq}). */
export const gt = (a: Operand, b: Operand): Tensor => compare('gt', a, b);
/** a ≥ b as a mask (see {@link eq}). */
export const ge = (a: Operand, b: Operand): Tensor => compare('ge', a, b);

