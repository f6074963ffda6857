/**
 * General matrix multiply on typed arrays: C = alpha · op(A) · op(B) + beta · C, row-major,
 * op(X) = X or Xᵀ. No autograd here; every matmul in seqgrad ends up in this one entry point,
 * so a faster kernel (WASM SIMD) can replace it without touching any gradient.
 *
 * Shapes: op(A) is (M, K), op(B) is (K, N), C is (M, N). `lda`, `ldb`, `ldc` are the row
 * strides of A, B and C as stored (before the transpose).
 */
import { createWasmGemm, wasmSimdAvailable } from '../wasm/gemm.js';

export type FloatArray = Float32Array | Float64Array;

export interface GemmKernel {
  (
    transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: FloatArray, aOff: number, lda: number,
    B: FloatArray, bOff: number, ldb: number,
    beta: number, C: FloatArray, cOff: number, ldc: number,
  ): void;
}

const MR = 4; // register tile rows
const NR = 4; // register tile columns
const KC = 256; // depth of a packed slice
const MC = 64; // rows of op(A) per packed block (64×256 doubles = 128 KB, in L2)
const NC = 1024; // columns of op(B) per packed block (256×1024 doubles = 2 MB)
// Packed blocks, allocated on first use and reused: op(A) scaled by alpha in MR-row panels, op(B)
// in NR-column panels, both as float64 so the inner loop reads one array type whatever the dtype.
let packA = new Float64Array(0);
let packB = new Float64Array(0);
const edgeTile = new Float64Array(MR * NR);

/** Bpack[q·kc + k·NR + jj] = op(B)[k0 + k, j0 + q + jj], zero past nc. */
function packBlockB(B: FloatArray, bOff: number, ldb: number, transB: boolean, k0: number, kc: number, j0: number, nc: number, out: Float64Array): void {
  for (let q = 0; q < nc; q += NR) {
    const base = q * kc;
    const w = Math.min(NR, nc - q);
    for (let jj = 0; jj < NR; jj++) {
      let d = base + jj;
      if (jj >= w) { for (let k = 0; k < kc; k++, d += NR) out[d] = 0; continue; }
      const j = j0 + q + jj;
      if (transB) {
        let s = bOff + j * ldb + k0;
        for (let k = 0; k < kc; k++, d += NR) out[d] = B[s++]!;
      } else {
        let s = bOff + k0 * ldb + j;
        for (let k = 0; k < kc; k++, d += NR, s += ldb) out[d] = B[s]!;
      }
    }
  }
}

/** Apack[p·kc + k·MR + ii] = alpha · op(A)[i0 + p + ii, k0 + k], zero past mc. */
function packBlockA(A: FloatArray, aOff: number, lda: number, transA: boolean, i0: number, mc: number, k0: number, kc: number, alpha: number, out: Float64Array): void {
  for (let p = 0; p < mc; p += MR) {
    const base = p * kc;
    const h = Math.min(MR, mc - p);
    for (let ii = 0; ii < MR; ii++) {
      let d = base + ii;
      if (ii >= h) { for (let k = 0; k < kc; k++, d += MR) out[d] = 0; continue; }
      const i = i0 + p + ii;
      if (transA) {
        let s = aOff + k0 * lda + i;
        for (let k = 0; k < kc; k++, d += MR, s += lda) out[d] = alpha * A[s]!;
      } else {
        let s = aOff + i * lda + k0;
        for (let k = 0; k < kc; k++, d += MR) out[d] = alpha * A[s++]!;
      }
    }
  }
}

/** C[mc × nc] += Apack · Bpack, one 4×4 register tile at a time (edge tiles write only what is inside C). */
function macro(ap: Float64Array, bp: Float64Array, mc: number, nc: number, kc: number, C: FloatArray, cBase: number, ldc: number): void {
  for (let q = 0; q < nc; q += NR) {
    const bBase = q * kc;
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

/**
 * The portable TypeScript GEMM (GotoBLAS order): for each NC-wide block of columns and KC-deep
 * slice of K, op(B) is packed once into NR-column panels; for each MC-row block op(A)·alpha is
 * packed into MR-row panels; a 4×4 register tile (16 local accumulators) runs over each pair of
 * panels and adds into C. Float32 and float64 alike; sums are accumulated in float64.
 */
export const gemmJs: GemmKernel = (transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc) => {
  if (M === 0 || N === 0) return;
  if (beta === 0) {
    for (let i = 0; i < M; i++) C.fill(0, cOff + i * ldc, cOff + i * ldc + N);
  } else if (beta !== 1) {
    for (let i = 0; i < M; i++) {
      const row = cOff + i * ldc;
      for (let j = 0; j < N; j++) C[row + j]! *= beta;
    }
  }
  if (K === 0 || alpha === 0) return;
  if (packA.length === 0) {
    packA = new Float64Array(MC * KC);
    packB = new Float64Array(KC * NC);
  }
  for (let j0 = 0; j0 < N; j0 += NC) {
    const nc = Math.min(NC, N - j0);
    for (let k0 = 0; k0 < K; k0 += KC) {
      const kc = Math.min(KC, K - k0);
      packBlockB(B, bOff, ldb, transB, k0, kc, j0, nc, packB);
      for (let i0 = 0; i0 < M; i0 += MC) {
        const mc = Math.min(MC, M - i0);
        packBlockA(A, aOff, lda, transA, i0, mc, k0, kc, alpha, packA);
        macro(packA, packB, mc, nc, kc, C, cOff + i0 * ldc + j0, ldc);
      }
    }
  }
};

/**
 * The WebAssembly SIMD GEMM (float32 and float64), or null where WebAssembly SIMD is unavailable.
 * It hands calls too small to pay for copying into the module, or with mixed element types, to
 * `gemmJs`. Installed by default when available.
 */
export const gemmWasm: GemmKernel | null = createWasmGemm(gemmJs);

export { wasmSimdAvailable };

let activeGemm: GemmKernel = gemmWasm ?? gemmJs;

/** The GEMM in use: `gemmWasm` where WebAssembly SIMD is available, else `gemmJs`; see `setGemmKernel`. */
export function gemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: FloatArray, aOff: number, lda: number,
  B: FloatArray, bOff: number, ldb: number,
  beta: number, C: FloatArray, cOff: number, ldc: number,
): void {
  activeGemm(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
}

/** Replaces the GEMM kernel (returns the previous one). Every matmul and BPTT step uses it. */
export function setGemmKernel(kernel: GemmKernel): GemmKernel {
  const prev = activeGemm;
  activeGemm = kernel;
  return prev;
}
