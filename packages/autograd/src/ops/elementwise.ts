import { SeqgradError, broadcastShapes, fmt, numel } from '../errors.js';
import { type BinaryOp, type UnaryOp, binaryBroadcast, broadcastCopy, unary } from '../kernels/elementwise.js';
import { type DType, Tensor, arrayFor, full } from '../tensor.js';
import { type Operand, assertFloat, defineOp, describe, promoteDtype } from './op.js';
import { sumTo } from './reduce.js';

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

/** Converts to `dtype` (a copy). d cast(x) = cast⁻¹(dy) */
export const cast: (x: Tensor, dtype: DType) => Tensor = defineOp('cast',
  (ctx, x: Tensor, dtype: DType) => {
    if (!(x instanceof Tensor)) throw new SeqgradError('cast', `x must be a Tensor, got ${describe(x)}`);
    if (dtype !== 'float32' && dtype !== 'float64' && dtype !== 'int32') {
      throw new SeqgradError('cast', `unknown dtype ${typeof dtype === 'string' ? `'${dtype}'` : String(dtype)} for x${fmt(x.shape)} (expected 'float32', 'float64' or 'int32')`);
    }
    ctx.from = x.dtype;
    const out = arrayFor(dtype, x.size);
    out.set(x.data);
    return new Tensor(out, x.shape);
  },
  (ctx, g) => [cast(g, ctx.from as DType), null],
);

const addOp: (a: Tensor, b: Tensor) => Tensor = defineOp('add',
  (ctx, a: Tensor, b: Tensor) => {
    ctx.aShape = a.shape;
    ctx.bShape = b.shape;
    return binaryRaw('add', a, b, a.dtype);
  },
  // d(a + b) = da + db, each summed back to its input's shape
  (ctx, g) => [
    ctx.needsInputGrad[0] ? sumTo(g, ctx.aShape as number[]) : null,
    ctx.needsInputGrad[1] ? sumTo(g, ctx.bShape as number[]) : null,
  ],
);

const mulOp: (a: Tensor, b: Tensor) => Tensor = defineOp('mul',
  (ctx, a: Tensor, b: Tensor) => {
    ctx.saveForBackward(a, b);
    return binaryRaw('mul', a, b, a.dtype);
  },
  // d(a · b) = b da + a db
  (ctx, g) => {
    const [a, b] = ctx.savedTensors as [Tensor, Tensor];
    return [
      ctx.needsInputGrad[0] ? sumTo(mul(g, b), a.shape) : null,
      ctx.needsInputGrad[1] ? sumTo(mul(g, a), b.shape) : null,
    ];
  },
);

const divOp: (a: Tensor, b: Tensor) => Tensor = defineOp('div',
  (ctx, a: Tensor, b: Tensor) => {
    ctx.saveForBackward(a, b);
    return binaryRaw('div', a, b, a.dtype);
  },
  // d(a / b) = da / b − a db / b²   (computed as (g / b)(a / b): b² underflows for |b| < 1e-19 in float32)
  (ctx, g) => {
    const [a, b] = ctx.savedTensors as [Tensor, Tensor];
    return [
      ctx.needsInputGrad[0] ? sumTo(div(g, b), a.shape) : null,
      ctx.needsInputGrad[1] ? sumTo(neg(mul(div(g, b), div(a, b))), b.shape) : null,
    ];
  },
);

const powOp: (a: Tensor, b: Tensor) => Tensor = defineOp('pow',
  (ctx, a: Tensor, b: Tensor) => {
    ctx.saveForBackward(a, b);
    return binaryRaw('pow', a, b, a.dtype);
  },
  // d(a^b) = b a^(b−1) da + a^b ln(a) db
  // (the da term is 0 at a = b = 0, where 0 · 0^(−1) would be NaN; the db term is 0 where a = 0
  //  and b ≥ 0; both as in PyTorch)
  (ctx, g) => {
    const [a, b] = ctx.savedTensors as [Tensor, Tensor];
    let da: Tensor | null = null;
    if (ctx.needsInputGrad[0]) {
      const bothZero = binaryRaw('mul', compare('eq', a, 0), compare('eq', b, 0), a.dtype);
      da = sumTo(mul(g, where(bothZero, 0, mul(b, pow(a, sub(b, 1))))), a.shape);
    }
    let db: Tensor | null = null;
    if (ctx.needsInputGrad[1]) {
      const zeroBase = binaryRaw('mul', compare('eq', a, 0), compare('ge', b, 0), a.dtype);
      const keep = binaryRaw('add', unaryRaw('neg', zeroBase), full([], 1, { dtype: a.dtype }), a.dtype);
      const logA = log(where(keep, a, 1));
      db = sumTo(mul(mul(g, pow(a, b)), mul(logA, keep)), b.shape);
    }
    return [da, db];
  },
);

/**
 * −x elementwise.
 *
 * @example
 * neg(tensor([1, -2])); // [-1, 2]
 */
export const neg: (x: Tensor) => Tensor = defineOp('neg',
  (_ctx, x: Tensor) => {
    assertFloat('neg', 'x', x);
    return unaryRaw('neg', x);
  },
  // d(−x) = −dx
  (_ctx, g) => neg(g),
);

/**
 * eˣ elementwise.
 *
 * @example
 * exp(tensor([0, 1])); // [1, 2.71828]
 */
export const exp: (x: Tensor) => Tensor = defineOp('exp',
  (ctx, x: Tensor) => {
    assertFloat('exp', 'x', x);
    const y = unaryRaw('exp', x);
    ctx.saveForBackward(y);
    return y;
  },
  // d exp(x) = exp(x) dx, from the saved output: it is this op's own output in the graph, so
  // a backward that records (createGraph) still differentiates through it, back to x.
  (ctx, g) => mul(g, ctx.savedTensors[0]!),
);

/**
 * Natural logarithm ln x elementwise (−Infinity at 0, NaN below).
 *
 * @example
 * log(tensor([1, Math.E])); // [0, 1]
 */
export const log: (x: Tensor) => Tensor = defineOp('log',
  (ctx, x: Tensor) => {
    assertFloat('log', 'x', x);
    ctx.saveForBackward(x);
    return unaryRaw('log', x);
  },
  // d ln(x) = dx / x
  (ctx, g) => div(g, ctx.savedTensors[0]!),
);

/**
 * √x elementwise.
 *
 * @example
 * sqrt(tensor([4, 9])); // [2, 3]
 */
export const sqrt: (x: Tensor) => Tensor = defineOp('sqrt',
  (ctx, x: Tensor) => {
    assertFloat('sqrt', 'x', x);
    ctx.saveForBackward(x);
    return unaryRaw('sqrt', x);
  },
  // d √x = dx / (2 √x)
  (ctx, g) => div(g, mul(sqrt(ctx.savedTensors[0]!), 2)),
);

/**
 * |x| elementwise; its gradient at 0 is 0, as in PyTorch.
 *
 * @example
 * abs(tensor([-2, 3])); // [2, 3]
 */
export const abs: (x: Tensor) => Tensor = defineOp('abs',
  (ctx, x: Tensor) => {
    assertFloat('abs', 'x', x);
    ctx.saveForBackward(x);
    return unaryRaw('abs', x);
  },
  // d |x| = sign(x) dx   (0 at x = 0, as in PyTorch)
  (ctx, g) => mul(g, unaryRaw('sign', ctx.savedTensors[0]!)),
);

/**
 * tanh x elementwise.
 *
 * @example
 * tanh(tensor([0])); // [0]
 */
export const tanh: (x: Tensor) => Tensor = defineOp('tanh',
  (ctx, x: Tensor) => {
    assertFloat('tanh', 'x', x);
    const y = unaryRaw('tanh', x);
    ctx.saveForBackward(y);
    return y;
  },
  // d tanh(x) = (1 − y²) dx with y the saved output (differentiable back to x under createGraph)
  (ctx, g) => {
    const y = ctx.savedTensors[0]!;
    return mul(g, sub(1, mul(y, y)));
  },
);

/**
 * σ(x) = 1 / (1 + e⁻ˣ) elementwise.
 *
 * @example
 * sigmoid(tensor([0])); // [0.5]
 */
export const sigmoid: (x: Tensor) => Tensor = defineOp('sigmoid',
  (ctx, x: Tensor) => {
    assertFloat('sigmoid', 'x', x);
    const y = unaryRaw('sigmoid', x);
    ctx.saveForBackward(y);
    return y;
  },
  // d σ(x) = y (1 − y) dx with y the saved output (differentiable back to x under createGraph)
  (ctx, g) => {
    const y = ctx.savedTensors[0]!;
    return mul(g, mul(y, sub(1, y)));
  },
);

/**
 * max(x, 0) elementwise; its gradient at 0 is 0.
 *
 * @example
 * relu(tensor([-1, 2])); // [0, 2]
 */
export const relu: (x: Tensor) => Tensor = defineOp('relu',
  (ctx, x: Tensor) => {
    assertFloat('relu', 'x', x);
    ctx.saveForBackward(x);
    return unaryRaw('relu', x);
  },
  // d relu(x) = [x > 0] dx
  (ctx, g) => mul(g, unaryRaw('reluMask', ctx.savedTensors[0]!)),
);

const clampOp: (x: Tensor, lo: number, hi: number) => Tensor = defineOp('clamp',
  (ctx, x: Tensor, lo: number, hi: number) => {
    const out = arrayFor(x.dtype, x.size);
    const mask = arrayFor(x.dtype, x.size);
    const d = x.data;
    for (let i = 0; i < d.length; i++) {
      const v = d[i]!;
      // min(max(v, lo), hi): with lo > hi every value becomes hi, as torch.clamp
      out[i] = v < lo ? (lo > hi ? hi : lo) : v > hi ? hi : v;
      mask[i] = v >= lo && v <= hi ? 1 : 0;
    }
    ctx.mask = new Tensor(mask, x.shape);
    return new Tensor(out, x.shape);
  },
  // d clamp(x) = [lo ≤ x ≤ hi] dx
  (ctx, g) => [mul(g, ctx.mask as Tensor), null, null],
);

const extremumOp = (name: 'maximum' | 'minimum') =>
  defineOp(name,
    (ctx, a: Tensor, b: Tensor) => {
      // Where a and b tie, each gets half the gradient (PyTorch's rule).
      const win = binaryRaw(name === 'maximum' ? 'gt' : 'lt', a, b, a.dtype, name);
      const tie = binaryRaw('eq', a, b, a.dtype, name);
      const wa = binaryRaw('add', win, binaryRaw('mul', tie, full([], 0.5, { dtype: a.dtype }), a.dtype), a.dtype);
      ctx.wa = wa;
      ctx.aShape = a.shape;
      ctx.bShape = b.shape;
      return binaryRaw(name, a, b, a.dtype);
    },
    // d max(a, b) = [a > b] da + [b > a] db  (½ each on ties)
    (ctx, g) => {
      const wa = ctx.wa as Tensor;
      return [
        ctx.needsInputGrad[0] ? sumTo(mul(g, wa), ctx.aShape as number[]) : null,
        ctx.needsInputGrad[1] ? sumTo(mul(g, sub(1, wa)), ctx.bShape as number[]) : null,
      ];
    },
  );
const maximumOp = extremumOp('maximum');
const minimumOp = extremumOp('minimum');

const whereOp: (cond: Tensor, a: Tensor, b: Tensor) => Tensor = defineOp('where',
  (ctx, cond: Tensor, a: Tensor, b: Tensor) => {
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
    ctx.mask = new Tensor(c, shape);
    ctx.aShape = a.shape;
    ctx.bShape = b.shape;
    return new Tensor(x, shape);
  },
  // d where(c, a, b) = [c] da + [¬c] db
  (ctx, g) => {
    const m = ctx.mask as Tensor;
    return [
      null,
      ctx.needsInputGrad[1] ? sumTo(mul(g, m), ctx.aShape as number[]) : null,
      ctx.needsInputGrad[2] ? sumTo(mul(g, sub(1, m)), ctx.bShape as number[]) : null,
    ];
  },
);

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

