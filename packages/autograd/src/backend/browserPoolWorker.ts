/**
 * `workerData` for the GEMM's worker code (gemmWorker.js) in a Web Worker: package.json maps
 * `#worker-data` here outside Node. The pool (browserPool.ts) posts it as the worker's first
 * message; the module waits for it (top-level await), so gemmWorker.js reads it as in Node.
 */
interface WorkerScope {
  addEventListener(type: 'message', listener: (e: { data: unknown }) => void, options: { once: true }): void;
}

export const workerData: unknown = await new Promise((resolve) => {
  (globalThis as unknown as WorkerScope).addEventListener('message', (e) => resolve(e.data), { once: true });
});
