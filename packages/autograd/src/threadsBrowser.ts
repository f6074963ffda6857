/**
 * `@seqgrad/autograd/threads` as bundlers for browsers resolve it (the "browser" export
 * condition): the same exports, each throwing one clear error instead of a bundle that breaks on
 * `node:worker_threads`. The GEMM on worker threads needs Node.
 */
const fail = (name: string): never => {
  throw new Error(
    `${name}: @seqgrad/autograd/threads needs Node (node:worker_threads); in a browser seqgrad runs on one thread. ` +
      'A Web Worker pool would need a cross-origin-isolated page (SharedArrayBuffer), which this package does not provide',
  );
};

export const GEMM_THREADS_MIN_WORK = 1 << 22;
export const enableGemmThreads = (..._args: unknown[]): void => fail('enableGemmThreads');
export const disableGemmThreads = (): void => {};
export const gemmThreads = (): number => 1;
export const setNumThreads = (..._args: unknown[]): void => fail('setNumThreads');
export const defaultNumThreads = (): number => 1;
