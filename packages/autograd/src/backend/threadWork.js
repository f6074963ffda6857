// @ts-check
/**
 * What the calling thread and every worker thread of the worker-thread GEMM share: the layout of
 * the control words in the shared memory, and `work`, the loop that claims and runs items of the
 * published job. The same function runs in the caller and in each worker, so every thread computes
 * an item identically.
 *
 * JavaScript with type annotations checked by tsc (checkJs), so that Node can start the worker
 * (gemmWorker.js) from the package sources as well as from dist/.
 */

/** Control words (Int32 indices). CLAIM = (job sequence number << 16) | next unclaimed item, or -1 to stop the workers. */
export const CLAIM = 0;
export const ITEMS = 1;
export const ERROR = 2;
/** Finished items; on its own cache line. */
export const DONE = 16;
// The job, written before CLAIM is published: element type, split, chunk sizes, byte addresses and
// strides of the staged blocks (as part_f32 / part_f64 in gemm.wat take them), load, B block id.
export const F64 = 32;
export const BY_ROWS = 33;
export const STEP = 34;
export const ROWS = 35;
export const COLS = 36;
export const DEPTH = 37;
export const A_AT = 38;
export const A_ROW_STRIDE = 39;
export const A_COL_STRIDE = 40;
export const B_AT = 41;
export const B_ROW_STRIDE = 42;
export const B_COL_STRIDE = 43;
export const C_AT = 44;
export const C_ROW_STRIDE = 45;
export const LOAD = 46;
export const B_BLOCK_ID = 47;
/** 1: run the job with the FMA build of the module. */
export const FMA = 48;
/** Float64 index of alpha (bytes 256..263). */
export const ALPHA = 32;
export const CONTROL_INTS = 128;
/**
 * How long a thread polls, at most, for the next job (or the caller for the last items) before it
 * sleeps in Atomics.wait, in ms. Each thread adapts its own budget (see `nextSpin`).
 */
export const SPIN_MS = 0.2;

/**
 * @typedef {object} PartExports
 * @property {(...args: number[]) => void} part_f32
 * @property {(...args: number[]) => void} part_f64
 */

/**
 * The polling budget after a wait that took `waitedMs`: halved when what the thread waited for came
 * later than SPIN_MS (the other thread was busy or not scheduled, and polling would only take the
 * core from it), doubled back when it came sooner.
 * @param {number} spin
 * @param {number} waitedMs
 */
export function nextSpin(spin, waitedMs) {
  return waitedMs < SPIN_MS ? Math.min(SPIN_MS, 2 * spin + 0.01) : spin / 2;
}

/**
 * Claims and runs items of the published job until none is left; returns the CLAIM value it last
 * saw (negative: stop). `state.group` is the B block this thread last packed (by rows every item of
 * a K slice uses the whole block, packed once per thread; by columns each item packs its own).
 * @param {[PartExports, PartExports | null]} builds the plain and the FMA build of this thread's instance
 * @param {Int32Array} ctl
 * @param {Float64Array} alpha
 * @param {{ group: number }} state
 * @param {(e: unknown) => void} report
 * @returns {number}
 */
export function work(builds, ctl, alpha, state, report) {
  for (;;) {
    const c = Atomics.load(ctl, CLAIM);
    if (c < 0) return c;
    const items = /** @type {number} */ (ctl[ITEMS]);
    const next = c & 0xffff;
    if (next >= items) return c;
    if (Atomics.compareExchange(ctl, CLAIM, c, c + 1) !== c) continue;
    try {
      const byRows = ctl[BY_ROWS] === 1;
      const step = /** @type {number} */ (ctl[STEP]);
      const group = /** @type {number} */ (ctl[B_BLOCK_ID]);
      const rows = /** @type {number} */ (ctl[ROWS]);
      const cols = /** @type {number} */ (ctl[COLS]);
      const from = next * step;
      const r0 = byRows ? from : 0;
      const r1 = byRows ? Math.min(rows, from + step) : rows;
      const c0 = byRows ? 0 : from;
      const c1 = byRows ? cols : Math.min(cols, from + step);
      const packB = !byRows || state.group !== group ? 1 : 0;
      state.group = byRows ? group : -1;
      const f64 = ctl[F64] === 1;
      const wasm = /** @type {PartExports} */ (builds[ctl[FMA] === 1 ? 1 : 0]);
      const ars = /** @type {number} */ (ctl[A_ROW_STRIDE]);
      const bcs = /** @type {number} */ (ctl[B_COL_STRIDE]);
      const cs = /** @type {number} */ (ctl[C_ROW_STRIDE]);
      (f64 ? wasm.part_f64 : wasm.part_f32)(
        /** @type {number} */ (ctl[A_AT]) + r0 * ars, ars, /** @type {number} */ (ctl[A_COL_STRIDE]), r1 - r0,
        /** @type {number} */ (ctl[B_AT]) + c0 * bcs, /** @type {number} */ (ctl[B_ROW_STRIDE]), bcs, c1 - c0, /** @type {number} */ (ctl[DEPTH]),
        /** @type {number} */ (ctl[C_AT]) + r0 * cs + c0 * (f64 ? 8 : 4), cs, /** @type {number} */ (alpha[ALPHA]),
        /** @type {number} */ (ctl[LOAD]), packB,
      );
    } catch (e) {
      state.group = -1;
      Atomics.store(ctl, ERROR, 1);
      report(e);
    }
    if (Atomics.add(ctl, DONE, 1) + 1 === items) Atomics.notify(ctl, DONE);
  }
}
