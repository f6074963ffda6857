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
import { availableParallelism, loadavg } from 'node:os';
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

/** The installed threaded GEMM; its pool starts on the first product it splits. */
interface Active {
  pool: GemmThreadPool | null;
  threads: number;
  kernel: GemmKernel;
  previous: GemmKernel;
  /** The default policy ('auto' without SEQGRAD_NUM_THREADS): also leave products on one thread while other processes keep the cores busy. */
  checkBusy: boolean;
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
 * Throws where WebAssembly SIMD is missing. Node only (see the module comment for browsers).
 *
 * @example
 * import { enableGemmThreads, disableGemmThreads } from '@seqgrad/autograd/threads';
 * enableGemmThreads(2); // train as usual: large products now use two cores
 * disableGemmThreads();
 */
export function enableGemmThreads(threads = 2, options: GemmThreadsOptions = {}): void {
  install(threads, options, false, false);
}

function install(threads: number, options: GemmThreadsOptions, lazy: boolean, checkBusy: boolean): void {
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
  const installed: Active = { pool: null, threads, kernel: null!, previous: null!, checkBusy };
  // An explicit call starts the workers now; the default policy when a product first needs them.
  if (!lazy) installed.pool = new GemmThreadPool(threads, timeoutMs, () => shutDown(installed));
  installed.kernel = (transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc) => {
    // Below THRESHOLDS.wasmGemmMinWork gemmWasm itself hands calls to gemmJs; so does this kernel, to give its results.
    if (M === 0 || N === 0 || routeGemm(M, N, K, alpha, sameFloatType(A, B, C), threads, minWork) !== 'wasm-simd-threads' || (checkBusy && othersBusy(threads))) {
      installed.previous(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
      return;
    }
    installed.pool ??= new GemmThreadPool(threads, timeoutMs, () => shutDown(installed));
    installed.pool.run(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
  };
  installed.previous = setGemmKernel(installed.kernel);
  active = installed;
  const { kernel, previous } = installed;
  registerThreadedGemm({ kernel, previous, threads, minWork: Math.max(minWork, THRESHOLDS.wasmGemmMinWork), busy: () => (checkBusy ? othersBusy(threads) : null) });
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

// The default policy's check of the other processes, at most once a second: the 1-minute load
// average minus what this process itself ran over the last interval (its CPU time over wall time).
// When the rest of the machine keeps more cores busy than this process leaves free, split products
// measured slower than one thread (docs/performance.md, "Using the second core"), so they stay on one.
let lastCheck = 0;
let lastCpu = process.cpuUsage();
let busy = false;
function othersBusy(threads: number): boolean {
  const now = performance.now();
  if (lastCheck !== 0 && now - lastCheck < 1000) return busy;
  const cpu = process.cpuUsage(lastCpu);
  const own = lastCheck === 0 ? 1 : (cpu.user + cpu.system) / 1000 / (now - lastCheck);
  lastCheck = now;
  lastCpu = process.cpuUsage();
  busy = loadavg()[0]! - own > availableParallelism() - threads + 0.5;
  return busy;
}

/**
 * The default thread count: `SEQGRAD_NUM_THREADS` when set (like OMP_NUM_THREADS; 1 = no worker
 * threads), else the cores available to this process (`os.availableParallelism()`, at most 16).
 */
export function defaultNumThreads(): number {
  const env = process.env.SEQGRAD_NUM_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (Number.isInteger(n) && n >= 1 && n <= MAX_THREADS) return n;
    console.warn(`seqgrad: SEQGRAD_NUM_THREADS must be an integer from 1 to ${MAX_THREADS}, got '${env}'; using 1 thread`);
    return 1;
  }
  return Math.min(MAX_THREADS, availableParallelism());
}

/**
 * Sets how many threads the GEMM uses: an integer (1 = no worker threads; as `enableGemmThreads`)
 * or 'auto', the default policy of the Node entry of `@seqgrad/autograd`: `defaultNumThreads()`
 * threads, the workers started on the first product of at least `GEMM_THREADS_MIN_WORK`
 * multiply-adds, and (unless `SEQGRAD_NUM_THREADS` set the count) products kept on one thread
 * while other processes keep the cores busy.
 *
 * @example
 * import { setNumThreads, gemmThreads } from '@seqgrad/autograd/threads';
 * setNumThreads(1); // deterministic timing: no worker threads
 * setNumThreads('auto'); // back to the default
 */
export function setNumThreads(threads: number | 'auto'): void {
  if (threads === 'auto') {
    const n = defaultNumThreads();
    const fromEnv = (process.env.SEQGRAD_NUM_THREADS ?? '') !== '';
    disableGemmThreads();
    if (n > 1 && wasmSimdAvailable()) install(n, {}, true, !fromEnv);
    return;
  }
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new RangeError(`setNumThreads: threads must be 'auto' or an integer from 1 to ${MAX_THREADS}, got ${String(threads)}`);
  }
  enableGemmThreads(threads);
}
