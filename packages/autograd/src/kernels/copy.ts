/**
 * Strided copies into a contiguous output: a broadcast (`expand`, `where`'s operands) and a
 * permutation (`permute`, transposes) are the same walk with different source strides.
 */
import type { AnyArray } from '../backend/types.js';
import { broadcastStrides, stridedOffsets, stridesOf } from '../shapes.js';

/**
 * out[idx] = src[Σ_d idx[d]·strides[d]] for every index `idx` of `outShape`, walked one
 * last-axis row at a time (a row whose source stride is 0 is one value repeated).
 */
export function stridedCopy(out: AnyArray, outShape: readonly number[], src: AnyArray, strides: readonly number[]): void {
  if (out.length === 0) return;
  const rank = outShape.length;
  const last = outShape[rank - 1] ?? 1;
  const step = strides[rank - 1] ?? 0;
  const srcRows = stridedOffsets(outShape, strides, Math.max(rank - 1, 0));
  for (let r = 0; r < srcRows.length; r++) {
    const o = r * last;
    const s = srcRows[r]!;
    if (step === 0) out.fill(src[s]!, o, o + last);
    else if (step === 1) for (let j = 0; j < last; j++) out[o + j] = src[s + j]!;
    else for (let j = 0; j < last; j++) out[o + j] = src[s + j * step]!;
  }
}

/** Copies `src` (of `shape`) broadcast to `outShape` into `out`. */
export function broadcastCopy(out: AnyArray, outShape: readonly number[], src: AnyArray, shape: readonly number[]): void {
  const n = out.length;
  if (n === 0) return;
  if (src.length === n) { out.set(src); return; }
  if (src.length === 1) { out.fill(src[0]!); return; }
  stridedCopy(out, outShape, src, broadcastStrides(shape, outShape));
}

/** out = x permuted: out axis i is input axis perm[i]. */
export function permuteCopy(out: AnyArray, x: AnyArray, shape: readonly number[], perm: readonly number[]): void {
  const inStrides = stridesOf(shape);
  stridedCopy(out, perm.map((p) => shape[p]!), x, perm.map((p) => inStrides[p]!));
}
