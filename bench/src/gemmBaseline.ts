/**
 * The TypeScript GEMM as it was before the performance work (commit 9b3f710), kept verbatim
 * so `pnpm bench:matmul` can show before and after side by side in one run.
 */
import { kernels } from '@seqgrad/autograd';

type FloatArray = kernels.FloatArray;
type GemmKernel = kernels.GemmKernel;

// Packing buffers are reused across calls (grown when needed), never allocated per call.
let pack64A = new Float64Array(0);
let pack64B = new Float64Array(0);
let pack32A = new Float32Array(0);
let pack32B = new Float32Array(0);

function packBuffer(like: FloatArray, size: number, which: 'A' | 'B'): FloatArray {
  if (like instanceof Float32Array) {
    if (which === 'A') return pack32A.length >= size ? pack32A : (pack32A = new Float32Array(size * 2));
    return pack32B.length >= size ? pack32B : (pack32B = new Float32Array(size * 2));
  }
  if (which === 'A') return pack64A.length >= size ? pack64A : (pack64A = new Float64Array(size * 2));
  return pack64B.length >= size ? pack64B : (pack64B = new Float64Array(size * 2));
}

const KC = 256; // K-block: a slab of B rows that stays in L2
const NC = 512; // N-block

/** The portable TypeScript GEMM: packs transposed operands, then a blocked 4-row kernel. */
export const gemmBaseline: GemmKernel = (transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc) => {
  if (M === 0 || N === 0) return;
  // Scale C by beta first (beta = 0 overwrites, so NaN garbage in C never leaks).
  if (beta === 0) {
    for (let i = 0; i < M; i++) C.fill(0, cOff + i * ldc, cOff + i * ldc + N);
  } else if (beta !== 1) {
    for (let i = 0; i < M; i++) {
      const row = cOff + i * ldc;
      for (let j = 0; j < N; j++) C[row + j]! *= beta;
    }
  }
  if (K === 0 || alpha === 0) return;

  // A as (M, K) row-major: if transposed, pack it (A stored (K, M)).
  let a = A;
  let ao = aOff;
  let la = lda;
  if (transA) {
    a = packBuffer(A, M * K, 'A');
    for (let k = 0; k < K; k++) {
      const src = aOff + k * lda;
      for (let i = 0; i < M; i++) a[i * K + k] = A[src + i]!;
    }
    ao = 0;
    la = K;
  }
  // B as (K, N) row-major: if transposed, pack it (B stored (N, K)).
  let b = B;
  let bo = bOff;
  let lb = ldb;
  if (transB) {
    b = packBuffer(B, K * N, 'B');
    for (let j = 0; j < N; j++) {
      const src = bOff + j * ldb;
      for (let k = 0; k < K; k++) b[k * N + j] = B[src + k]!;
    }
    bo = 0;
    lb = N;
  }

  for (let j0 = 0; j0 < N; j0 += NC) {
    const j1 = Math.min(N, j0 + NC);
    for (let k0 = 0; k0 < K; k0 += KC) {
      const k1 = Math.min(K, k0 + KC);
      let i = 0;
      // Four rows of C at a time: each B element loaded once feeds four multiply-adds.
      for (; i + 3 < M; i += 4) {
        const c0 = cOff + i * ldc;
        const c1 = c0 + ldc;
        const c2 = c1 + ldc;
        const c3 = c2 + ldc;
        const a0 = ao + i * la;
        const a1 = a0 + la;
        const a2 = a1 + la;
        const a3 = a2 + la;
        for (let k = k0; k < k1; k++) {
          const x0 = alpha * a[a0 + k]!;
          const x1 = alpha * a[a1 + k]!;
          const x2 = alpha * a[a2 + k]!;
          const x3 = alpha * a[a3 + k]!;
          const br = bo + k * lb;
          for (let j = j0; j < j1; j++) {
            const bv = b[br + j]!;
            C[c0 + j] += x0 * bv;
            C[c1 + j] += x1 * bv;
            C[c2 + j] += x2 * bv;
            C[c3 + j] += x3 * bv;
          }
        }
      }
      for (; i < M; i++) {
        const c0 = cOff + i * ldc;
        const a0 = ao + i * la;
        for (let k = k0; k < k1; k++) {
          const x0 = alpha * a[a0 + k]!;
          const br = bo + k * lb;
          for (let j = j0; j < j1; j++) C[c0 + j] += x0 * b[br + j]!;
        }
      }
    }
  }
};

