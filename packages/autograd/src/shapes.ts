/**
 * Shape arithmetic: element counts, strides, broadcasting, axis normalisation and the check
 * of a shape argument. Pure functions of plain arrays; the errors they throw name the op.
 */
import { SeqgradError, fmt, show } from './errors.js';

/** Shapes are plain arrays of non-negative integers, row-major. */
export type Shape = readonly number[];

/** The number of elements of a shape, Π shape[d] (1 for `[]`). @example numel([2, 3]); // 6 */
export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a contiguous array of `shape`: the last axis has stride 1. @example stridesOf([2, 3]); // [3, 1] */
export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d]!;
  }
  return strides;
}

/**
 * The multi-index of element `flat` of a row-major array of `shape`, for messages that name an
 * element. @example unravelIndex(5, [2, 3]); // [1, 2]
 */
export function unravelIndex(flat: number, shape: Shape): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = flat % shape[d]!;
    flat = Math.floor(flat / shape[d]!);
  }
  return idx;
}

/**
 * Strides of `shape` read against the broadcast `outShape` (right-aligned; 0 on the axes it is
 * broadcast along), so that an index of `outShape` finds its element of the smaller operand.
 * @example broadcastStrides([3], [2, 3]); // [0, 1]
 */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const rank = outShape.length;
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[rank - shape.length + d] = shape[d] === 1 ? 0 : s;
    s *= shape[d]!;
  }
  return strides;
}

/**
 * The offset start + Σ_d idx[d]·strides[d] of every multi-index `idx` over the first `axes` axes
 * of `shape`, in row-major order. With `axes = rank − 1` it gives where each last-axis row starts,
 * which is how the strided kernels (broadcasting, permuting, reducing) walk their operands;
 * with broadcast strides it says where each element of a broadcast operand is read. Offsets
 * fit an int32 because no tensor holds more than MAX_NUMEL elements.
 *
 * @example stridedOffsets([2, 3], [0, 1]); // [0, 1, 2, 0, 1, 2]
 */
export function stridedOffsets(shape: Shape, strides: readonly number[], axes = shape.length, start = 0): Int32Array {
  let offsets = Int32Array.of(start);
  for (let d = 0; d < axes; d++) {
    const size = shape[d]!;
    const stride = strides[d]!;
    const next = new Int32Array(offsets.length * size);
    for (let i = 0; i < offsets.length; i++) {
      for (let j = 0; j < size; j++) next[i * size + j] = offsets[i]! + j * stride;
    }
    offsets = next;
  }
  return offsets;
}

/** Are the two shapes equal, axis by axis? */
export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** NumPy broadcasting of two shapes; throws naming the op and both shapes. */
export function broadcastShapes(op: string, a: Shape, b: Shape, names = ['a', 'b']): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new SeqgradError(
        op,
        `${names[0]}${fmt(a)} and ${names[1]}${fmt(b)} cannot be broadcast: dimension ${i - n} is ${da} vs ${db}`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Normalises a possibly negative axis against a rank, naming the op on error. */
export function normAxis(op: string, axis: number, rank: number, argName = 'axis'): number {
  // A 0-d tensor accepts axis 0 and −1, as in PyTorch (they name the tensor itself).
  const r = Math.max(rank, 1);
  if (!Number.isInteger(axis) || axis < -r || axis >= r) {
    throw new SeqgradError(op, `${argName}=${axis} is out of range for a tensor of rank ${rank}`);
  }
  return axis < 0 ? axis + r : axis;
}

/** Normalises an axis list (undefined = every axis), sorted and without repeats. */
export function normAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const out = list.map((a) => normAxis(op, a, rank));
  if (new Set(out).size !== out.length) throw new SeqgradError(op, `axes [${list.join(',')}] repeat an axis`);
  // Reducing a 0-d tensor over its axis 0 reduces over nothing.
  return rank === 0 ? [] : out.sort((x, y) => x - y);
}

/**
 * The most elements one tensor may hold: 2³¹ − 1, so every offset fits an int32 index (as the
 * kernels and the indexing ops assume) and a shape like [1e6, 1e6] is refused by name.
 */
export const MAX_NUMEL = 2 ** 31 - 1;

/**
 * Throws unless `shape` is an array of non-negative integers holding at most MAX_NUMEL
 * elements, naming the op and the shape. Called at the entry of every op that allocates.
 */
export function checkShape(op: string, shape: unknown, argName = 'shape'): asserts shape is Shape {
  if (!Array.isArray(shape)) throw new SeqgradError(op, `${argName} must be an array of non-negative integers, got ${show(shape)}`);
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new SeqgradError(op, `${argName} ${fmt(shape)} must hold non-negative integers`);
    }
    n *= d;
  }
  if (n > MAX_NUMEL) {
    throw new SeqgradError(op, `${argName} ${fmt(shape)} has ${n} elements, more than the ${MAX_NUMEL} a tensor can hold`);
  }
}
