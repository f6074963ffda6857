/**
 * The backend interface: the few numeric contracts every tensor op and fused layer is built on,
 * implemented side by side by the TypeScript backend (typescript.ts, runs everywhere), the
 * WebAssembly SIMD backend (wasmSimd.ts) and the WebAssembly SIMD backend on worker threads
 * (threadPool.ts, Node only, through `@seqgrad/autograd/threads`). Which one runs a call is
 * decided in one place, policy.ts.
 */

export type FloatArray = Float32Array | Float64Array;
export type AnyArray = FloatArray | Int32Array;

export type BinaryOp = 'add' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum' | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';
export type UnaryOp = 'neg' | 'exp' | 'log' | 'sqrt' | 'abs' | 'tanh' | 'sigmoid' | 'relu' | 'sign' | 'reluMask';

/**
 * C = alpha · op(A) · op(B) + beta · C, row-major, op(X) = X or Xᵀ (`transA`, `transB`). op(A) is
 * (M, K), op(B) is (K, N), C is (M, N); `lda`, `ldb`, `ldc` are the row strides of A, B and C as
 * stored (before the transpose), `aOff`, `bOff`, `cOff` where they start. beta = 0 overwrites C
 * (NaN in C never leaks).
 */
export interface GemmKernel {
  (
    transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: FloatArray, aOff: number, lda: number,
    B: FloatArray, bOff: number, ldb: number,
    beta: number, C: FloatArray, cOff: number, ldc: number,
  ): void;
}

/**
 * op(B) packed once for many products with the same right-hand side (a recurrent weight over
 * every time step of a sequence): `gemmPacked` with it computes exactly what `gemm` computes with
 * B, and skips copying and packing B. It holds memory (in the WebAssembly backend, an area of the
 * module's memory) until `release()`, which its creator must call (the fused layers do, in a
 * `finally`); a released operand throws when used.
 */
export interface PackedB {
  /** Rows of op(B) (the depth of the product) and its columns. */
  readonly K: number;
  readonly N: number;
  readonly dtype: 'float32' | 'float64';
  release(): void;
}

/** Which implementation runs. */
export type BackendName = 'typescript' | 'wasm-simd' | 'wasm-simd-threads';

/**
 * One implementation of the numeric contracts. `gemm` takes every call; the elementwise ones
 * return false for what the implementation does not cover (then the TypeScript backend runs it),
 * so a backend can accelerate a subset without changing a result.
 */
export interface Backend {
  readonly name: BackendName;
  gemm: GemmKernel;
  /**
   * op(B) packed for `gemmPacked` (see `PackedB`). `B` is (K, N) with row stride `ldb`, or (N, K)
   * when `transB`.
   */
  packB(transB: boolean, K: number, N: number, B: FloatArray, bOff: number, ldb: number): PackedB;
  /** C = alpha · op(A) · packed + beta · C: the same result as `gemm` with the B that was packed. */
  gemmPacked(
    transA: boolean, M: number, alpha: number, A: FloatArray, aOff: number, lda: number,
    packed: PackedB, beta: number, C: FloatArray, cOff: number, ldc: number,
  ): void;
  /**
   * out[j] = a[j] op b[j] for j < n, where a and b each hold n values or a single value, or b holds
   * one row of `bRow` values repeated along the leading axes (a bias). Returns false, doing
   * nothing, when this backend does not cover the case.
   */
  binary(op: BinaryOp, out: AnyArray, a: AnyArray, b: AnyArray, n: number, bRow: number): boolean;
  /** out[i] = op(x[i]); false when not covered. */
  unary(op: UnaryOp, out: FloatArray, x: AnyArray): boolean;
  /** out[j] += Σ_r x[r·cols + j], rows added in order (a sum over leading axes); false when not covered. */
  sumRows(out: FloatArray, x: AnyArray, rows: number, cols: number): boolean;
}
