/**
 * Elementwise kernels: plain loops over typed arrays. The operation is chosen once per call
 * (or once per row when broadcasting), never by a closure per element.
 */
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
 * Broadcasting binary op. `outShape` is the broadcast shape; `aShape`/`bShape` are
 * right-aligned against it. Walks the output one last-axis row at a time.
 */
export function binaryBroadcast(
  op: BinaryOp, out: AnyArray, outShape: readonly number[], a: AnyArray, aShape: readonly number[], b: AnyArray, bShape: readonly number[],
): void {
  const n = out.length;
  if (n === 0) return;
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

/** out[i] = op(x[i]). Stable forms for sigmoid (no overflow for large |x|). */
export function unary(op: UnaryOp, out: FloatArray, x: AnyArray): void {
  const n = x.length;
  switch (op) {
    case 'neg': for (let i = 0; i < n; i++) out[i] = -x[i]!; break;
    case 'exp': for (let i = 0; i < n; i++) out[i] = Math.exp(x[i]!); break;
    case 'log': for (let i = 0; i < n; i++) out[i] = Math.log(x[i]!); break;
    case 'sqrt': for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]!); break;
    case 'abs': for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]!); break;
    case 'tanh': for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]!); break;
    case 'sigmoid':
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        if (v >= 0) out[i] = 1 / (1 + Math.exp(-v));
        else { const e = Math.exp(v); out[i] = e / (1 + e); }
      }
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
