/**
 * The blocking plan every GEMM implementation follows (GotoBLAS order): C is cut into NC-wide
 * column blocks, K into KC-deep slices and the rows into MC-row blocks. For each column block and
 * K slice, op(B) is packed once into NR-column panels; for each row block, op(A) is packed into
 * MR-row panels and a register tile runs over every pair of panels. Each element of C receives its
 * K slices in ascending order, whatever order the blocks are visited in, so every implementation
 * that adds a slice's products the same way gives the same result.
 */
import type { FloatArray } from './types.js';

/** Block sizes of one implementation (elements). */
export interface BlockSizes {
  /** Rows of op(A) per packed block. */
  readonly MC: number;
  /** Depth of a packed slice of K. */
  readonly KC: number;
  /** Columns of op(B) per packed block. */
  readonly NC: number;
}

/** One block of the plan; `firstK` / `lastK` say whether it holds the first or last K slice. */
export interface Block {
  j0: number; nc: number;
  k0: number; kc: number;
  i0: number; mc: number;
  firstK: boolean; lastK: boolean;
}

/**
 * Visits the blocks of an M×N×K product. Order 'jki' (column block, K slice, row block) packs op(B)
 * once per column block and slice: `visit` sees `i0 === 0` when a new op(B) block starts. Order
 * 'jik' (column block, row block, K slice) keeps a block of C in place over all its K slices. One
 * `Block` object is reused between calls of `visit`.
 */
export function forEachBlock(M: number, N: number, K: number, sizes: BlockSizes, order: 'jki' | 'jik', visit: (b: Block) => void): void {
  const { MC, KC, NC } = sizes;
  const b: Block = { j0: 0, nc: 0, k0: 0, kc: 0, i0: 0, mc: 0, firstK: true, lastK: true };
  for (let j0 = 0; j0 < N; j0 += NC) {
    b.j0 = j0;
    b.nc = Math.min(NC, N - j0);
    if (order === 'jki') {
      for (let k0 = 0; k0 < K; k0 += KC) {
        setK(b, k0, KC, K);
        for (let i0 = 0; i0 < M; i0 += MC) {
          b.i0 = i0;
          b.mc = Math.min(MC, M - i0);
          visit(b);
        }
      }
    } else {
      for (let i0 = 0; i0 < M; i0 += MC) {
        b.i0 = i0;
        b.mc = Math.min(MC, M - i0);
        for (let k0 = 0; k0 < K; k0 += KC) {
          setK(b, k0, KC, K);
          visit(b);
        }
      }
    }
  }
}

function setK(b: Block, k0: number, KC: number, K: number): void {
  b.k0 = k0;
  b.kc = Math.min(KC, K - k0);
  b.firstK = k0 === 0;
  b.lastK = k0 + b.kc === K;
}

/**
 * Applies beta to C before the products are added: C *= beta for beta ∉ {0, 1}. beta = 0 is left to
 * the caller, which must overwrite C (`zeroForBetaZero` fills it with zeros for implementations that
 * only add into C; the WebAssembly kernels store over C on the first K slice instead).
 */
export function applyBeta(beta: number, M: number, N: number, C: FloatArray, cOff: number, ldc: number, zeroForBetaZero: boolean): void {
  if (beta === 1) return;
  if (beta === 0) {
    if (zeroForBetaZero) for (let i = 0; i < M; i++) C.fill(0, cOff + i * ldc, cOff + i * ldc + N);
    return;
  }
  for (let i = 0; i < M; i++) {
    const row = cOff + i * ldc;
    for (let j = 0; j < N; j++) C[row + j]! *= beta;
  }
}

/** `n` rounded up to a multiple of `m`. */
export const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;
