// @ts-check
/**
 * A worker thread of the worker-thread GEMM (started by threadPool.ts): instantiates the shared
 * GEMM module at its own base address, then claims items of each published job, polls briefly for
 * the next one and sleeps in Atomics.wait. It leaves when CLAIM turns negative.
 */
// '#worker-data' is node:worker_threads in Node and browserPoolWorker.js in a Web Worker.
import { workerData } from '#worker-data';
import { ALPHA, CLAIM, CONTROL_INTS, SPIN_MS, nextSpin, work } from './threadWork.js';

/** @type {{ modules: [object, object | null], memory: { buffer: SharedArrayBuffer }, base: number, port: import('node:worker_threads').MessagePort }} */
const { modules, memory, base, port } = workerData;
const ctl = new Int32Array(memory.buffer, 0, CONTROL_INTS);
const alpha = new Float64Array(memory.buffer, 0, ALPHA + 1);
const state = { group: -1, aGroup: -1, aRow: 0, aSlice: 0 };
/** @param {unknown} e */
const report = (e) => port.postMessage(String(e));
const wasmApi = /** @type {{ WebAssembly: { Instance: new (m: object, i: object) => { exports: unknown } } }} */ (/** @type {unknown} */ (globalThis)).WebAssembly;

/** @param {object} module */
const instantiate = (module) => /** @type {import('./threadWork.js').PartExports} */ (new wasmApi.Instance(module, { env: { memory, base } }).exports);
/** @type {[import('./threadWork.js').PartExports, import('./threadWork.js').PartExports | null] | null} */
let wasm = null;
try {
  wasm = [instantiate(modules[0]), modules[1] ? instantiate(modules[1]) : null];
} catch (e) {
  report(e); // the caller instantiated the same module, so this does not happen; if it did, the caller runs every item
}
let spin = SPIN_MS;
while (wasm) {
  const seen = work(wasm, ctl, alpha, state, report);
  if (seen < 0) break;
  const t0 = performance.now();
  while (Atomics.load(ctl, CLAIM) === seen && performance.now() - t0 < spin);
  if (Atomics.load(ctl, CLAIM) !== seen) continue;
  Atomics.wait(ctl, CLAIM, seen);
  spin = nextSpin(spin, performance.now() - t0);
}
