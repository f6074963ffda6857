import fc from 'fast-check';
import { type NestedArray, Tensor, tensor } from '@seqgrad/autograd';

/**
 * Shared test helpers for @seqgrad/autograd: small fast-check arbitraries for shapes and
 * float64 tensors, and seeded GEMM operands. The `toBeAllclose` matcher is registered for
 * every test by tests/setup/allclose.ts.
 */

/** A tensor's values as a plain array (for `toEqual` on exact results). */
export const num = (t: Tensor | null | undefined): number[] => Array.from(t!.data);

// ---------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------

/** A shape of rank in [minRank, maxRank] with sizes in [1, maxDim]. */
export function shapeArb(minRank = 0, maxRank = 3, maxDim = 3): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: minRank, maxLength: maxRank });
}

/** Two shapes that broadcast together: the second is the first with some axes set to 1 and some leading axes dropped (sides swapped at random). */
export function broadcastPairArb(maxRank = 3, maxDim = 3): fc.Arbitrary<[number[], number[]]> {
  return shapeArb(0, maxRank, maxDim).chain((shape) =>
    fc
      .tuple(
        fc.integer({ min: 0, max: shape.length }),
        fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }),
        fc.boolean(),
      )
      .map(([drop, ones, swap]) => {
        const other = shape.map((d, i) => (ones[i] ? 1 : d)).slice(drop);
        return (swap ? [other, shape] : [shape, other]) as [number[], number[]];
      }),
  );
}

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** A float64 tensor of `shape` with values in [min, max]. */
export function tensorArb(shape: readonly number[], min = -2, max = 2, requiresGrad = true): fc.Arbitrary<Tensor> {
  const n = numelOf(shape);
  return fc
    .array(fc.double({ min, max, noNaN: true }), { minLength: n, maxLength: n })
    .map((v) => tensor(Float64Array.from(v), { shape, dtype: 'float64', requiresGrad }));
}

/** Values with |x| in [lo, hi] and a random sign (away from a kink or a pole at 0). */
export function awayFromZeroArb(shape: readonly number[], lo = 0.2, hi = 2): fc.Arbitrary<Tensor> {
  const n = numelOf(shape);
  return fc
    .array(fc.tuple(fc.double({ min: lo, max: hi, noNaN: true }), fc.boolean()), { minLength: n, maxLength: n })
    .map((v) => tensor(Float64Array.from(v, ([m, s]) => (s ? m : -m)), { shape, dtype: 'float64', requiresGrad: true }));
}

/** True when all values are pairwise at least `gap` apart (no ties for max/min). */
export function distinct(values: ArrayLike<number>, gap = 1e-3): boolean {
  const s = Array.from(values).sort((a, b) => a - b);
  for (let i = 1; i < s.length; i++) if (s[i]! - s[i - 1]! < gap) return false;
  return true;
}

/** A float64 tensor from nested arrays (shorthand for hand-computed examples). */
export function f64(data: NestedArray, requiresGrad = false): Tensor {
  return tensor(data, { dtype: 'float64', requiresGrad });
}

/** `len` deterministic values in [−0.5, 0.5) (a linear congruential stream from `seed`), float32 or float64. */
export function filled(len: number, f64: boolean, seed: number): Float32Array | Float64Array {
  const a = f64 ? new Float64Array(len) : new Float32Array(len);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

/** A GEMM call to test: transposes, sizes, offsets and padding of each operand, alpha, beta, a data seed. */
export interface GemmCase {
  f64: boolean; transA: boolean; transB: boolean; M: number; N: number; K: number;
  aOff: number; bOff: number; cOff: number; padA: number; padB: number; padC: number;
  alpha: number; beta: number; seed: number;
}

/** The leading dimensions and seeded operands of a case: A, B, and C's starting values C0. */
export function gemmOperands(c: GemmCase) {
  const lda = (c.transA ? c.M : c.K) + c.padA;
  const ldb = (c.transB ? c.K : c.N) + c.padB;
  const ldc = c.N + c.padC;
  const A = filled(c.aOff + lda * (c.transA ? c.K : c.M), c.f64, c.seed);
  const B = filled(c.bOff + ldb * (c.transB ? c.N : c.K), c.f64, c.seed + 1);
  const C0 = filled(c.cOff + ldc * c.M + c.padC, c.f64, c.seed + 2);
  return { lda, ldb, ldc, A, B, C0 };
}
