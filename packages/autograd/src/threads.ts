/**
 * `@seqgrad/autograd/threads` (Node only): the WebAssembly GEMM on more than one core.
 *
 * `enableGemmThreads(2)` starts one worker thread and installs, through `setGemmKernel`, a GEMM
 * that splits every large product between the calling thread and the worker; products below
 * `GEMM_THREADS_MIN_WORK` multiply-adds keep the kernel that was active before. The API stays
 * synchronous: the caller copies each block into a shared `WebAssembly.Memory` (the worker cannot
 * read the caller's arrays), publishes it with `Atomics.notify`, works on it too, and waits in
 * `Atomics.wait` until it is done. The worker is `unref()`ed, so it never keeps a process alive.
 *
 * How a product is split (backend/threadPool.ts): into jobs of the blocking plan shared by every
 * GEMM (column block × row chunk × KC slice of K), run as a pipeline with double-buffered staging
 * areas; within a job, the threads claim 64-row blocks (or column ranges when M < N) from one
 * counter, so a worker the OS has not scheduled does fewer of them. Every element of C is computed
 * by the same operations as in the single-threaded kernel, so results are bit-identical to
 * `kernels.gemmWasm`. The worker code is a module file (backend/gemmWorker.js).
 *
 * Browsers: this entry point imports `node:worker_threads` and is not for browsers. A browser port
 * would need a cross-origin-isolated page (SharedArrayBuffer) and could not block the main thread
 * (`Atomics.wait` throws there), so it could only run inside a Web Worker.
 */
import { registerThreadedGemm, setGemmKernel, wasmSimdAvailable } from './backend/index.js';
import { THRESHOLDS, routeGemm, sameFloatType } from './backend/policy.js';
import { GemmThreadPool, MAX_THREADS } from './backend/threadPool.js';
import type { GemmKernel } from './backend/types.js';

/**
 * Smallest M·N·K for which the threaded GEMM splits a product by default (`THRESHOLDS.threadsMinWork`
 * of the selection policy, 2²²: e.g. 32 × 512 × 256); smaller ones go to the kernel that was active
 * before `enableGemmThreads`.
 */
export const GEMM_THREADS_MIN_WORK = THRESHOLDS.threadsMinWork;

/** Options of `enableGemmThreads`. */
export interface GemmThreadsOptions {
  /** Smallest M·N·K to split between threads (default `GEMM_THREADS_MIN_WORK`; values under 1024 act as 1024, where `gemmWasm` itself hands calls to `gemmJs`). */
  minWork?: number;
  /** How long a call waits for a worker's share before it throws (default 30 000 ms; a safety net, never reached normally). */
  timeoutMs?: number;
}

let active: { pool: GemmThreadPool; kernel: GemmKernel; previous: GemmKernel } | null = null;

/** Stops `pool` and, if it is the active one, puts the previous kernel back. */
function shutDown(pool: GemmThreadPool): void {
  pool.stop();
  if (active?.pool !== pool) return;
  const current = setGemmKernel(active.previous);
  if (current !== active.kernel) setGemmKernel(current); // someone else's kernel is in place: keep it
  active = null;
  registerThreadedGemm(null);
}

/**
 * Runs large GEMMs on `threads` cores (the caller plus `threads - 1` worker threads) from now on:
 * every matmul and fused-layer product whose M·N·K is at least `minWork` (default
 * `GEMM_THREADS_MIN_WORK`) is split between them; smaller ones, and calls mixing float32 and
 * float64, use the kernel active before (normally `kernels.gemmWasm`). Results are bit-identical
 * to `kernels.gemmWasm`. Calling it again replaces the pool; `threads = 1` is `disableGemmThreads()`.
 * The workers are `unref()`ed: a process that enabled threads still exits by itself.
 *
 * Throws where WebAssembly SIMD is missing. Node only (see the module comment for browsers).
 *
 * @example
 * import { enableGemmThreads, disableGemmThreads } from '@seqgrad/autograd/threads';
 * enableGemmThreads(2); // train as usual: large products now use two cores
 * disableGemmThreads();
 */
export function enableGemmThreads(threads = 2, options: GemmThreadsOptions = {}): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new RangeError(`enableGemmThreads: threads must be an integer from 1 to ${MAX_THREADS}, got ${threads}`);
  }
  const minWork = options.minWork ?? GEMM_THREADS_MIN_WORK;
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (!(minWork >= 0) || !(timeoutMs > 0)) {
    throw new RangeError(`enableGemmThreads: minWork must be ≥ 0 and timeoutMs > 0, got ${minWork} and ${timeoutMs}`);
  }
  disableGemmThreads();
  if (threads === 1) return;
  if (!wasmSimdAvailable()) throw new Error('enableGemmThreads: this runtime has no WebAssembly SIMD, which the threaded GEMM needs');
  const pool: GemmThreadPool = new GemmThreadPool(threads, timeoutMs, () => shutDown(pool));
  let previous: GemmKernel = null!;
  const kernel: GemmKernel = (transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc) => {
    // Below THRESHOLDS.wasmGemmMinWork gemmWasm itself hands calls to gemmJs; so does this kernel, to give its results.
    if (M === 0 || N === 0 || routeGemm(M, N, K, alpha, sameFloatType(A, B, C), threads, minWork) !== 'wasm-simd-threads') {
      previous(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
      return;
    }
    pool.run(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
  };
  previous = setGemmKernel(kernel);
  active = { pool, kernel, previous };
  registerThreadedGemm({ kernel, previous, threads, minWork: Math.max(minWork, THRESHOLDS.wasmGemmMinWork) });
}

/**
 * Stops the worker threads and puts back the GEMM kernel that was active before
 * `enableGemmThreads` (unless another kernel was installed since, which stays). No-op when
 * threads are not enabled.
 */
export function disableGemmThreads(): void {
  if (active) shutDown(active.pool);
}

/** How many threads the GEMM uses: 1 unless `enableGemmThreads` is in effect. */
export function gemmThreads(): number {
  return active?.pool.threads ?? 1;
}
