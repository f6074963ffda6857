/**
 * The Node entry of `@seqgrad/autograd` (the package's "node" export condition): the library as
 * the main entry has it, with the GEMM on the available cores by default: `setNumThreads('auto')`
 * from `@seqgrad/autograd/threads`, which `SEQGRAD_NUM_THREADS` (like OMP_NUM_THREADS; 1 = no
 * worker threads) and `setNumThreads(n)` override. Browsers and bundlers get the main entry,
 * which never imports a `node:` module.
 */
import { setNumThreads } from './threads.js';

export * from './index.js';

setNumThreads('auto');
