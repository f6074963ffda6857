/**
 * Worker-thread entry of the experiment: a long-lived worker that runs one RunSpec per
 * message it receives and posts the run's events back (so modules load once per worker).
 */
import { parentPort } from 'node:worker_threads';
import { executeRun, type RunSpec } from './run.js';

const port = parentPort!;
port.on('message', (spec: RunSpec | null) => {
  if (spec === null) {
    port.close();
    return;
  }
  executeRun(spec, (e) => port.postMessage(e)).catch((err: unknown) => {
    port.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  });
});
