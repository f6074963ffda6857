/**
 * Elementwise kernels: plain loops over typed arrays. The operation is chosen once per call
 * (or once per row when broadcasting), never by a closure per element.
 */
import { createWasmBinary } from '../wasm/elementwise.js';

export type AnyArray = Float32Array | Float64Array | Int32Array;
export type FloatArray = Float32Array | Float64Array;

export type BinaryOp = 'add' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum' | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';
export type UnaryOp = 'neg' | 'exp' | 'log' | 'sqrt' | 'abs' | 'tanh' | 'sigmoid' | 'relu' | 'sign' | 'reluMask';

/** One run of `n` outputs: out[o + j] = a[ai + j*as] op b[bi + j*bs]. */
function binaryRun(
  op: BinaryOp, out: AnyArray, o: number, a: AnyArray, ai: number, as: number, b: AnyArray, bi: number, bs: number, n: number,
): void {
  switch (op) {
    case 'add': for (let j = 0; j < n; j++) out[o + j] = a[ai + j * as]! + b[bi + j * bs]!; break;
    case 'mul': for (let j = 0; j < n; j++) out[o + j] = a[ai + j * as]! * b[bi + j * bs]!; break;
    case 'div': for (let j = 0; j < n; j++) out[o + j] = a[ai + j * as]! / b[bi + j * bs]!; break;
    case 'pow': for (let j = 0; j < n; j++) out[o + j] = Math.pow(a[ai + j * as]!, b[bi + j * bs]!); break;
    case 'maximum': for (let j = 0; j < n; j++) { const x = a[ai + j * as]!, y = b[bi + j * bs]!; out[o + j] = x > y || x !== x ? x : y; } break;
    case 'minimum': for (let j = 0; j < n; j++) { const x = a[ai + j * as]!, y = b[bi + j * bs]!; out[o + j] = x < y || x !== x ? x : y; } break;
    case 'eq': for (let j = 0; j < n; j++) out[o + j] = a[ai + j * as]! === b[bi + j * bs]! ? 1 : 0; break;
    case 'ne': for (let j = 0; j < n; j++) out[o + j] = a[ai + j * as]! !== b[bi + j * bs]! ? 1 : 0; break;
    case 'lt': for (let j = 0; j < n; j++) out[o + j] = a[ai + j * as]! < b[bi + j * bs]! ? 1 : 0; break;
    case 'le': for (let j = 0; j < n; j++) out[o + j] = a[ai + j * as]! <= b[bi + j * bs]! ? 1 : 0; break;
    case 'gt': for (let j = 0; j < n; j++) out[o + j] = a[ai + j * as]! > b[bi + j * bs]! ? 1 : 0; break;
    case 'ge': for (let j = 0; j < n; j++) out[o + j] = a[ai + j * as]! >= b[bi + j * bs]! ? 1 : 0; break;
  }
}

/**
 * The WebAssembly SIMD kernel for add/mul/div on equal shapes, against a single value or a row
 * (bit-identical results), or null where WebAssembly SIMD is unavailable.
 */
const wasmBinary = createWasmBinary();
/** Whether the WebAssembly elementwise kernels run: this one and the row sum of `reduce`. */
let wasmOn = wasmBinary !== null;

/**
 * Turns the WebAssembly elementwise kernels off (false) or back on (true, where available);
 * returns whether they were on. For tests and benchmarks: results are the same either way.
 */
export function setWasmElementwise(on: boolean): boolean {
  const was = wasmOn;
  wasmOn = on && wasmBinary !== null;
  return was;
}

/** Whether the WebAssembly elementwise kernels are in use (see `setWasmElementwise`). */
export function useWasmElementwise(): boolean {
  return wasmOn;
}

/**
 * Broadcasting binary op. `outShape` is the broadcast shape; `aShape`/`bShape` are
 * right-aligned against it. Walks the output one last-axis row at a time.
 */
export function binaryBroadcast(
  op: BinaryOp, out: AnyArray, outShape: readonly number[], a: AnyArray, aShape: readonly number[], b: AnyArray, bShape: readonly number[],
): void {
  const n = out.length;
  if (n === 0) return;
  if (wasmOn && (a.length === n || b.length === n) && wasmBinary!(op, out as FloatArray, a as FloatArray, b as FloatArray, n, rowLength(bShape, outShape))) return;
  if (a.length === n && b.length === n) return binaryRun(op, out, 0, a, 0, 1, b, 0, 1, n);
  if (b.length === 1 && a.length === n) return binaryRun(op, out, 0, a, 0, 1, b, 0, 0, n);
  if (a.length === 1 && b.length === n) return binaryRun(op, out, 0, a, 0, 0, b, 0, 1, n);
  const rank = outShape.length;
  const aStr = broadcastStrides(aShape, outShape);
  const bStr = broadcastStrides(bShape, outShape);
  const last = outShape[rank - 1]!;
  const rows = n / last;
  const idx = new Array<number>(rank).fill(0);
  let ai = 0;
  let bi = 0;
  for (let r = 0; r < rows; r++) {
    binaryRun(op, out, r * last, a, ai, aStr[rank - 1]!, b, bi, bStr[rank - 1]!, last);
    // Advance the multi-index over the outer axes (odometer), updating offsets incrementally.
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      ai += aStr[d]!;
      bi += bStr[d]!;
      if (idx[d]! < outShape[d]!) break;
      ai -= aStr[d]! * outShape[d]!;
      bi -= bStr[d]! * outShape[d]!;
      idx[d] = 0;
    }
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

/** Strides of `shape` read against the broadcast `outShape` (0 on broadcast axes). */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const rank = outShape.length;
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    const od = rank - shape.length + d;
    strides[od] = shape[d] === 1 ? 0 : s;
    s *= shape[d]!;
  }
  return strides;
}

/** Copies `src` (of `shape`) broadcast to `outShape` into `out`. */
export function broadcastCopy(out: AnyArray, outShape: readonly number[], src: AnyArray, shape: readonly number[]): void {
  const n = out.length;
  if (n === 0) return;
  if (src.length === n) { out.set(src); return; }
  if (src.length === 1) { out.fill(src[0]!); return; }
  const rank = outShape.length;
  const str = broadcastStrides(shape, outShape);
  const last = outShape[rank - 1]!;
  const ls = str[rank - 1]!;
  const rows = n / last;
  const idx = new Array<number>(rank).fill(0);
  let si = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * last;
    if (ls === 0) out.fill(src[si]!, o, o + last);
    else for (let j = 0; j < last; j++) out[o + j] = src[si + j]!;
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      si += str[d]!;
      if (idx[d]! < outShape[d]!) break;
      si -= str[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}

/**
 * out[i] = op(x[i]). Stable forms for sigmoid (no overflow for large |x|). Into a Float32Array,
 * tanh and sigmoid use `tanhF32` and `sigmoidF32` (within one float32 ulp, about twice as fast).
 */
export function unary(op: UnaryOp, out: FloatArray, x: AnyArray): void {
  const n = x.length;
  switch (op) {
    case 'neg': for (let i = 0; i < n; i++) out[i] = -x[i]!; break;
    case 'exp': for (let i = 0; i < n; i++) out[i] = Math.exp(x[i]!); break;
    case 'log': for (let i = 0; i < n; i++) out[i] = Math.log(x[i]!); break;
    case 'sqrt': for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]!); break;
    case 'abs': for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]!); break;
    case 'tanh':
      if (out instanceof Float32Array) for (let i = 0; i < n; i++) out[i] = tanhF32(x[i]!);
      else for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]!);
      break;
    case 'sigmoid':
      if (out instanceof Float32Array) for (let i = 0; i < n; i++) out[i] = sigmoidF32(x[i]!);
      else for (let i = 0; i < n; i++) out[i] = sigmoidScalar(x[i]!);
      break;
    case 'relu': for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = v > 0 ? v : 0; } break;
    case 'reluMask': for (let i = 0; i < n; i++) out[i] = x[i]! > 0 ? 1 : 0; break;
    case 'sign': for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = v > 0 ? 1 : v < 0 ? -1 : v; } break;
  }
}

/** Stable sigmoid of one number, for kernels that fuse it into a larger loop. */
export function sigmoidScalar(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

// expm1F32's tables: 2^m for m in [-160, 160] and 2^(j/32) for j in [0, 32); ln2/32 split in
// two so that k·ln2/32 is exact for the k that occur.
const POW2 = new Float64Array(321);
for (let m = -160; m <= 160; m++) POW2[m + 160] = 2 ** m;
const POW2_FRAC = new Float64Array(32);
for (let j = 0; j < 32; j++) POW2_FRAC[j] = 2 ** (j / 32);
const INV_LN2_32 = 32 / Math.LN2;
const LN2_32_HI = 0.6931471803691238 / 32;
const LN2_32_LO = 1.9082149292705877e-10 / 32;
/** Adding and subtracting 1.5·2^52 rounds a double of magnitude below 2^51 to the nearest integer. */
const ROUND = 6755399441055744;

/**
 * e^y − 1 for |y| ≤ 104, with relative error below 1e-11: meant for results stored in float32,
 * where it is the correctly rounded value or 1 ulp from it (not for float64 results). With
 * y = (32m + j)·ln2/32 + r, |r| ≤ ln2/64: e^y − 1 = s·(e^r − 1) + (s − 1), s = 2^m·2^(j/32) from
 * two tables, e^r − 1 a degree-5 polynomial (relatively accurate near 0, where s = 1). A short
 * dependency chain and no Math call: two to three times as fast as Math.expm1 in V8's gate loops.
 * Callers clamp y; NaN gives NaN.
 */
export function expm1F32(y: number): number {
  const k = (y * INV_LN2_32 + ROUND) - ROUND;
  const r = (y - k * LN2_32_HI) - k * LN2_32_LO;
  const pm = r * (1 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120)))));
  if (k === 0) return pm; // keeps −0
  const ki = k | 0;
  const s = POW2[(ki >> 5) + 160]! * POW2_FRAC[ki & 31]!;
  return s * pm + (s - 1);
}

/**
 * tanh for float32 results: e / (e + 2) with e = expm1F32(2v), |v| capped at 20 (tanh is ±1 in
 * float32 from |v| ≈ 9). Relative error below 1e-11 in double, so the float32 result is
 * Math.tanh's rounded value, or 1 ulp from it; ±0, ±Infinity and NaN come through as for Math.tanh.
 */
export function tanhF32(v: number): number {
  const e = expm1F32(2 * (v > 20 ? 20 : v < -20 ? -20 : v));
  return e / (e + 2);
}

/**
 * The logistic sigmoid for float32 results: 1 / (2 + expm1F32(−v)), v capped at ±104 (beyond
 * which it rounds to 0 or 1 in float32). Relatively accurate across the range, including the tail near 0:
 * within 1 float32 ulp of the correctly rounded value.
 */
export function sigmoidF32(v: number): number {
  return 1 / (2 + expm1F32(v > 104 ? -104 : v < -104 ? 104 : -v));
}
