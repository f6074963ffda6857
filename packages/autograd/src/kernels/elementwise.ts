/**
 * Elementwise kernels: the broadcasting front ends of the backend's elementwise contracts. The
 * operation is chosen once per call (or once per row when broadcasting), never by a closure per
 * element.
 */
import { binary, unary as backendUnary } from '../backend/index.js';
import { binaryRun } from '../backend/typescript.js';
import type { AnyArray, BinaryOp, FloatArray, UnaryOp } from '../backend/types.js';
import { broadcastStrides, stridedOffsets } from '../shapes.js';

export type { AnyArray, BinaryOp, FloatArray, UnaryOp };
export { broadcastStrides };
export { setWasmElementwise, useWasmElementwise } from '../backend/index.js';
export { expm1F32, sigmoidF32, sigmoidScalar, tanhF32 } from '../backend/activations.js';

/**
 * Broadcasting binary op. `outShape` is the broadcast shape; `aShape`/`bShape` are
 * right-aligned against it. Walks the output one last-axis row at a time.
 */
export function binaryBroadcast(
  op: BinaryOp, out: AnyArray, outShape: readonly number[], a: AnyArray, aShape: readonly number[], b: AnyArray, bShape: readonly number[],
): void {
  const n = out.length;
  if (n === 0) return;
  // Equal lengths, a single value on either side, or b one row repeated: the backend's contract.
  if ((a.length === n || b.length === n) && binary(op, out, a, b, n, rowLength(bShape, outShape))) return;
  const rank = outShape.length;
  const aStr = broadcastStrides(aShape, outShape);
  const bStr = broadcastStrides(bShape, outShape);
  const last = outShape[rank - 1]!;
  // Where each output row reads its a and b.
  const aRows = stridedOffsets(outShape, aStr, rank - 1);
  const bRows = stridedOffsets(outShape, bStr, rank - 1);
  for (let r = 0; r < aRows.length; r++) {
    binaryRun(op, out, r * last, a, aRows[r]!, aStr[rank - 1]!, b, bRows[r]!, bStr[rank - 1]!, last);
  }
}

/**
 * b.length when `shape`, without its leading 1s, equals the trailing axes of `outShape` (b is one
 * row repeated along the leading axes, as a bias is); else 0.
 */
function rowLength(shape: readonly number[], outShape: readonly number[]): number {
  let first = 0;
  while (first < shape.length && shape[first] === 1) first++;
  const k = shape.length - first;
  if (k === 0 || k > outShape.length) return 0;
  let len = 1;
  for (let d = 0; d < k; d++) {
    if (shape[first + d] !== outShape[outShape.length - k + d]) return 0;
    len *= shape[first + d]!;
  }
  return len;
}

/**
 * out[i] = op(x[i]). Stable forms for sigmoid (no overflow for large |x|). Into a Float32Array,
 * tanh and sigmoid use `tanhF32` and `sigmoidF32`, rational approximations within one float32
 * ulp that are cheaper than `Math.tanh` and `Math.exp` (docs/performance.md has the figures).
 */
export function unary(op: UnaryOp, out: FloatArray, x: AnyArray): void {
  backendUnary(op, out, x);
}
