import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Generator, type Tensor, linear, matmul, randn, tensor } from '@seqgrad/autograd';
import { broadcastPairArb, f64 } from './helpers.js';

/** Plain triple loop on nested arrays, the reference for every case below. */
function naive(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0]!.map((_, j) => row.reduce((acc, v, k) => acc + v * b[k]![j]!, 0)));
}
const asMatrix = (t: Tensor) => t.toArray() as number[][];

describe('matmul semantics (PyTorch)', () => {
  test('matmul: 1-D · 1-D is a dot product (0-d)', () => {
    const y = matmul(f64([1, 2, 3]), f64([4, 5, 6]));
    expect(y.shape).toEqual([]);
    expect(y).toBeAllclose(32);
  });

  test('matmul: 2-D · 2-D by hand', () => {
    expect(matmul(f64([[1, 2], [3, 4], [5, 6]]), f64([[1, 0, -1], [2, 1, 0]]))).toBeAllclose([[5, 2, -1], [11, 4, -3], [17, 6, -5]]);
  });

  test('matmul: 1-D · 2-D treats the vector as a row, then drops it', () => {
    const y = matmul(f64([1, 2]), f64([[1, 2, 3], [4, 5, 6]]));
    expect(y.shape).toEqual([3]);
    expect(y).toBeAllclose([9, 12, 15]);
  });

  test('matmul: 2-D · 1-D treats the vector as a column, then drops it', () => {
    const y = matmul(f64([[1, 2, 3], [4, 5, 6]]), f64([1, 0, -1]));
    expect(y.shape).toEqual([2]);
    expect(y).toBeAllclose([-2, -2]);
  });

  test('matmul: batched 3-D · 2-D broadcasts the matrix over the batch', () => {
    const a = f64([[[1, 2]], [[3, 4]], [[5, 6]]]); // [3,1,2]
    const b = f64([[1, 10], [100, 1000]]); // [2,2]
    const y = matmul(a, b);
    expect(y.shape).toEqual([3, 1, 2]);
    expect(y).toBeAllclose([[[201, 2010]], [[403, 4030]], [[605, 6050]]]);
  });

  test('matmul: batch dims broadcast: [2,1,2,3] @ [3,3,2] → [2,3,2,2]', () => {
    const a = randn([2, 1, 2, 3], { dtype: 'float64' });
    const b = randn([3, 3, 2], { dtype: 'float64' });
    const y = matmul(a, b);
    expect(y.shape).toEqual([2, 3, 2, 2]);
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 3; j++) {
        const ai = asMatrix(a.select(0, i).select(0, 0));
        const bj = asMatrix(b.select(0, j));
        expect(y.select(0, i).select(0, j)).toBeAllclose(naive(ai, bj), { atol: 1e-12 });
      }
    }
  });

  test('matmul: 1-D · 3-D gives a batch of row products', () => {
    const b = f64([[[1, 2], [3, 4]], [[5, 6], [7, 8]]]);
    const y = matmul(f64([1, -1]), b);
    expect(y.shape).toEqual([2, 2]);
    expect(y).toBeAllclose([[-2, -2], [-2, -2]]);
  });

  test('matmul: 3-D · 1-D gives a batch of matrix-vector products', () => {
    const a = f64([[[1, 2], [3, 4]], [[5, 6], [7, 8]]]);
    const y = matmul(a, f64([1, 1]));
    expect(y.shape).toEqual([2, 2]);
    expect(y).toBeAllclose([[3, 7], [11, 15]]);
  });

  test('matmul: transA/transB read the transpose in place', () => {
    const a = f64([[1, 2, 3], [4, 5, 6]]); // [2,3]
    const b = f64([[1, 0], [0, 1], [1, 1]]); // [3,2]
    expect(matmul(a, a, { transB: true })).toBeAllclose(naive(asMatrix(a), [[1, 4], [2, 5], [3, 6]]));
    expect(matmul(b, b, { transA: true })).toBeAllclose([[2, 1], [1, 2]]);
    expect(matmul(b, a, { transA: true, transB: true })).toBeAllclose(naive([[1, 0, 1], [0, 1, 1]], [[1, 4], [2, 5], [3, 6]]));
  });

  test('matmul: gradients dA = dC Bᵀ and dB = Aᵀ dC; broadcast batch gradients are summed', () => {
    const A = f64([[1, 2], [3, 4]], true);
    const B = f64([[[1, 0], [0, 1]], [[2, 0], [0, 2]]], true); // [2,2,2]
    matmul(A, B).sum().backward();
    // dA = Σ_batch ones @ Bᵀ = [[1,1],[1,1]] + [[2,2],[2,2]]
    expect(A.grad).toBeAllclose([[3, 3], [3, 3]]);
    // dB_b = Aᵀ @ ones for each batch element
    expect(B.grad).toBeAllclose([[[4, 4], [6, 6]], [[4, 4], [6, 6]]]);
  });

  test('matmul: float32 against a float64 reference', () => {
    const a = randn([17, 33]);
    const b = randn([33, 9]);
    const ref = naive(asMatrix(a), asMatrix(b));
    expect(matmul(a, b)).toBeAllclose(ref, { atol: 1e-4, rtol: 1e-4 });
  });

  test('matmul: empty inner dimension gives zeros', () => {
    expect(matmul(tensor(new Float32Array(0), { shape: [2, 0] }), tensor(new Float32Array(0), { shape: [0, 3] }))).toBeAllclose([[0, 0, 0], [0, 0, 0]]);
  });

  test('linear: x Wᵀ + b', () => {
    const y = linear(f64([[1, 2]]), f64([[1, 0], [0, 1], [1, 1]]), f64([10, 20, 30]));
    expect(y).toBeAllclose([[11, 22, 33]]);
  });
});

describe('matmul property', () => {
  /** Element [..batch, i, j] of op(A) @ op(B) by the definition, in float64, with broadcast batch indices. */
  function reference(a: Tensor, b: Tensor, tA: boolean, tB: boolean): { shape: number[]; values: number[] } {
    const ab = a.shape.slice(0, -2);
    const bb = b.shape.slice(0, -2);
    const rank = Math.max(ab.length, bb.length);
    const batch = Array.from({ length: rank }, (_, d) => Math.max(ab[d - rank + ab.length] ?? 1, bb[d - rank + bb.length] ?? 1));
    const [ar, ac] = a.shape.slice(-2) as [number, number];
    const [br, bc] = b.shape.slice(-2) as [number, number];
    const M = tA ? ac : ar;
    const K = tA ? ar : ac;
    const N = tB ? br : bc;
    const offset = (shape: number[], idx: number[]) => {
      let off = 0;
      for (let d = 0; d < shape.length; d++) off = off * shape[d]! + (shape[d] === 1 ? 0 : idx[d + rank - shape.length]!);
      return off;
    };
    const values: number[] = [];
    const count = batch.reduce((n, d) => n * d, 1);
    for (let flat = 0; flat < count; flat++) {
      const idx: number[] = [];
      let r = flat;
      for (let d = rank - 1; d >= 0; d--) { idx[d] = r % batch[d]!; r = Math.floor(r / batch[d]!); }
      const ao = offset(ab, idx) * ar * ac;
      const bo = offset(bb, idx) * br * bc;
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let acc = 0;
          for (let k = 0; k < K; k++) {
            const av = a.data[ao + (tA ? k * ac + i : i * ac + k)]!;
            const bv = b.data[bo + (tB ? j * bc + k : k * bc + j)]!;
            acc += av * bv;
          }
          values.push(acc);
        }
      }
    }
    return { shape: [...batch, M, N], values };
  }

  test('matmul: random sizes (across the GEMM 4-row blocks), transposes and broadcast batches match the definition', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 37 }), fc.integer({ min: 0, max: 37 }), fc.integer({ min: 1, max: 37 }),
      fc.boolean(), fc.boolean(), broadcastPairArb(2, 2), fc.constantFrom('float32', 'float64'), fc.nat(),
      (M, K, N, tA, tB, [ba, bb], dtype, seed) => {
        const g = new Generator(seed);
        const a = randn([...ba, ...(tA ? [K, M] : [M, K])], { dtype, generator: g });
        const b = randn([...bb, ...(tB ? [N, K] : [K, N])], { dtype, generator: g });
        const y = matmul(a, b, { transA: tA, transB: tB });
        const ref = reference(a, b, tA, tB);
        expect(y.shape).toEqual(ref.shape);
        const tol = dtype === 'float32' ? { atol: 1e-4, rtol: 1e-4 } : { atol: 1e-12, rtol: 1e-12 };
        expect(y.data).toBeAllclose(ref.values, tol);
      },
    ));
  });
});

describe('matmul errors', () => {
  test('matmul: inner dimensions that differ name both shapes', () => {
    expect(() => matmul(f64([[1, 2, 3], [4, 5, 6]]), randn([4, 5], { dtype: 'float64' }))).toThrow(
      /^matmul: a\[2,3\] @ b\[4,5\]: inner dimensions 3 and 4 differ$/,
    );
    expect(() => matmul(f64([1, 2]), f64([1, 2, 3]))).toThrow(/^matmul: a\[2\] @ b\[3\]: inner dimensions 2 and 3 differ$/);
  });

  test('matmul: batch dims that do not broadcast are named', () => {
    expect(() => matmul(randn([2, 2, 3]), randn([3, 3, 4]))).toThrow(/^matmul: a\[2,2,3\] batch\[2\] and b\[3,3,4\] batch\[3\] cannot be broadcast/);
  });

  test('matmul: 0-d operands and int32 are refused', () => {
    expect(() => matmul(f64(2), f64([1]))).toThrow(/^matmul: a\[\] @ b\[1\]: both arguments need at least one dimension$/);
    expect(() => matmul(tensor([1], { dtype: 'int32' }), f64([1]))).toThrow(/^matmul: a\[1\] has dtype int32/);
  });

  test('linear: feature mismatch names x and weight', () => {
    expect(() => linear(randn([2, 3]), randn([4, 5]))).toThrow(/^linear: x\[2,3\] has 3 features but weight\[4,5\] expects 5$/);
    expect(() => linear(randn([2, 3]), randn([4, 3]), randn([3]))).toThrow(/^linear: bias\[3\] must be 1-D of size 4/);
  });
});
