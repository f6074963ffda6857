import { sumRows } from '../backend/index.js';
import type { AnyArray, FloatArray } from '../backend/types.js';

export type ReduceOp = 'sum' | 'max' | 'min';

/**
 * Reduces `x` (of `shape`) over the axes flagged in `reduced` into `out`, whose layout is the
 * input shape with reduced axes removed (equivalently kept as size 1). For max/min, `argOut`
 * receives the flat input index of the first extreme element of each output.
 */
export function reduce(
  op: ReduceOp, out: FloatArray, x: AnyArray, shape: readonly number[], reduced: readonly boolean[], argOut?: Int32Array,
): void {
  const rank = shape.length;
  const n = x.length;
  // Output strides per input axis (0 on reduced axes).
  const oStr = new Array<number>(rank).fill(0);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) {
    if (!reduced[d]) { oStr[d] = s; s *= shape[d]!; }
  }
  const init = op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity;
  out.fill(init);
  if (argOut) argOut.fill(-1);
  if (n === 0) return;
  // A sum over leading axes only (a broadcast's gradient: (B, C) → (C)): rows added in order.
  if (op === 'sum' && reduced[0] && !reduced[rank - 1]) {
    let k = 0;
    while (k < rank && reduced[k]) k++;
    let tail = k;
    while (tail < rank && !reduced[tail]) tail++;
    if (tail === rank) return sumRows(out, x, n / out.length, out.length);
  }
  const last = shape[rank - 1] ?? 1;
  const lastReduced = rank > 0 && reduced[rank - 1]!;
  const rows = rank === 0 ? 1 : n / last;
  const idx = new Array<number>(rank).fill(0);
  let oi = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * last;
    if (op === 'sum') {
      if (lastReduced) {
        let acc = 0;
        for (let j = 0; j < last; j++) acc += x[base + j]!;
        out[oi] += acc;
      } else {
        for (let j = 0; j < last; j++) out[oi + j] += x[base + j]!;
      }
    } else {
      const isMax = op === 'max';
      for (let j = 0; j < last; j++) {
        const v = x[base + j]!;
        const o = lastReduced ? oi : oi + j;
        const cur = out[o]!;
        // NaN wins (propagates), like PyTorch's amax.
        if (argOut![o] === -1 || v !== v || (cur === cur && (isMax ? v > cur : v < cur))) {
          out[o] = v;
          argOut![o] = base + j;
        }
      }
    }
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      oi += oStr[d]!;
      if (idx[d]! < shape[d]!) break;
      oi -= oStr[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

/** out = x permuted: out axis i is input axis perm[i]. */
export function permuteCopy(out: AnyArray, x: AnyArray, shape: readonly number[], perm: readonly number[]): void {
  const rank = shape.length;
  const n = x.length;
  if (n === 0) return;
  const inStr = new Array<number>(rank);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) { inStr[d] = s; s *= shape[d]!; }
  const outShape = perm.map((p) => shape[p]!);
  const str = perm.map((p) => inStr[p]!); // input stride for each output axis
  const last = outShape[rank - 1]!;
  const ls = str[rank - 1]!;
  const rows = n / last;
  const idx = new Array<number>(rank).fill(0);
  let si = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * last;
    for (let j = 0; j < last; j++) out[o + j] = x[si + j * ls]!;
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      si += str[d]!;
      if (idx[d]! < outShape[d]!) break;
      si -= str[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}
