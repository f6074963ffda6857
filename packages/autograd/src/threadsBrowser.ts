/**
 * `@seqgrad/autograd/threads` as bundlers for browsers resolve it (the "browser" export condition):
 * the same worker-thread GEMM as in Node (threadsCore.ts, backend/threadPool.ts), over a pool of
 * Web Workers (backend/browserPool.ts) sharing one WebAssembly memory. Results are bit-identical to
 * the single-threaded `kernels.gemmWasm`, as in Node.
 *
 * Two conditions, checked before a pool starts:
 * - the page is cross-origin isolated (`crossOriginIsolated`: served with
 *   `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`),
 *   without which a page has no SharedArrayBuffer;
 * - the caller is a Web Worker: the pool waits for its workers in `Atomics.wait`, which a page's
 *   main thread may not do (train in a worker, as the playground does).
 * When one is missing, `enableGemmThreads` and `setNumThreads` say why once (console.warn) and the
 * GEMM stays on one thread; `threadsUnavailableReason()` gives the reason without the warning.
 */
import { wasmSimdAvailable } from './backend/index.js';
import { type GemmThreadsOptions, MAX_THREADS, NOT_ISOLATED_MESSAGE, disableGemmThreads, install } from './threadsCore.js';

export { GEMM_THREADS_MIN_WORK, type GemmThreadsOptions, NOT_ISOLATED_MESSAGE, disableGemmThreads, gemmThreads } from './threadsCore.js';

/** The browser globals read here (this package is typed without the DOM library). */
interface BrowserGlobals {
  crossOriginIsolated?: boolean;
  WorkerGlobalScope?: abstract new () => unknown;
  navigator?: { hardwareConcurrency?: number };
}
const web = globalThis as unknown as BrowserGlobals;

/**
 * Why the GEMM cannot use a Web Worker pool here, or null when it can: the page is not cross-origin
 * isolated, the caller is not a Web Worker, or the runtime has no WebAssembly SIMD.
 */
export function threadsUnavailableReason(): string | null {
  if (web.crossOriginIsolated !== true || typeof SharedArrayBuffer === 'undefined') return NOT_ISOLATED_MESSAGE;
  if (!web.WorkerGlobalScope || !(globalThis instanceof web.WorkerGlobalScope)) {
    return "seqgrad: the GEMM's Web Worker pool runs from a Web Worker (a page's main thread may not wait in Atomics.wait); the GEMM runs on one thread here";
  }
  if (!wasmSimdAvailable()) return 'seqgrad: this browser has no WebAssembly SIMD, which the GEMM threads need; the GEMM runs on one thread';
  return null;
}

let warned = false;
/** True when a pool can start; otherwise says why, the first time only. */
function available(): boolean {
  const why = threadsUnavailableReason();
  if (why !== null && !warned) {
    warned = true;
    console.warn(why);
  }
  return why === null;
}

function checkCount(name: string, threads: number): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new RangeError(`${name}: threads must be an integer from 1 to ${MAX_THREADS}, got ${String(threads)}`);
  }
}

/**
 * Runs large GEMMs on `threads` threads (this Web Worker and `threads - 1` pool workers) from now
 * on, as `enableGemmThreads` of the Node entry does; where the pool cannot run (see the module
 * comment) it says why once and leaves the GEMM on one thread. The pool's workers start
 * asynchronously; until they run, this thread computes every product itself.
 *
 * @example
 * import { enableGemmThreads, gemmThreads } from '@seqgrad/autograd/threads';
 * enableGemmThreads(2); // in a Web Worker of a cross-origin-isolated page
 * gemmThreads(); // 2 (1 where the page is not isolated)
 */
export function enableGemmThreads(threads = 2, options: GemmThreadsOptions = {}): void {
  checkCount('enableGemmThreads', threads);
  if (threads > 1 && !available()) {
    disableGemmThreads();
    return;
  }
  install(threads, options, false, null);
}

/** `navigator.hardwareConcurrency` (at most 16) where a pool can run, else 1. */
export function defaultNumThreads(): number {
  if (threadsUnavailableReason() !== null) return 1;
  return Math.max(1, Math.min(MAX_THREADS, web.navigator?.hardwareConcurrency ?? 1));
}

/**
 * Sets how many threads the GEMM uses: an integer (as `enableGemmThreads`) or 'auto', every core
 * the browser reports (`defaultNumThreads()`), the pool started on the first product large
 * enough to split.
 *
 * @example
 * import { setNumThreads } from '@seqgrad/autograd/threads';
 * setNumThreads(crossOriginIsolated ? 'auto' : 1);
 */
export function setNumThreads(threads: number | 'auto'): void {
  if (threads !== 'auto') {
    checkCount('setNumThreads', threads);
    enableGemmThreads(threads);
    return;
  }
  disableGemmThreads();
  if (!available()) return;
  const n = defaultNumThreads();
  if (n > 1) install(n, {}, true, null);
}
