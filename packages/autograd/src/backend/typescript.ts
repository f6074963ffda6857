/**
 * The TypeScript backend: every contract of the backend interface as plain loops over typed
 * arrays. It runs everywhere and covers every case; the other backends hand it what they do not.
 */
import { sigmoidF32, sigmoidScalar, tanhF32 } from './activations.js';
import { type BlockSizes, applyBeta, forEachBlock, roundUp } from './blocking.js';
import { SourcedPackedB } from './packed.js';
import type { AnyArray, Backend, BinaryOp, FloatArray, GemmKernel, PackedB, UnaryOp } from './types.js';

const MR = 4; // register tile rows
const NR = 4; // register tile columns
/** 64×256 doubles of op(A) (128 KB, in L2); 256×1024 doubles of op(B) (2 MB). */
export const TS_BLOCKS: BlockSizes = { MC: 64, KC: 256, NC: 1024 };

// Packed blocks, allocated on first use and reused: op(A) scaled by alpha in MR-row panels, op(B)
// in NR-column panels, both as float64 so the inner loop reads one array type whatever the dtype.
let packA = new Float64Array(0);
let packB = new Float64Array(0);
const edgeTile = new Float64Array(MR * NR);

/**
 * Packs `width` lines of a matrix X, from line l0, over k0 ≤ k < k0 + kc into panels of R lines:
 * out[at + p·kc + k·R + r] = scale · X(l0 + p + r, k0 + k), zero past `width`. X(l, k) is
 * X[off + l·ld + k] when k runs along X's rows in memory (`kContiguous`), else X[off + k·ld + l].
 * op(A) packs its rows (R = MR, k contiguous unless transA, scaled by alpha); op(B) packs its
 * columns (R = NR, k contiguous when transB, scale 1).
 */
function packPanels(
  X: FloatArray, off: number, ld: number, kContiguous: boolean, l0: number, width: number, k0: number, kc: number,
  R: number, scale: number, out: Float64Array, at: number,
): void {
  for (let p = 0; p < width; p += R) {
    const base = at + p * kc;
    const lines = Math.min(R, width - p);
    for (let r = 0; r < R; r++) {
      let d = base + r;
      if (r >= lines) { for (let k = 0; k < kc; k++, d += R) out[d] = 0; continue; }
      const l = l0 + p + r;
      if (kContiguous) {
        let s = off + l * ld + k0;
        for (let k = 0; k < kc; k++, d += R) out[d] = scale * X[s++]!;
      } else {
        let s = off + k0 * ld + l;
        for (let k = 0; k < kc; k++, d += R, s += ld) out[d] = scale * X[s]!;
      }
    }
  }
}

/** op(B)'s block [k0, k0 + kc) × [j0, j0 + nc) in NR-column panels at `at`. */
function packBlockB(B: FloatArray, bOff: number, ldb: number, transB: boolean, k0: number, kc: number, j0: number, nc: number, out: Float64Array, at: number): void {
  packPanels(B, bOff, ldb, transB, j0, nc, k0, kc, NR, 1, out, at);
}

/** alpha · op(A)'s block [i0, i0 + mc) × [k0, k0 + kc) in MR-row panels. */
function packBlockA(A: FloatArray, aOff: number, lda: number, transA: boolean, i0: number, mc: number, k0: number, kc: number, alpha: number, out: Float64Array): void {
  packPanels(A, aOff, lda, !transA, i0, mc, k0, kc, MR, alpha, out, 0);
}

/** C[mc × nc] += Apack · Bpack (op(B) panels from `bAt`), one 4×4 register tile at a time (edge tiles write only what is inside C). */
function macro(ap: Float64Array, bp: Float64Array, bAt: number, mc: number, nc: number, kc: number, C: FloatArray, cBase: number, ldc: number): void {
  for (let q = 0; q < nc; q += NR) {
    const bBase = bAt + q * kc;
    const w = Math.min(NR, nc - q);
    for (let p = 0; p < mc; p += MR) {
      let a = p * kc;
      let b = bBase;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
      let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
      let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let k = 0; k < kc; k++) {
        const b0 = bp[b]!, b1 = bp[b + 1]!, b2 = bp[b + 2]!, b3 = bp[b + 3]!;
        const a0 = ap[a]!;
        c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
        const a1 = ap[a + 1]!;
        c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
        const a2 = ap[a + 2]!;
        c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
        const a3 = ap[a + 3]!;
        c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
        a += MR;
        b += NR;
      }
      const h = Math.min(MR, mc - p);
      let c = cBase + p * ldc + q;
      if (h === MR && w === NR) {
        C[c] += c00; C[c + 1] += c01; C[c + 2] += c02; C[c + 3] += c03; c += ldc;
        C[c] += c10; C[c + 1] += c11; C[c + 2] += c12; C[c + 3] += c13; c += ldc;
        C[c] += c20; C[c + 1] += c21; C[c + 2] += c22; C[c + 3] += c23; c += ldc;
        C[c] += c30; C[c + 1] += c31; C[c + 2] += c32; C[c + 3] += c33;
      } else {
        const t = edgeTile;
        t[0] = c00; t[1] = c01; t[2] = c02; t[3] = c03; t[4] = c10; t[5] = c11; t[6] = c12; t[7] = c13;
        t[8] = c20; t[9] = c21; t[10] = c22; t[11] = c23; t[12] = c30; t[13] = c31; t[14] = c32; t[15] = c33;
        for (let ii = 0; ii < h; ii++) for (let jj = 0; jj < w; jj++) C[c + ii * ldc + jj] += t[ii * NR + jj]!;
      }
    }
  }
}

function ensurePackA(): void {
  if (packA.length === 0) packA = new Float64Array(TS_BLOCKS.MC * TS_BLOCKS.KC);
}

/**
 * The portable TypeScript GEMM, in the blocking plan's 'jki' order: a 4×4 register tile (16 local
 * accumulators) over op(A)·alpha packed in 4-row panels and op(B) packed in 4-column panels.
 * Float32 and float64 alike; sums are accumulated in float64.
 */
export const gemmJs: GemmKernel = (transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc) => {
  if (M === 0 || N === 0) return;
  applyBeta(beta, M, N, C, cOff, ldc, true);
  if (K === 0 || alpha === 0) return;
  ensurePackA();
  if (packB.length === 0) packB = new Float64Array(TS_BLOCKS.KC * TS_BLOCKS.NC);
  forEachBlock(M, N, K, TS_BLOCKS, 'jki', (b) => {
    if (b.i0 === 0) packBlockB(B, bOff, ldb, transB, b.k0, b.kc, b.j0, b.nc, packB, 0);
    packBlockA(A, aOff, lda, transA, b.i0, b.mc, b.k0, b.kc, alpha, packA);
    macro(packA, packB, 0, b.mc, b.nc, b.kc, C, cOff + b.i0 * ldc + b.j0, ldc);
  });
};

/** op(B) packed by the TypeScript backend: column block j0 (nc wide, padded to NR) holds its K slices one after another, kc·ncPad each. */
export class TsPackedB extends SourcedPackedB {
  panels: Float64Array | null;
  constructor(transB: boolean, K: number, N: number, B: FloatArray, bOff: number, ldb: number) {
    super(K, N, transB, B, bOff, ldb);
    const panels = new Float64Array(roundUp(N, NR) * K);
    for (let j0 = 0; j0 < N; j0 += TS_BLOCKS.NC) {
      const nc = Math.min(TS_BLOCKS.NC, N - j0);
      for (let k0 = 0; k0 < K; k0 += TS_BLOCKS.KC) {
        const kc = Math.min(TS_BLOCKS.KC, K - k0);
        packBlockB(B, bOff, ldb, transB, k0, kc, j0, nc, panels, j0 * K + k0 * roundUp(nc, NR));
      }
    }
    this.panels = panels;
  }
  protected free(): void {
    this.panels = null;
  }
}

/** gemmJs with op(B) packed beforehand: the same packing and register tile, so the same result. */
function tsGemmPacked(
  transA: boolean, M: number, alpha: number, A: FloatArray, aOff: number, lda: number,
  packed: PackedB, beta: number, C: FloatArray, cOff: number, ldc: number,
): void {
  const p = packed as TsPackedB;
  p.check('gemmPacked');
  const panels = p.panels!;
  const { K, N } = p;
  if (M === 0 || N === 0) return;
  applyBeta(beta, M, N, C, cOff, ldc, true);
  if (K === 0 || alpha === 0) return;
  ensurePackA();
  forEachBlock(M, N, K, TS_BLOCKS, 'jki', (b) => {
    packBlockA(A, aOff, lda, transA, b.i0, b.mc, b.k0, b.kc, alpha, packA);
    macro(packA, panels, b.j0 * K + b.k0 * roundUp(b.nc, NR), b.mc, b.nc, b.kc, C, cOff + b.i0 * ldc + b.j0, ldc);
  });
}

/** One run of `n` outputs: out[o + j] = a[ai + j*as] op b[bi + j*bs]. */
export function binaryRun(
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
 * out[i] = op(x[i]). Stable forms for sigmoid (no overflow for large |x|). Into a Float32Array,
 * tanh and sigmoid use `tanhF32` and `sigmoidF32` (within one float32 ulp, about twice as fast).
 */
export function unaryLoop(op: UnaryOp, out: FloatArray, x: AnyArray): void {
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

export const typescriptBackend: Backend = {
  name: 'typescript',
  gemm: gemmJs,
  packB: (transB, K, N, B, bOff, ldb) => new TsPackedB(transB, K, N, B, bOff, ldb),
  gemmPacked: tsGemmPacked,
  binary(op, out, a, b, n, bRow) {
    if (a.length === n && b.length === n) binaryRun(op, out, 0, a, 0, 1, b, 0, 1, n);
    else if (a.length === n && b.length === 1) binaryRun(op, out, 0, a, 0, 1, b, 0, 0, n);
    else if (a.length === 1 && b.length === n) binaryRun(op, out, 0, a, 0, 0, b, 0, 1, n);
    else if (a.length === n && bRow > 0 && b.length === bRow && n % bRow === 0) {
      for (let r = 0; r < n; r += bRow) binaryRun(op, out, r, a, r, 1, b, 0, 1, bRow);
    } else return false;
    return true;
  },
  unary(op, out, x) {
    unaryLoop(op, out, x);
    return true;
  },
  sumRows(out, x, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      for (let j = 0; j < cols; j++) out[j] += x[base + j]!;
    }
    return true;
  },
};
