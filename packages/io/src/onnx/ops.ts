/**
 * The ONNX operators seqgrad runs, each as a function of its input tensors and attributes,
 * built from differentiable autograd ops so an imported model trains. Integer tensors (shapes,
 * indices: ONNX int64, here int32) go through the same shape ops; their arithmetic runs in
 * float64 and is cast back, exact in the int32 range.
 */
import {
  SeqgradError, Tensor, abs, add, defineFunction, square, sum, cast, concat, div, exp, expand, fmt, indexSelect, log, logSoftmax, matmul, mean, mul, neg,
  permute, pow, relu, reshape, sigmoid, slice, softmax, sqrt, sub, tanh, variance, where, gt, maximum, minimum, clamp,
} from '@seqgrad/autograd';
import type { RNNBase } from '@seqgrad/layers';
import { AttrType, type AttributeMsg, DataType, int64ToNumber } from './proto.js';
import { decodeTensor } from './tensors.js';

export const OP = 'importOnnx';

/** What an operator sees: its inputs (null where the name is empty), attributes and where it is. */
export interface OpContext {
  /** `node 3 (Gather '/rnn/Gather')`, for error messages. */
  where: string;
  inputs: (Tensor | null)[];
  attrs: Map<string, AttributeMsg>;
  /** Float dtype of the imported model. */
  dtype: 'float32' | 'float64';
  /** The model's default-domain opset (semantics of Softmax, Slice and Clip changed at 13, 10, 11). */
  opset: number;
  /** The seqgrad layer an RNN/LSTM/GRU node runs (built at import from its W, R, B). */
  layer?: RNNBase;
  numOutputs: number;
}

export type OpImpl = (c: OpContext) => (Tensor | null)[];

function fail(c: OpContext, msg: string): never {
  throw new SeqgradError(OP, `${c.where}: ${msg}`);
}

/**
 * The most elements an operator may create from sizes the file gives (ConstantOfShape,
 * Expand): 2²⁷ (512 MB of float32), so a few bytes of graph cannot ask for unbounded memory.
 */
export const MAX_CREATED_ELEMENTS = 2 ** 27;

function checkCreated(c: OpContext, shape: readonly number[]): void {
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) fail(c, `shape ${fmt(shape)} has a negative or non-integer size`);
  const n = shape.reduce((p, d) => p * d, 1);
  if (n > MAX_CREATED_ELEMENTS) fail(c, `shape ${fmt(shape)} asks for ${n} elements, more than the ${MAX_CREATED_ELEMENTS} seqgrad creates from sizes in a file`);
}

export function attrInt(c: OpContext, name: string, dflt?: number): number {
  const a = c.attrs.get(name);
  if (!a) {
    if (dflt === undefined) fail(c, `attribute '${name}' is required`);
    return dflt;
  }
  if (a.type !== undefined && a.type !== AttrType.INT) fail(c, `attribute '${name}' must be an int`);
  return int64ToNumber(a.i);
}
export function attrFloat(c: OpContext, name: string, dflt: number): number {
  const a = c.attrs.get(name);
  if (!a) return dflt;
  if (a.type !== undefined && a.type !== AttrType.FLOAT) fail(c, `attribute '${name}' must be a float`);
  return a.f ?? 0;
}
export function attrInts(c: OpContext, name: string): number[] | undefined {
  const a = c.attrs.get(name);
  if (!a) return undefined;
  if (a.type !== undefined && a.type !== AttrType.INTS) fail(c, `attribute '${name}' must be a list of ints`);
  return (a.ints ?? []).map(int64ToNumber);
}
export function attrString(c: OpContext, name: string, dflt: string): string {
  const a = c.attrs.get(name);
  if (!a) return dflt;
  if (a.type !== undefined && a.type !== AttrType.STRING) fail(c, `attribute '${name}' must be a string`);
  return new TextDecoder().decode(a.s ?? new Uint8Array());
}
export function attrStrings(c: OpContext, name: string): string[] | undefined {
  const a = c.attrs.get(name);
  if (!a) return undefined;
  if (a.type !== undefined && a.type !== AttrType.STRINGS) fail(c, `attribute '${name}' must be a list of strings`);
  return (a.strings ?? []).map((s) => new TextDecoder().decode(s));
}

function need(c: OpContext, i: number, what: string): Tensor {
  const t = c.inputs[i];
  if (!t) fail(c, `input ${i} (${what}) is required`);
  return t;
}
function needFloat(c: OpContext, i: number, what: string): Tensor {
  const t = need(c, i, what);
  if (t.dtype === 'int32') fail(c, `input ${i} (${what})${fmt(t.shape)} must be a float tensor, got an integer one`);
  return t;
}
/** An integer input as plain numbers (shapes, axes, starts …). */
function ints(c: OpContext, i: number, what: string): number[] {
  const t = need(c, i, what);
  if (t.dtype !== 'int32') fail(c, `input ${i} (${what}) must be an integer tensor, got ${t.dtype}`);
  return Array.from(t.data);
}
function normAxis(c: OpContext, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) fail(c, `axis ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

/** Elementwise arithmetic for float (differentiable) and integer (exact, via float64) tensors. */
function arith(f: (a: Tensor, b: Tensor) => Tensor, intRound?: (v: number) => number): OpImpl {
  return (c) => {
    const a = need(c, 0, 'A');
    const b = need(c, 1, 'B');
    if (a.dtype === 'int32' && b.dtype === 'int32') {
      const r = f(cast(a, 'float64'), cast(b, 'float64'));
      if (intRound) for (let i = 0; i < r.data.length; i++) r.data[i] = intRound(r.data[i]!);
      return [cast(r, 'int32')];
    }
    if (a.dtype === 'int32' || b.dtype === 'int32') fail(c, `A${fmt(a.shape)} is ${a.dtype} and B${fmt(b.shape)} is ${b.dtype}; ONNX needs one type`);
    return [f(a, b)];
  };
}

function unary(f: (x: Tensor) => Tensor): OpImpl {
  return (c) => [f(needFloat(c, 0, 'X'))];
}

/** erf in float64: its Taylor series below 2.5, the continued fraction of erfc above, ±1 past 6. */
export function erfScalar(x: number): number {
  const ax = Math.abs(x);
  if (ax > 6) return Math.sign(x);
  if (ax < 2.5) {
    let term = x;
    let total = x;
    for (let n = 1; n < 100 && Math.abs(term) > 1e-17 * Math.abs(total); n++) {
      term *= (-x * x) / n;
      total += term / (2 * n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * total;
  }
  // erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated from the tail.
  let f = ax;
  for (let k = 80; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / (Math.sqrt(Math.PI) * f);
  return Math.sign(x) * (1 - erfc);
}

const erf = defineFunction({
  forward: (ctx, x: Tensor) => {
    ctx.saveForBackward(x);
    const out = x.dtype === 'float64' ? new Float64Array(x.size) : new Float32Array(x.size);
    for (let i = 0; i < out.length; i++) out[i] = erfScalar(x.data[i]!);
    return new Tensor(out, x.shape);
  },
  // d erf(x) = 2/√π · e^{−x²} dx
  backward: (ctx, g) => {
    const [x] = ctx.savedTensors as [Tensor];
    return mul(g, mul(exp(neg(square(x))), 2 / Math.sqrt(Math.PI)));
  },
});

/** ELU: x for x > 0, α(eˣ − 1) otherwise (SELU scales it by γ). */
function elu(x: Tensor, alpha: number): Tensor {
  return where(gt(x, 0), x, mul(sub(exp(minimum(x, 0)), 1), alpha));
}

/** ReduceMean / ReduceSum: axes from the input (opset 13 ReduceSum, 18+) or the attribute. */
function reduce(f: typeof sum): OpImpl {
  return (c) => {
    const x = needFloat(c, 0, 'data');
    const given = c.inputs[1] ? ints(c, 1, 'axes') : attrInts(c, 'axes');
    const keep = attrInt(c, 'keepdims', 1) === 1;
    if (!given || given.length === 0) {
      if (attrInt(c, 'noop_with_empty_axes', 0) === 1) return [x];
      return [f(x, undefined, keep)];
    }
    return [f(x, given.map((a) => normAxis(c, a, x.ndim)), keep)];
  };
}

const INTEGER_TYPES: ReadonlySet<number> = new Set([
  DataType.INT32, DataType.INT64, DataType.INT8, DataType.INT16, DataType.UINT8, DataType.UINT16, DataType.UINT32, DataType.UINT64,
]);

/** Cast: float types to the model's float dtype, integer types to int32 (truncating toward zero). */
function castTo(c: OpContext, t: Tensor, to: number): Tensor {
  if (to === DataType.FLOAT || to === DataType.DOUBLE) return t.dtype === c.dtype ? t : cast(t, c.dtype);
  if (INTEGER_TYPES.has(to)) return t.dtype === 'int32' ? t : cast(t, 'int32');
  if (to === DataType.BOOL) {
    const out = new Int32Array(t.size);
    for (let i = 0; i < out.length; i++) out[i] = t.data[i] !== 0 ? 1 : 0;
    return new Tensor(out, t.shape);
  }
  return fail(c, `Cast to data type ${to} is not supported`);
}

/** Gathers along `axis`: out shape = x.shape[:axis] + indices.shape + x.shape[axis+1:]. */
function gatherAxis(c: OpContext, x: Tensor, idx: Tensor, axisAttr: number): Tensor {
  const axis = normAxis(c, axisAttr, x.ndim);
  const n = x.shape[axis]!;
  const flat = Array.from(idx.data, (v) => {
    if (!(v >= -n && v < n)) fail(c, `index ${v} is out of range for axis ${axis} of size ${n} (data${fmt(x.shape)})`);
    return v < 0 ? v + n : v;
  });
  const src = x.dtype === 'int32' ? cast(x, 'float64') : x;
  let y = indexSelect(src, axis, flat);
  y = reshape(y, [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)]);
  return x.dtype === 'int32' ? cast(y, 'int32') : y;
}

function reshapeTarget(c: OpContext, x: Tensor, shape: number[], allowZero: boolean): number[] {
  const out = shape.map((d, i) => (d === 0 && !allowZero ? (i < x.ndim ? x.shape[i]! : fail(c, `shape[${i}] = 0 copies an axis data${fmt(x.shape)} does not have`)) : d));
  const neg = out.filter((d) => d === -1).length;
  if (neg > 1) fail(c, `shape ${fmt(shape)} has more than one -1`);
  if (neg === 1) {
    const known = out.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    if (known === 0 || x.size % known !== 0) fail(c, `data${fmt(x.shape)} cannot be reshaped to ${fmt(shape)}`);
    out[out.indexOf(-1)] = x.size / known;
  }
  if (out.reduce((a, b) => a * b, 1) !== x.size) fail(c, `data${fmt(x.shape)} cannot be reshaped to ${fmt(shape)}`);
  return out;
}

function softmaxLike(f: typeof softmax): OpImpl {
  return (c) => {
    const x = needFloat(c, 0, 'input');
    if (c.opset >= 13) return [f(x, normAxis(c, attrInt(c, 'axis', -1), x.ndim))];
    // Before opset 13 the input is seen as 2-D, (∏ shape[:axis], ∏ shape[axis:]), default axis 1.
    const axis = normAxis(c, attrInt(c, 'axis', 1), x.ndim);
    const rows = x.shape.slice(0, axis).reduce((p, d) => p * d, 1);
    return [reshape(f(reshape(x, [rows, x.size / rows]), 1), x.shape)];
  };
}

/** The activation names each recurrent operator accepts: exactly the ones seqgrad's layers compute. */
function checkActivations(c: OpContext, want: string[][], D: number): void {
  const acts = attrStrings(c, 'activations');
  if (acts === undefined) return;
  const ok = want.some((w) => acts.length === w.length * D && acts.every((a, i) => a.toLowerCase() === w[i % w.length]!.toLowerCase()));
  if (!ok) fail(c, `activations [${acts.join(', ')}] are not supported (seqgrad runs ${want.map((w) => `[${w.join(', ')}]`).join(' or ')} per direction)`);
}

/** Validates an RNN/LSTM/GRU node's attributes (everything seqgrad's layers do not compute is refused). */
export function checkRecurrentAttrs(c: OpContext, opType: string): void {
  const direction = attrString(c, 'direction', 'forward');
  if (direction !== 'forward' && direction !== 'bidirectional') fail(c, `direction '${direction}' is not supported (forward or bidirectional)`);
  const D = direction === 'bidirectional' ? 2 : 1;
  if (c.attrs.has('clip')) fail(c, `attribute 'clip' (cell clipping) is not supported`);
  if (opType === 'LSTM' && attrInt(c, 'input_forget', 0) !== 0) fail(c, `input_forget=1 (coupled input and forget gates) is not supported`);
  if (c.attrs.has('activation_alpha') || c.attrs.has('activation_beta')) fail(c, `activation_alpha/activation_beta are not supported`);
  const layout = attrInt(c, 'layout', 0);
  if (layout !== 0 && layout !== 1) fail(c, `layout ${layout} must be 0 or 1`);
  if (opType === 'RNN') checkActivations(c, [['Tanh'], ['Relu']], D);
  if (opType === 'LSTM') checkActivations(c, [['Sigmoid', 'Tanh', 'Tanh']], D);
  if (opType === 'GRU') checkActivations(c, [['Sigmoid', 'Tanh']], D);
}

/** RNN, LSTM, GRU through the seqgrad layer built from the node's weights. */
const recurrent: OpImpl = (c) => {
  const layer = c.layer!;
  const isLSTM = layer.mode === 'LSTM';
  const layout = attrInt(c, 'layout', 0);
  let x = needFloat(c, 0, 'X');
  if (x.ndim !== 3 || x.shape[2] !== layer.inputSize) fail(c, `X${fmt(x.shape)} must be ${layout ? '(B, T' : '(T, B'}, ${layer.inputSize})`);
  if (layout === 1) x = permute(x, [1, 0, 2]);
  const [T, B] = x.shape as [number, number];
  const D = layer.numDirections;
  const H = layer.hiddenSize;
  const lens = c.inputs[4];
  if (lens && (lens.dtype !== 'int32' || lens.ndim !== 1)) fail(c, `sequence_lens${fmt(lens.shape)} must be a 1-D integer tensor`);
  const state = (i: number, what: string): Tensor | null => {
    let s = c.inputs[i];
    if (!s) return null;
    if (layout === 1) s = permute(s, [1, 0, 2]);
    if (s.ndim !== 3 || s.shape[0] !== D || s.shape[1] !== B || s.shape[2] !== H) fail(c, `${what}${fmt(s.shape)} must be (D, B, H) = ${fmt([D, B, H])} (layout ${layout})`);
    return s;
  };
  if (c.inputs[7]) fail(c, `the peephole weights P are not supported`);
  let h0 = state(5, 'initial_h');
  let c0 = isLSTM ? state(6, 'initial_c') : null;
  const zero = () => new Tensor(c.dtype === 'float64' ? new Float64Array(D * B * H) : new Float32Array(D * B * H), [D, B, H]);
  if (isLSTM && (h0 || c0)) {
    h0 ??= zero();
    c0 ??= zero();
  }
  const r = layer.forward(
    x, h0 ? (isLSTM ? { h: h0, c: c0! } : { h: h0 }) : undefined, lens ? { lengths: lens } : {});
  // seqgrad: output (T, B, D·H); ONNX: Y (T, D, B, H) or, with layout 1, (B, T, D, H).
  const y4 = reshape(r.output, [T, B, D, H]);
  const Y = layout === 1 ? permute(y4, [1, 0, 2, 3]) : permute(y4, [0, 2, 1, 3]);
  const fix = (s: Tensor) => (layout === 1 ? permute(s, [1, 0, 2]) : s);
  return [Y, fix(r.state.h), isLSTM ? fix(r.state.c!) : null];
};

export const OPS: Record<string, OpImpl> = {
  Identity: (c) => [need(c, 0, 'input')],
  Dropout: (c) => {
    if (c.numOutputs > 1) fail(c, `the mask output of Dropout is not supported (inference graphs do not use it)`);
    return [need(c, 0, 'data')];
  },
  Constant: (c) => {
    const a = [...c.attrs.values()][0];
    if (!a || c.attrs.size !== 1) fail(c, `needs exactly one value attribute`);
    switch (a.name) {
      case 'value': {
        const t = decodeTensor(OP, `${c.where} value`, a.t ?? {});
        return [t.dtype === 'int32' || t.dtype === c.dtype ? t : cast(t, c.dtype)];
      }
      case 'value_float': return [cast(new Tensor(Float64Array.of(a.f ?? 0), []), c.dtype)];
      case 'value_floats': return [cast(new Tensor(Float64Array.from(a.floats ?? []), [a.floats?.length ?? 0]), c.dtype)];
      case 'value_int': return [new Tensor(Int32Array.of(int64ToNumber(a.i)), [])];
      case 'value_ints': return [new Tensor(Int32Array.from((a.ints ?? []).map(int64ToNumber)), [a.ints?.length ?? 0])];
      default: return fail(c, `value attribute '${a.name}' is not supported`);
    }
  },
  ConstantOfShape: (c) => {
    const shape = ints(c, 0, 'input');
    checkCreated(c, shape);
    const a = c.attrs.get('value');
    const v = a?.t ? decodeTensor(OP, `${c.where} value`, a.t) : new Tensor(Float32Array.of(0), [1]);
    if (v.size !== 1) fail(c, `value must hold one element`);
    const n = shape.reduce((p, d) => p * d, 1);
    if (v.dtype === 'int32') return [new Tensor(new Int32Array(n).fill(v.data[0]!), shape)];
    return [new Tensor((c.dtype === 'float64' ? new Float64Array(n) : new Float32Array(n)).fill(v.data[0]!), shape)];
  },
  Shape: (c) => {
    const x = need(c, 0, 'data');
    const r = x.ndim;
    const clip = (v: number) => Math.min(r, Math.max(0, v < 0 ? v + r : v));
    const s = x.shape.slice(clip(attrInt(c, 'start', 0)), clip(attrInt(c, 'end', r)));
    return [new Tensor(Int32Array.from(s), [s.length])];
  },
  Size: (c) => [new Tensor(Int32Array.of(need(c, 0, 'data').size), [])],
  Cast: (c) => [castTo(c, need(c, 0, 'input'), attrInt(c, 'to'))],
  Gather: (c) => {
    const x = need(c, 0, 'data');
    const idx = need(c, 1, 'indices');
    if (idx.dtype !== 'int32') fail(c, `indices must be integers, got ${idx.dtype}`);
    return [gatherAxis(c, x, idx, attrInt(c, 'axis', 0))];
  },
  Unsqueeze: (c) => {
    const x = need(c, 0, 'data');
    const axes = c.inputs[1] ? ints(c, 1, 'axes') : attrInts(c, 'axes') ?? fail(c, 'axes are required');
    const rank = x.ndim + axes.length;
    const norm = axes.map((a) => normAxis(c, a, rank)).sort((a, b) => a - b);
    const shape = [...x.shape];
    for (const a of norm) shape.splice(a, 0, 1);
    return [reshape(x, shape)];
  },
  Squeeze: (c) => {
    const x = need(c, 0, 'data');
    const given = c.inputs[1] ? ints(c, 1, 'axes') : attrInts(c, 'axes');
    const axes = given ? given.map((a) => normAxis(c, a, x.ndim)) : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
    for (const a of axes) if (x.shape[a] !== 1) fail(c, `axis ${a} of data${fmt(x.shape)} is not 1`);
    return [reshape(x, x.shape.filter((_, i) => !axes.includes(i)))];
  },
  Concat: (c) => {
    const xs = c.inputs.filter((t): t is Tensor => t !== null);
    if (xs.length === 0) fail(c, 'needs at least one input');
    const axis = normAxis(c, attrInt(c, 'axis'), xs[0]!.ndim);
    const nonEmpty = xs.filter((t) => t.size > 0);
    if (nonEmpty.length === 1) return [nonEmpty[0]!];
    return [concat(nonEmpty.length ? nonEmpty : xs, axis)];
  },
  Slice: (c) => {
    let x = need(c, 0, 'data');
    // Before opset 10, starts, ends and axes are attributes.
    const old = c.opset < 10;
    const starts = old ? attrInts(c, 'starts') ?? fail(c, 'starts are required') : ints(c, 1, 'starts');
    const ends = old ? attrInts(c, 'ends') ?? fail(c, 'ends are required') : ints(c, 2, 'ends');
    const axes = (old ? attrInts(c, 'axes') : c.inputs[3] ? ints(c, 3, 'axes') : undefined) ?? starts.map((_, i) => i);
    const steps = !old && c.inputs[4] ? ints(c, 4, 'steps') : starts.map(() => 1);
    if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) fail(c, `starts, ends, axes and steps differ in length`);
    axes.forEach((a, i) => {
      if (steps[i] !== 1) fail(c, `step ${steps[i]} is not supported (only 1)`);
      const ax = normAxis(c, a, x.ndim);
      // int64 bounds arrive clamped to the int32 range, which clips the same way.
      x = slice(x, ax, starts[i]!, ends[i]!);
    });
    return [x];
  },
  Transpose: (c) => {
    const x = need(c, 0, 'data');
    const perm = attrInts(c, 'perm') ?? x.shape.map((_, i) => x.ndim - 1 - i);
    return [permute(x, perm)];
  },
  Reshape: (c) => {
    const x = need(c, 0, 'data');
    return [reshape(x, reshapeTarget(c, x, ints(c, 1, 'shape'), attrInt(c, 'allowzero', 0) === 1))];
  },
  Flatten: (c) => {
    const x = need(c, 0, 'input');
    const axis = attrInt(c, 'axis', 1);
    const a = axis < 0 ? axis + x.ndim : axis;
    if (a < 0 || a > x.ndim) fail(c, `axis ${axis} is out of range for rank ${x.ndim}`);
    const lead = x.shape.slice(0, a).reduce((p, d) => p * d, 1);
    return [reshape(x, [lead, x.size / Math.max(lead, 1) || 0])];
  },
  Expand: (c) => {
    const x = need(c, 0, 'input');
    const shape = ints(c, 1, 'shape');
    const rank = Math.max(x.ndim, shape.length);
    const xs = [...Array<number>(rank - x.ndim).fill(1), ...x.shape];
    const ss = [...Array<number>(rank - shape.length).fill(1), ...shape];
    const target = xs.map((d, i) => {
      const s = ss[i]!;
      if (d !== s && d !== 1 && s !== 1) fail(c, `input${fmt(x.shape)} cannot be broadcast to ${fmt(shape)}`);
      return d === 1 ? s : d;
    });
    checkCreated(c, target);
    return [expand(reshape(x, xs), target)];
  },
  MatMul: (c) => [matmul(needFloat(c, 0, 'A'), needFloat(c, 1, 'B'))],
  Gemm: (c) => {
    const a = needFloat(c, 0, 'A');
    const b = needFloat(c, 1, 'B');
    if (a.ndim !== 2 || b.ndim !== 2) fail(c, `A${fmt(a.shape)} and B${fmt(b.shape)} must be 2-D`);
    const alpha = attrFloat(c, 'alpha', 1);
    const beta = attrFloat(c, 'beta', 1);
    let y = matmul(a, b, { transA: attrInt(c, 'transA', 0) === 1, transB: attrInt(c, 'transB', 0) === 1 });
    if (alpha !== 1) y = mul(y, alpha);
    const bias = c.inputs[2];
    if (bias) y = add(y, beta === 1 ? bias : mul(bias, beta));
    return [y];
  },
  Add: arith(add),
  Sub: arith(sub),
  Mul: arith(mul),
  Div: arith(div, Math.trunc),
  Pow: (c) => [pow(needFloat(c, 0, 'X'), needFloat(c, 1, 'Y'))],
  Max: (c) => [c.inputs.filter((t): t is Tensor => t !== null).reduce((a, b) => maximum(a, b))],
  Min: (c) => [c.inputs.filter((t): t is Tensor => t !== null).reduce((a, b) => minimum(a, b))],
  Neg: (c) => {
    const x = need(c, 0, 'X');
    return [x.dtype === 'int32' ? cast(neg(cast(x, 'float64')), 'int32') : neg(x)];
  },
  Abs: unary(abs),
  Exp: unary(exp),
  Log: unary(log),
  Sqrt: unary(sqrt),
  Reciprocal: unary((x) => div(1, x)),
  Tanh: unary(tanh),
  Sigmoid: unary(sigmoid),
  Relu: unary(relu),
  LeakyRelu: (c) => {
    const x = needFloat(c, 0, 'X');
    const alpha = attrFloat(c, 'alpha', 0.01);
    return [where(gt(x, 0), x, mul(x, alpha))];
  },
  Clip: (c) => {
    const x = needFloat(c, 0, 'input');
    // Before opset 11, min and max are attributes.
    const lo = c.opset < 11 ? attrFloat(c, 'min', -Infinity) : c.inputs[1] ? c.inputs[1].data[0]! : -Infinity;
    const hi = c.opset < 11 ? attrFloat(c, 'max', Infinity) : c.inputs[2] ? c.inputs[2].data[0]! : Infinity;
    return [clamp(x, lo, hi)];
  },
  Erf: unary((x) => erf(x)),
  Elu: (c) => [elu(needFloat(c, 0, 'X'), attrFloat(c, 'alpha', 1))],
  Selu: (c) => [mul(elu(needFloat(c, 0, 'X'), attrFloat(c, 'alpha', 1.67326319217681884765625)), attrFloat(c, 'gamma', 1.05070102214813232421875))],
  // softplus(x) = max(x, 0) + log(1 + e^{−|x|}), stable for large |x|
  Softplus: unary((x) => add(relu(x), log(add(exp(neg(abs(x))), 1)))),
  Softsign: unary((x) => div(x, add(abs(x), 1))),
  HardSigmoid: (c) => [clamp(add(mul(needFloat(c, 0, 'X'), attrFloat(c, 'alpha', 0.2)), attrFloat(c, 'beta', 0.5)), 0, 1)],
  ReduceMean: reduce(mean),
  ReduceSum: reduce(sum),
  Softmax: softmaxLike(softmax),
  LogSoftmax: softmaxLike(logSoftmax),
  LayerNormalization: (c) => {
    if (c.numOutputs > 1) fail(c, `the Mean and InvStdDev outputs are not supported`);
    const x = needFloat(c, 0, 'X');
    const axis = normAxis(c, attrInt(c, 'axis', -1), x.ndim);
    const eps = attrFloat(c, 'epsilon', 1e-5);
    const axes = Array.from({ length: x.ndim - axis }, (_, i) => axis + i);
    let y = div(sub(x, mean(x, axes, true)), sqrt(add(variance(x, axes, { keepdim: true, correction: 0 }), eps)));
    y = mul(y, needFloat(c, 1, 'Scale'));
    if (c.inputs[2]) y = add(y, c.inputs[2]);
    return [y];
  },
  RNN: recurrent,
  LSTM: recurrent,
  GRU: recurrent,
};
