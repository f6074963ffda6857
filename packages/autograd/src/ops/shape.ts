import { SeqgradError, fmt } from '../errors.js';
import { type Shape, broadcastShapes, checkShape, normAxes, normAxis, numel, sameShape, stridedOffsets, stridesOf } from '../shapes.js';
import { broadcastCopy, permuteCopy } from '../kernels/copy.js';
import { type FloatDType, Tensor, arrayFor } from '../tensor.js';
import { cast } from './elementwise.js';
import { type PrimitiveFn, assertNotScalar, definePrimitive, describe, promoteDtype } from './op.js';

function assertTensor(op: string, arg: string, x: unknown): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new SeqgradError(op, `${arg} must be a Tensor, got ${describe(x)}`);
}

// ---------------------------------------------------------------------------------------
// Primitives
// ---------------------------------------------------------------------------------------

const reshapeOp: PrimitiveFn<'reshape'> = definePrimitive('reshape', {
  // shares the buffer: tensors are contiguous
  forward: (x, shape) => ({ out: new Tensor(x.data, shape), saved: { inShape: [...x.shape] } }),
  // d reshape(x) = reshape⁻¹(dy)
  backward: ({ inShape }, g) => [reshapeOp(g, inShape)],
  // the linear ops below carry a tangent as they carry values: ẏ = op(ẋ)
  jvp: ({ args: [, shape] }, [t]) => reshapeOp(t, shape),
});

const permuteOp: PrimitiveFn<'permute'> = definePrimitive('permute', {
  forward(x, perm) {
    const out = arrayFor(x.dtype, x.size);
    permuteCopy(out, x.data, x.shape, perm);
    return { out: new Tensor(out, perm.map((p) => x.shape[p]!)), saved: { perm } };
  },
  // d permute(x, p) = permute(dy, p⁻¹)
  backward: ({ perm }, g) => [permuteOp(g, inversePermutation(perm))],
  jvp: ({ args: [, perm] }, [t]) => permuteOp(t, perm),
});

function inversePermutation(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

const expandOp: PrimitiveFn<'expand'> = definePrimitive('expand', {
  forward(x, shape) {
    const out = arrayFor(x.dtype, numel(shape));
    broadcastCopy(out, shape, x.data, x.shape);
    return { out: new Tensor(out, shape), saved: null };
  },
  // d expand(x) = dy summed over the broadcast axes (the engine's reduction to x's shape)
  backward: (_, g) => [g],
  jvp: ({ args: [, shape] }, [t]) => expandOp(t, shape),
});

function blockCopy(
  src: Tensor, axis: number, srcStart: number, dst: Float32Array | Float64Array | Int32Array, dstShape: Shape, dstStart: number, len: number,
): void {
  const outer = numel(src.shape.slice(0, axis));
  const inner = numel(src.shape.slice(axis + 1));
  const sLen = src.shape[axis]!;
  const dLen = dstShape[axis]!;
  const block = len * inner;
  for (let o = 0; o < outer; o++) {
    const s = (o * sLen + srcStart) * inner;
    dst.set(src.data.subarray(s, s + block), (o * dLen + dstStart) * inner);
  }
}

const narrowOp: PrimitiveFn<'narrow'> = definePrimitive('narrow', {
  forward(x, axis, start, length) {
    const shape = x.shape.map((d, i) => (i === axis ? length : d));
    const out = arrayFor(x.dtype, numel(shape));
    blockCopy(x, axis, start, out, shape, 0, length);
    return { out: new Tensor(out, shape), saved: { axis, start, fullLength: x.shape[axis]! } };
  },
  // d narrow(x) = dy placed back in a zero tensor of x's shape
  backward: ({ axis, start, fullLength }, g) => [padOp(g, axis, start, fullLength)],
  jvp: ({ args: [, axis, start, length] }, [t]) => narrowOp(t, axis, start, length),
});

const padOp: PrimitiveFn<'pad'> = definePrimitive('pad', {
  forward(x, axis, before, total) {
    const shape = x.shape.map((d, i) => (i === axis ? total : d));
    const out = arrayFor(x.dtype, numel(shape));
    blockCopy(x, axis, 0, out, shape, before, x.shape[axis]!);
    return { out: new Tensor(out, shape), saved: { axis, before, length: x.shape[axis]! } };
  },
  // d pad(x) = the window of dy where x was placed
  backward: ({ axis, before, length }, g) => [narrowOp(g, axis, before, length)],
  jvp: ({ args: [, axis, before, total] }, [t]) => padOp(t, axis, before, total),
});

const concatOp: PrimitiveFn<'concat'> = definePrimitive('concat', {
  forward(axis, ...xs) {
    const shape = xs[0]!.shape.map((d, i) => (i === axis ? xs.reduce((n, x) => n + x.shape[axis]!, 0) : d));
    const out = arrayFor(xs[0]!.dtype, numel(shape));
    let off = 0;
    for (const x of xs) {
      blockCopy(x, axis, 0, out, shape, off, x.shape[axis]!);
      off += x.shape[axis]!;
    }
    return { out: new Tensor(out, shape), saved: { axis, lengths: xs.map((x) => x.shape[axis]!) } };
  },
  // d concat(x₁, …, xₙ) = the matching slices of dy
  backward({ axis, lengths }, g, needs) {
    let off = 0;
    return lengths.map((len, i) => {
      const slice = needs[i] ? narrowOp(g, axis, off, len) : null;
      off += len;
      return slice;
    });
  },
  jvp: ({ args: [axis] }, tangents) => concatOp(axis, ...tangents),
});

const flipOp: PrimitiveFn<'flip'> = definePrimitive('flip', {
  forward(x, axes) {
    const out = arrayFor(x.dtype, x.size);
    // A flipped axis is read backwards: from its last index, with the stride negated.
    const strides = stridesOf(x.shape);
    let start = 0;
    const signed = strides.map((s, d) => {
      if (!axes.includes(d)) return s;
      start += (x.shape[d]! - 1) * s;
      return -s;
    });
    const src = stridedOffsets(x.shape, signed, x.ndim, start);
    for (let i = 0; i < out.length; i++) out[i] = x.data[src[i]!]!;
    return { out: new Tensor(out, x.shape), saved: { axes } };
  },
  // d flip(x) = flip(dy)
  backward: ({ axes }, g) => [flipOp(g, axes)],
  jvp: ({ args: [, axes] }, [t]) => flipOp(t, axes),
});

const unbindOp: PrimitiveFn<'unbind'> = definePrimitive('unbind', {
  forward(x, axis) {
    const n = x.shape[axis]!;
    const shape = x.shape.filter((_, i) => i !== axis);
    // Each slice is copied as a window of length 1 along the axis, then that axis is dropped.
    const sliceShape = x.shape.map((d, i) => (i === axis ? 1 : d));
    const outs: Tensor[] = [];
    for (let k = 0; k < n; k++) {
      const out = arrayFor(x.dtype, numel(shape));
      blockCopy(x, axis, k, out, sliceShape, 0, 1);
      outs.push(new Tensor(out, shape));
    }
    return { out: outs, saved: { axis } };
  },
  // d unbind(x) = stack(dy₀, …, dy_{n−1}) along the axis
  backward: ({ axis }, grads) => [stack(grads, axis)],
  jvp: ({ args: [, axis] }, [t]) => unbindOp(t, axis),
});

/** The rules of the shape primitives. */
export const shapeRules = {
  reshape: reshapeOp.rule, permute: permuteOp.rule, expand: expandOp.rule, concat: concatOp.rule,
  narrow: narrowOp.rule, pad: padOp.rule, flip: flipOp.rule, unbind: unbindOp.rule,
};

// ---------------------------------------------------------------------------------------
// Public functions
// ---------------------------------------------------------------------------------------

/** Same values, new shape (one axis may be −1). Shares the buffer. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  assertTensor('reshape', 'x', x);
  const out = [...shape];
  const infer = out.indexOf(-1);
  if (out.some((d, i) => !Number.isInteger(d) || d < -1 || (d === -1 && i !== infer))) {
    throw new SeqgradError('reshape', `invalid shape ${fmt(shape)} for x${fmt(x.shape)}`);
  }
  if (infer >= 0) {
    const known = numel(out.filter((_, i) => i !== infer));
    if (known === 0 || x.size % known !== 0) {
      throw new SeqgradError('reshape', `shape ${fmt(shape)} is invalid for x${fmt(x.shape)} of ${x.size} elements`);
    }
    out[infer] = x.size / known;
  }
  if (numel(out) !== x.size) {
    throw new SeqgradError('reshape', `shape ${fmt(shape)} is invalid for x${fmt(x.shape)} of ${x.size} elements`);
  }
  if (sameShape(out, x.shape)) return x;
  return reshapeOp(x, out);
}

/** Merges axes startDim..endDim into one. */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  assertTensor('flatten', 'x', x);
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normAxis('flatten', startDim, x.ndim, 'startDim');
  const e = normAxis('flatten', endDim, x.ndim, 'endDim');
  if (s > e) throw new SeqgradError('flatten', `startDim=${startDim} comes after endDim=${endDim} for x${fmt(x.shape)}`);
  return reshape(x, [...x.shape.slice(0, s), numel(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

/** Removes size-1 axes (only `axis` when given; a no-op if that axis is not 1, as in PyTorch). */
export function squeeze(x: Tensor, axis?: number): Tensor {
  assertTensor('squeeze', 'x', x);
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const a = normAxis('squeeze', axis, x.ndim);
  return x.shape[a] === 1 ? reshape(x, x.shape.filter((_, i) => i !== a)) : x;
}

/** Inserts a size-1 axis at `axis` (−1 appends). */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  assertTensor('unsqueeze', 'x', x);
  const a = normAxis('unsqueeze', axis, x.ndim + 1);
  const shape = [...x.shape];
  shape.splice(a, 0, 1);
  return reshape(x, shape);
}

/** Broadcasts to `shape` (−1 keeps an axis; new axes go in front). */
export function expand(x: Tensor, shape: Shape): Tensor {
  assertTensor('expand', 'x', x);
  const lead = shape.length - x.ndim;
  if (lead < 0) throw new SeqgradError('expand', `cannot expand x${fmt(x.shape)} to fewer dimensions ${fmt(shape)}`);
  const target = shape.map((d, i) => (d === -1 ? (i < lead ? NaN : x.shape[i - lead]!) : d));
  if (target.some((d, i) => !Number.isInteger(d) || d < 0 || (i >= lead && x.shape[i - lead] !== 1 && x.shape[i - lead] !== d))) {
    throw new SeqgradError('expand', `x${fmt(x.shape)} cannot be expanded to ${fmt(shape)}`);
  }
  broadcastShapes('expand', x.shape, target, ['x', 'shape']);
  checkShape('expand', target, `x${fmt(x.shape)} expanded to`);
  if (sameShape(target, x.shape)) return x;
  return expandOp(x, target);
}

/** Reorders axes: output axis i is input axis perm[i]. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  assertTensor('permute', 'x', x);
  if (perm.length !== x.ndim) {
    throw new SeqgradError('permute', `perm [${perm.join(',')}] has ${perm.length} axes but x${fmt(x.shape)} has ${x.ndim}`);
  }
  const p = perm.map((a) => normAxis('permute', a, x.ndim));
  if (new Set(p).size !== p.length) throw new SeqgradError('permute', `perm [${perm.join(',')}] repeats an axis of x${fmt(x.shape)}`);
  if (p.every((a, i) => a === i)) return x;
  return permuteOp(x, p);
}

/** Swaps two axes (default: the last two). */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  assertTensor('transpose', 'x', x);
  if (x.ndim < 2 && dim0 === -2 && dim1 === -1) return x;
  const a = normAxis('transpose', dim0, x.ndim, 'dim0');
  const b = normAxis('transpose', dim1, x.ndim, 'dim1');
  const perm = x.shape.map((_, i) => i);
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

/** Joins tensors along an existing axis. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(xs as unknown) || xs.length === 0) throw new SeqgradError('concat', 'needs a non-empty list of tensors');
  xs.forEach((x, i) => assertTensor('concat', `xs[${i}]`, x));
  const first = xs[0]!;
  if (first.ndim === 0) {
    throw new SeqgradError('concat', `zero-dimensional tensors cannot be concatenated (xs[0] has shape ${fmt(first.shape)}); use stack`);
  }
  const a = normAxis('concat', axis, first.ndim);
  xs.forEach((x, i) => {
    if (x.ndim !== first.ndim || x.shape.some((d, j) => j !== a && d !== first.shape[j])) {
      throw new SeqgradError(
        'concat',
        `xs[${i}]${fmt(x.shape)} does not match xs[0]${fmt(first.shape)} outside axis ${a} (shapes: ${xs.map((t) => fmt(t.shape)).join(', ')})`,
      );
    }
  });
  if (xs.length === 1) return first;
  const dt = xs.reduce<FloatDType>((d, x) => (x.dtype === 'int32' ? d : promoteDtype(d, x.dtype)), xs[0]!.dtype === 'float64' ? 'float64' : 'float32');
  const same = xs.every((x) => x.dtype === xs[0]!.dtype);
  return concatOp(a, ...(same ? xs : xs.map((x) => (x.dtype === dt ? x : cast(x, dt)))));
}
export const cat = concat;

/** Joins tensors along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(xs as unknown) || xs.length === 0) throw new SeqgradError('stack', 'needs a non-empty list of tensors');
  xs.forEach((x, i) => {
    assertTensor('stack', `xs[${i}]`, x);
    if (!sameShape(x.shape, xs[0]!.shape)) {
      throw new SeqgradError('stack', `xs[${i}]${fmt(x.shape)} differs from xs[0]${fmt(xs[0]!.shape)}; stack needs equal shapes`);
    }
  });
  const a = normAxis('stack', axis, xs[0]!.ndim + 1);
  return concat(xs.map((x) => unsqueeze(x, a)), a);
}

/** The window [start, start + length) along `axis`. */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  assertTensor('narrow', 'x', x);
  assertNotScalar('narrow', 'x', x);
  const a = normAxis('narrow', axis, x.ndim);
  const n = x.shape[a]!;
  const s = start < 0 ? start + n : start;
  if (!Number.isInteger(s) || !Number.isInteger(length) || s < 0 || length < 0 || s + length > n) {
    throw new SeqgradError('narrow', `start=${start}, length=${length} is out of range for axis ${a} of x${fmt(x.shape)}`);
  }
  if (s === 0 && length === n) return x;
  return narrowOp(x, a, s, length);
}

/** Python-style slice [start, end) along `axis`; negative indices count from the end, bounds clip. */
export function slice(x: Tensor, axis: number, start = 0, end?: number): Tensor {
  assertTensor('slice', 'x', x);
  const a = normAxis('slice', axis, x.ndim);
  const n = x.shape[a]!;
  if (!Number.isInteger(start) || (end !== undefined && !Number.isInteger(end))) {
    throw new SeqgradError('slice', `start=${start} and end=${end} must be integers (x${fmt(x.shape)})`);
  }
  const clip = (v: number) => Math.min(n, Math.max(0, v < 0 ? v + n : v));
  const s = clip(start);
  const e = end === undefined ? n : clip(end);
  return narrow(x, a, s, Math.max(0, e - s));
}

/** The slice at `index` along `axis`, with that axis removed. */
export function select(x: Tensor, axis: number, index: number): Tensor {
  assertTensor('select', 'x', x);
  assertNotScalar('select', 'x', x);
  const a = normAxis('select', axis, x.ndim);
  const n = x.shape[a]!;
  if (!Number.isInteger(index) || index < -n || index >= n) {
    throw new SeqgradError('select', `index ${index} is out of range for axis ${a} of size ${n} (x${fmt(x.shape)})`);
  }
  return squeeze(narrow(x, a, index < 0 ? index + n : index, 1), a);
}

/** Splits into pieces of `size` (the last may be smaller) or into the given section sizes. */
export function split(x: Tensor, sizeOrSections: number | readonly number[], axis = 0): Tensor[] {
  assertTensor('split', 'x', x);
  assertNotScalar('split', 'x', x);
  const a = normAxis('split', axis, x.ndim);
  const n = x.shape[a]!;
  let sizes: number[];
  if (typeof sizeOrSections === 'number') {
    if (!Number.isInteger(sizeOrSections) || sizeOrSections <= 0) {
      throw new SeqgradError('split', `size must be a positive integer, got ${sizeOrSections}`);
    }
    sizes = [];
    for (let s = 0; s < n; s += sizeOrSections) sizes.push(Math.min(sizeOrSections, n - s));
    if (n === 0) sizes.push(0); // an empty axis splits into one empty piece, as in PyTorch
  } else {
    sizes = [...sizeOrSections];
    const total = sizes.reduce((p, q) => p + q, 0);
    if (total !== n) throw new SeqgradError('split', `sections [${sizes.join(',')}] sum to ${total}, but axis ${a} of x${fmt(x.shape)} has ${n}`);
  }
  let off = 0;
  return sizes.map((len) => {
    const t = narrow(x, a, off, len);
    off += len;
    return t;
  });
}

/** Splits into `chunks` nearly equal pieces (as `torch.chunk`). */
export function chunk(x: Tensor, chunks: number, axis = 0): Tensor[] {
  assertTensor('chunk', 'x', x);
  assertNotScalar('chunk', 'x', x);
  if (!Number.isInteger(chunks) || chunks <= 0) throw new SeqgradError('chunk', `chunks must be a positive integer, got ${chunks}`);
  const a = normAxis('chunk', axis, x.ndim);
  return split(x, Math.max(1, Math.ceil(x.shape[a]! / chunks)), a);
}

/** Reverses the order along `axes`. */
export function flip(x: Tensor, axes: number | readonly number[]): Tensor {
  assertTensor('flip', 'x', x);
  const ax = normAxes('flip', axes, x.ndim);
  if (ax.length === 0) return x;
  return flipOp(x, ax);
}

/**
 * Splits x along `axis` into its slices, with that axis removed (like `torch.unbind`), as ONE
 * recorded op: its backward stacks the slice gradients once, O(size of x). Taking the T steps
 * of a sequence with `select` instead costs a full-size gradient per step, O(T · size of x).
 *
 * @example
 * const steps = unbind(randn([2, 5, 3]), 1); // 5 tensors of shape [2, 3]
 */
export function unbind(x: Tensor, axis = 0): Tensor[] {
  assertTensor('unbind', 'x', x);
  if (!Number.isInteger(axis) || axis < -x.ndim || axis >= x.ndim) {
    throw new SeqgradError('unbind', `axis=${axis} is out of range for x${fmt(x.shape)}`);
  }
  const a = axis < 0 ? axis + x.ndim : axis;
  if (x.shape[a] === 0) return [];
  return unbindOp(x, a);
}
