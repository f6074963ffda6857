import { sumRows } from '../backend/index.js';
import type { AnyArray, FloatArray } from '../backend/types.js';
import { stridedOffsets } from '../shapes.js';

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
  // Where each input row's first element lands in the output.
  const outRows = stridedOffsets(shape, oStr, Math.max(rank - 1, 0));
  for (let r = 0; r < outRows.length; r++) {
    const base = r * last;
    const oi = outRows[r]!;
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
  }
}
