import { SeqgradError, fmt } from '../errors.js';
import { normAxis, numel, stridesOf } from '../shapes.js';
import { Tensor, arrayFor } from '../tensor.js';
import { type PrimitiveFn, assertFloat, assertNotScalar, definePrimitive, describe } from './op.js';
import { reshape } from './shape.js';

/** Validates integer indices against `size` and returns them as an Int32Array (negative wrap). */
function toIndices(op: string, arg: string, index: Tensor | readonly number[], size: number, ofWhat?: string): { idx: Int32Array; shape: number[] } {
  const src = index instanceof Tensor ? index.data : Array.isArray(index) ? index : null;
  if (src === null) throw new SeqgradError(op, `${arg} must be an integer Tensor or an array of integers, got ${describe(index)}`);
  const idx = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (!Number.isInteger(v) || v < -size || v >= size) {
      const where = index instanceof Tensor ? ` (${index.dtype === 'int32' ? '' : `${index.dtype}, `}shape ${fmt(index.shape)})` : '';
      if (!Number.isInteger(v)) {
        throw new SeqgradError(op, `${arg}${where} holds ${v} at position ${i}, not an integer; indices must be integers (an int32 tensor or an array)`);
      }
      throw new SeqgradError(op, `${arg}${where} holds ${v} at position ${i}, out of range for a dimension of size ${size}${ofWhat ? ` (${ofWhat})` : ''}`);
    }
    idx[i] = v < 0 ? v + size : v;
  }
  return { idx, shape: index instanceof Tensor ? [...index.shape] : [src.length] };
}

const indexSelectOp: PrimitiveFn<'indexSelect'> = definePrimitive('indexSelect', {
  forward(x, axis, idx) {
    const outer = numel(x.shape.slice(0, axis));
    const inner = numel(x.shape.slice(axis + 1));
    const n = x.shape[axis]!;
    const shape = x.shape.map((d, i) => (i === axis ? idx.length : d));
    const out = arrayFor(x.dtype, numel(shape));
    for (let o = 0; o < outer; o++) {
      for (let k = 0; k < idx.length; k++) {
        const s = (o * n + idx[k]!) * inner;
        out.set(x.data.subarray(s, s + inner), (o * idx.length + k) * inner);
      }
    }
    return { out: new Tensor(out, shape), saved: { axis, idx, size: n } };
  },
  // d x[idx] = dy added back at the rows idx (repeats accumulate)
  backward: ({ axis, idx, size }, g) => [indexAddOp(g, axis, idx, size)],
  // the linear ops below carry a tangent as they carry values: ẏ = op(ẋ)
  jvp: ({ args: [, axis, idx] }, [t]) => indexSelectOp(t, axis, idx),
});

const indexAddOp: PrimitiveFn<'indexAdd'> = definePrimitive('indexAdd', {
  forward(src, axis, idx, size) {
    const outer = numel(src.shape.slice(0, axis));
    const inner = numel(src.shape.slice(axis + 1));
    const shape = src.shape.map((d, i) => (i === axis ? size : d));
    const out = arrayFor(src.dtype, numel(shape));
    for (let o = 0; o < outer; o++) {
      for (let k = 0; k < idx.length; k++) {
        const s = (o * idx.length + k) * inner;
        const d = (o * size + idx[k]!) * inner;
        for (let j = 0; j < inner; j++) out[d + j] += src.data[s + j]!;
      }
    }
    return { out: new Tensor(out, shape), saved: { axis, idx } };
  },
  // d indexAdd(src) = dy[idx]
  backward: ({ axis, idx }, g) => [indexSelectOp(g, axis, idx)],
  jvp: ({ args: [, axis, idx, size] }, [t]) => indexAddOp(t, axis, idx, size),
});

/** Strides helper for gather/scatter: position of index element i in the source along `axis`. */
function gatherOffsets(idxShape: readonly number[], srcShape: readonly number[], axis: number, idx: Int32Array): Int32Array {
  const rank = idxShape.length;
  const sStr = stridesOf(srcShape);
  const offs = new Int32Array(idx.length);
  const pos = new Array<number>(rank).fill(0);
  let base = 0; // offset of pos in src, excluding the gathered axis
  for (let i = 0; i < idx.length; i++) {
    offs[i] = base + idx[i]! * sStr[axis]!;
    for (let d = rank - 1; d >= 0; d--) {
      pos[d]!++;
      if (d !== axis) base += sStr[d]!;
      if (pos[d]! < idxShape[d]!) break;
      if (d !== axis) base -= sStr[d]! * idxShape[d]!;
      pos[d] = 0;
    }
  }
  return offs;
}

const gatherOp: PrimitiveFn<'gather'> = definePrimitive('gather', {
  forward(x, axis, idx, idxShape) {
    const offs = gatherOffsets(idxShape, x.shape, axis, idx);
    const out = arrayFor(x.dtype, idx.length);
    for (let i = 0; i < offs.length; i++) out[i] = x.data[offs[i]!]!;
    return { out: new Tensor(out, idxShape), saved: { axis, idx, inShape: [...x.shape] } };
  },
  // d gather(x) = dy scattered (added) back to the gathered positions
  backward: ({ axis, idx, inShape }, g) => [scatterAddOp(g, axis, idx, inShape)],
  jvp: ({ args: [, axis, idx, idxShape] }, [t]) => gatherOp(t, axis, idx, idxShape),
});

const scatterAddOp: PrimitiveFn<'scatterAdd'> = definePrimitive('scatterAdd', {
  forward(src, axis, idx, outShape) {
    const offs = gatherOffsets(src.shape, outShape, axis, idx);
    const out = arrayFor(src.dtype, numel(outShape));
    for (let i = 0; i < offs.length; i++) out[offs[i]!] += src.data[i]!;
    return { out: new Tensor(out, outShape), saved: { axis, idx, idxShape: [...src.shape] } };
  },
  // d scatterAdd(src) = gather(dy)
  backward: ({ axis, idx, idxShape }, g) => [gatherOp(g, axis, idx, idxShape)],
  jvp: ({ args: [, axis, idx, outShape] }, [t]) => scatterAddOp(t, axis, idx, outShape),
});

/** The rules of the indexing primitives. */
export const indexingRules = {
  indexSelect: indexSelectOp.rule, indexAdd: indexAddOp.rule, gather: gatherOp.rule, scatterAdd: scatterAddOp.rule,
};

/**
 * Picks entries along `axis` by a 1-D list of indices (like `torch.index_select`).
 *
 * @example
 * indexSelect(weight, 0, tensor([3, 1, 3], { dtype: 'int32' })); // rows 3, 1, 3
 */
export function indexSelect(x: Tensor, axis: number, index: Tensor | readonly number[]): Tensor {
  assertFloat('indexSelect', 'x', x);
  assertNotScalar('indexSelect', 'x', x);
  const a = normAxis('indexSelect', axis, x.ndim);
  if (index instanceof Tensor && index.ndim > 1) {
    throw new SeqgradError('indexSelect', `index must be 1-D, got shape ${fmt(index.shape)}`);
  }
  const { idx } = toIndices('indexSelect', 'index', index, x.shape[a]!);
  return indexSelectOp(x, a, idx);
}

/** Adds the slices of `src` into a zero tensor of size `size` along `axis` at `index`. */
export function indexAdd(src: Tensor, axis: number, index: Tensor | readonly number[], size: number): Tensor {
  assertFloat('indexAdd', 'src', src);
  assertNotScalar('indexAdd', 'src', src);
  const a = normAxis('indexAdd', axis, src.ndim);
  const { idx } = toIndices('indexAdd', 'index', index, size);
  if (idx.length !== src.shape[a]) {
    throw new SeqgradError('indexAdd', `index has ${idx.length} entries but src${fmt(src.shape)} has ${src.shape[a]} along axis ${a}`);
  }
  return indexAddOp(src, a, idx, size);
}

/**
 * out[i][j][k] = x[i][index[i][j][k]][k] for axis 1 (like `torch.gather`); `index` has
 * x's rank and no larger sizes outside `axis`.
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  assertFloat('gather', 'x', x);
  assertNotScalar('gather', 'x', x);
  const a = normAxis('gather', axis, x.ndim);
  if (!(index instanceof Tensor) || index.ndim !== x.ndim || index.shape.some((d, i) => i !== a && d > x.shape[i]!)) {
    throw new SeqgradError(
      'gather',
      `index${index instanceof Tensor ? fmt(index.shape) : ` (${describe(index)})`} must have the rank of x${fmt(x.shape)} and no larger size outside axis ${a}`,
    );
  }
  const { idx, shape } = toIndices('gather', 'index', index, x.shape[a]!);
  return gatherOp(x, a, idx, shape);
}

/** Adds `src` into a zero tensor of `shape` at the positions `index` names along `axis` (like `scatter_add`). */
export function scatterAdd(src: Tensor, axis: number, index: Tensor, shape: readonly number[]): Tensor {
  assertFloat('scatterAdd', 'src', src);
  assertNotScalar('scatterAdd', 'src', src);
  const a = normAxis('scatterAdd', axis, src.ndim);
  if (!(index instanceof Tensor) || index.ndim !== src.ndim || index.shape.some((d, i) => d !== src.shape[i])) {
    throw new SeqgradError('scatterAdd', `index must have src's shape ${fmt(src.shape)}`);
  }
  if (shape.length !== src.ndim || shape.some((d, i) => i !== a && d < src.shape[i]!)) {
    throw new SeqgradError('scatterAdd', `shape ${fmt(shape)} must have src${fmt(src.shape)}'s rank and no smaller sizes outside axis ${a}`);
  }
  const { idx } = toIndices('scatterAdd', 'index', index, shape[a]!);
  return scatterAddOp(src, a, idx, [...shape]);
}

/**
 * Embedding lookup: rows of `weight` (V, D) for integer `indices` of any shape → (..., D).
 * With `paddingIdx`, that row receives no gradient (PyTorch's `padding_idx`).
 */
export function embedding(weight: Tensor, indices: Tensor | readonly number[], opts: { paddingIdx?: number } = {}): Tensor {
  assertFloat('embedding', 'weight', weight);
  if (weight.ndim !== 2) throw new SeqgradError('embedding', `weight must be 2-D (numEmbeddings, dim), got ${fmt(weight.shape)}`);
  const { idx, shape } = toIndices('embedding', 'indices', indices, weight.shape[0]!, `weight${fmt(weight.shape)} has ${weight.shape[0]} rows`);
  let rows = indexSelectOp(weight, 0, idx);
  if (opts.paddingIdx !== undefined) {
    const pad = opts.paddingIdx < 0 ? opts.paddingIdx + weight.shape[0]! : opts.paddingIdx;
    const keep = arrayFor(weight.dtype, idx.length);
    for (let i = 0; i < idx.length; i++) keep[i] = idx[i] === pad ? 0 : 1;
    const keepT = new Tensor(keep, [idx.length, 1]);
    // Forward value unchanged; gradient masked for padding rows.
    rows = rows.mul(keepT).add(rows.detach().mul(keepT.neg().add(1)));
  }
  return reshape(rows, [...shape, weight.shape[1]!]);
}
