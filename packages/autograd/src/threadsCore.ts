/**
 * The threaded GEMM's installer, shared by both entries of `@seqgrad/autograd/threads` (Node:
 * threads.ts; browsers: threadsBrowser.ts): a `GemmThreadPool` (backend/threadPool.ts) behind a
 * GEMM kernel that splits large products and leaves the others to the kernel active before.
 * Free of Node APIs; the entries add how many threads to use and when the machine is busy.
 */
import { registerThreadedGemm, setGemmKernel, wasmSimdAvailable } from './backend/index.js';
import { THRESHOLDS, routeGemm, sameFloatType } from './backend/policy.js';
import { GemmThreadPool, MAX_THREADS } from './backend/threadPool.js';
import type { SourcedPackedB } from './backend/packed.js';
import type { FloatArray, GemmKernel } from './backend/types.js';

export { MAX_THREADS };

/** What the browser entry says, once, on a page that is not cross-origin isolated. */
export const NOT_ISOLATED_MESSAGE =
  'seqgrad: this page is not cross-origin isolated, so it has no SharedArrayBuffer and the GEMM runs on one thread; ' +
  'serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp to use the Web Worker pool';


/**
 * Smallest M·N·K for which the threaded GEMM splits a product by default (`THRESHOLDS.threadsMinWork`
 * of the selection policy, 2²³: e.g. 32 × 1024 × 256); smaller ones go to the kernel that was active
 * before `enableGemmThreads`.
 */
export const GEMM_THREADS_MIN_WORK = THRESHOLDS.threadsMinWork;

/** Options of `enableGemmThreads`. */
export interface GemmThreadsOptions {
  /** Smallest M·N·K to split between threads (default `GEMM_THREADS_MIN_WORK`; values under 1024 act as 1024, where `gemmWasm` itself hands calls to `gemmJs`). */
  minWork?: number;
  /**
   * Smallest M·N·K of a product with a packed operand (`kernels.gemmPacked`: the recurrent
   * products of the fused layers) to split between threads (default `THRESHOLDS.threadsPackedMinWork`);
   * smaller ones run on one thread over the packed operand.
   */
  packedMinWork?: number;
  /** How long a call waits for a worker's share before it throws (default 30 000 ms; a safety net, never reached normally). */
  timeoutMs?: number;
}

/** The installed threaded GEMM; its pool starts on the first product it splits. */
interface Active {
  pool: GemmThreadPool | null;
  threads: number;
  kernel: GemmKernel;
  previous: GemmKernel;
  /** The default policy ('auto' without SEQGRAD_NUM_THREADS): also leave products on one thread while this says other processes keep the cores busy. */
  othersBusy: ((threads: number) => boolean) | null;
}
let active: Active | null = null;

/** Stops the pool of `installed` and, if it is the active one, puts the previous kernel back. */
function shutDown(installed: Active): void {
  installed.pool?.stop();
  if (active !== installed) return;
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
 * Throws where WebAssembly SIMD is missing. In browsers see `@seqgrad/autograd/threads`' browser entry.
 *
 * @example
 * import { enableGemmThreads, disableGemmThreads } from '@seqgrad/autograd/threads';
 * enableGemmThreads(2); // train as usual: large products now use two cores
 * disableGemmThreads();
 */
export function enableGemmThreads(threads = 2, options: GemmThreadsOptions = {}): void {
  install(threads, options, false, null);
}

/**
 * Installs the threaded GEMM (see `enableGemmThreads`); `lazy` starts the pool on the first product
 * it splits, `othersBusy` (the default policy) keeps products on one thread while it returns true.
 */
export function install(threads: number, options: GemmThreadsOptions, lazy: boolean, othersBusy: ((threads: number) => boolean) | null): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new RangeError(`enableGemmThreads: threads must be an integer from 1 to ${MAX_THREADS}, got ${threads}`);
  }
  const minWork = options.minWork ?? GEMM_THREADS_MIN_WORK;
  const packedMinWork = options.packedMinWork ?? THRESHOLDS.threadsPackedMinWork;
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (!(minWork >= 0) || !(timeoutMs > 0)) {
    throw new RangeError(`enableGemmThreads: minWork must be ≥ 0 and timeoutMs > 0, got ${minWork} and ${timeoutMs}`);
  }
  if (!(packedMinWork >= 0)) throw new RangeError(`enableGemmThreads: packedMinWork must be ≥ 0, got ${packedMinWork}`);
  disableGemmThreads();
  if (threads === 1) return;
  if (!wasmSimdAvailable()) throw new Error('enableGemmThreads: this runtime has no WebAssembly SIMD, which the threaded GEMM needs');
  const installed: Active = { pool: null, threads, kernel: null!, previous: null!, othersBusy };
  // An explicit call starts the workers now; the default policy when a product first needs them.
  if (!lazy) installed.pool = new GemmThreadPool(threads, timeoutMs, () => shutDown(installed));
  installed.kernel = (transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc) => {
    // Below THRESHOLDS.wasmGemmMinWork gemmWasm itself hands calls to gemmJs; so does this kernel, to give its results.
    if (M === 0 || N === 0 || routeGemm(M, N, K, alpha, sameFloatType(A, B, C), threads, minWork) !== 'wasm-simd-threads' || (othersBusy !== null && othersBusy(threads))) {
      installed.previous(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
      return;
    }
    installed.pool ??= new GemmThreadPool(threads, timeoutMs, () => shutDown(installed));
    installed.pool.run(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
  };
  // Products with a packed operand: split over the pool's shared copy of it, or (false) left to the caller's single-threaded path.
  const packed = (
    transA: boolean, M: number, alpha: number, A: FloatArray, aOff: number, lda: number,
    p: SourcedPackedB, beta: number, C: FloatArray, cOff: number, ldc: number,
  ): boolean => {
    if (M === 0 || p.N === 0 || routeGemm(M, p.N, p.K, alpha, sameFloatType(A, p.B, C), threads, packedMinWork) !== 'wasm-simd-threads' || (othersBusy !== null && othersBusy(threads))) return false;
    installed.pool ??= new GemmThreadPool(threads, timeoutMs, () => shutDown(installed));
    return installed.pool.runPacked(transA, M, alpha, A, aOff, lda, p, beta, C, cOff, ldc);
  };
  installed.previous = setGemmKernel(installed.kernel);
  active = installed;
  const { kernel, previous } = installed;
  registerThreadedGemm({
    kernel, previous, threads, minWork: Math.max(minWork, THRESHOLDS.wasmGemmMinWork),
    packedMinWork: Math.max(packedMinWork, THRESHOLDS.wasmGemmMinWork), packed,
    packedBytes: () => installed.pool?.packedBytes ?? 0,
    busy: () => (othersBusy ? othersBusy(threads) : null),
  });
}

/**
 * Stops the worker threads and puts back the GEMM kernel that was active before
 * `enableGemmThreads` (unless another kernel was installed since, which stays). No-op when
 * threads are not enabled.
 */
export function disableGemmThreads(): void {
  if (active) shutDown(active);
}

/** How many threads the GEMM uses: 1 unless `enableGemmThreads` (or the default policy) is in effect. */
export function gemmThreads(): number {
  return active?.threads ?? 1;
}
