/** Worker-thread entry of the experiment: runs one RunSpec and posts its events. */
import { parentPort, workerData } from 'node:worker_threads';
import { executeRun, type RunSpec } from './run.js';

const port = parentPort!;
executeRun(workerData as RunSpec, (e) => port.postMessage(e)).catch((err: unknown) => {
  port.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
});
