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
 * Browsers: bundlers resolve this entry to threadsBrowser.ts (the "browser" export condition): the
 * same pool over Web Workers, on cross-origin-isolated pages, called from a Web Worker. The
 * installer both share is threadsCore.ts.
 */
import { availableParallelism, loadavg } from 'node:os';
import { wasmSimdAvailable } from './backend/index.js';
import { MAX_THREADS, disableGemmThreads, enableGemmThreads, install } from './threadsCore.js';

export { GEMM_THREADS_MIN_WORK, type GemmThreadsOptions, NOT_ISOLATED_MESSAGE, disableGemmThreads, enableGemmThreads, gemmThreads } from './threadsCore.js';

/** Why the GEMM cannot run on threads here (no WebAssembly SIMD), or null; in browsers also a page that is not cross-origin isolated, or a caller that is not a Web Worker. */
export function threadsUnavailableReason(): string | null {
  return wasmSimdAvailable() ? null : 'seqgrad: this runtime has no WebAssembly SIMD, which the GEMM threads need; the GEMM runs on one thread';
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
    if (n > 1 && wasmSimdAvailable()) install(n, {}, true, fromEnv ? null : othersBusy);
    return;
  }
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new RangeError(`setNumThreads: threads must be 'auto' or an integer from 1 to ${MAX_THREADS}, got ${String(threads)}`);
  }
  enableGemmThreads(threads);
}
