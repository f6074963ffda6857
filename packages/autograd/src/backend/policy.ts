/**
 * The selection policy: which implementation runs a call, with every threshold it uses. Pure
 * functions of the call's sizes and what is available; the state they are applied to (what is
 * installed, whether threads are on) lives in backend/index.ts.
 */

export const THRESHOLDS = {
  /**
   * Smallest M·N·K the WebAssembly GEMM takes: below it, copying the operands into the module
   * costs more than SIMD saves, and the TypeScript GEMM runs (the measurement behind the value is
   * in docs/performance.md).
   */
  wasmGemmMinWork: 1024,
  /** Fewest values the WebAssembly elementwise kernels take; below, the TypeScript loop is as fast as the copies. */
  wasmElementwiseMin: 256,
  /**
   * Smallest M·N·K the worker-thread GEMM splits between threads (2²³, e.g. 32 × 1024 × 256):
   * the measured break-even inside a training step on two cores, where the worker sleeps between
   * products (docs/performance.md, "Using the second core").
   */
  threadsMinWork: 1 << 23,
  /**
   * Smallest M·N·K of a product with a packed operand (the recurrent products of the fused layers)
   * that the worker-thread GEMM splits (2²¹, e.g. 32 × 256 × 256): lower than `threadsMinWork`
   * because only op(A) is copied per product (docs/performance.md, "Using the second core").
   */
  threadsPackedMinWork: 1 << 21,
};

/** Whether two operands and a result share one float type (the WebAssembly kernels need it). */
export function sameFloatType(A: ArrayBufferView, B: ArrayBufferView, C: ArrayBufferView): boolean {
  return C instanceof Float64Array ? A instanceof Float64Array && B instanceof Float64Array : A instanceof Float32Array && B instanceof Float32Array && C instanceof Float32Array;
}

/** Where a GEMM call goes when the WebAssembly backend exists and `threads` threads are enabled. */
export function routeGemm(M: number, N: number, K: number, alpha: number, sameType: boolean, threads: number, threadsMinWork = THRESHOLDS.threadsMinWork): 'typescript' | 'wasm-simd' | 'wasm-simd-threads' {
  const work = M * N * K;
  if (!sameType || K === 0 || alpha === 0 || work < THRESHOLDS.wasmGemmMinWork) return 'typescript';
  if (threads > 1 && work >= Math.max(threadsMinWork, THRESHOLDS.wasmGemmMinWork)) return 'wasm-simd-threads';
  return 'wasm-simd';
}
