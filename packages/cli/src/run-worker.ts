/**
 * Worker-thread entry of the experiment: a long-lived worker that runs one RunSpec per
 * message it receives and posts the run's events back (so modules load once per worker).
 */
import { parentPort } from 'node:worker_threads';
import { executeRun, type RunSpec } from './run.js';

const port = parentPort!;
let stop = false;
port.on('message', (msg: RunSpec | 'stop') => {
  if (msg === 'stop') {
    stop = true;
    return;
  }
  executeRun(msg, (e) => port.postMessage(e), () => stop).catch((err: unknown) => {
    port.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  });
});
