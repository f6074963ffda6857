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
/**
 * The job's kind: PART (0) stages a block of op(B) that each thread packs itself (`part_{T}`);
 * PACKED (1) reads op(B) already packed in the shared memory at B_AT (see `runPackedItem`).
 */
export const KIND = 49;
export const PART = 0;
export const PACKED = 1;
/** PACKED jobs: the depth of a K slice (KC), the rows of a packed op(A) block (MC), the columns of a packed column block (NC). */
export const SLICE = 50;
export const ROW_BLOCK = 51;
export const COL_BLOCK = 52;
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
 * @property {(src: number, rs: number, cs: number, mc: number, kc: number) => void} pack_a_f32
 * @property {(src: number, rs: number, cs: number, mc: number, kc: number) => void} pack_a_f64
 * @property {(src: number, rs: number, cs: number, kc: number, nc: number) => void} pack_b_f32
 * @property {(src: number, rs: number, cs: number, kc: number, nc: number) => void} pack_b_f64
 * @property {(mc: number, nc: number, kc: number, cs: number, alpha: number, load: number, ctile: number, bpack: number) => void} macro_f32
 * @property {(mc: number, nc: number, kc: number, cs: number, alpha: number, load: number, ctile: number, bpack: number) => void} macro_f64
 */

/**
 * What a thread remembers between items: the staged B block it last packed into its BPACK
 * (`group`, PART jobs by rows), and which op(A) block its APACK holds (`aGroup`, `aRow`, `aSlice`,
 * PACKED jobs), so that it packs neither again for the next item of the same job.
 * @typedef {{ group: number, aGroup: number, aRow: number, aSlice: number }} ThreadState
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
 * saw (negative: stop). For PART jobs `state.group` is the B block this thread last packed (by rows
 * every item of a K slice uses the whole block, packed once per thread; by columns each item packs
 * its own); PACKED jobs run `runPackedItem`.
 * @param {[PartExports, PartExports | null]} builds the plain and the FMA build of this thread's instance
 * @param {Int32Array} ctl
 * @param {Float64Array} alpha
 * @param {ThreadState} state
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
      if (ctl[KIND] === PACKED) {
        runPackedItem(/** @type {PartExports} */ (builds[ctl[FMA] === 1 ? 1 : 0]), ctl, alpha[ALPHA], state, next);
      } else {
        state.aGroup = -1; // part_{T} packs op(A) over APACK
        runPartItem(/** @type {PartExports} */ (builds[ctl[FMA] === 1 ? 1 : 0]), ctl, alpha[ALPHA], state, next);
      }
    } catch (e) {
      state.group = -1;
      state.aGroup = -1;
      Atomics.store(ctl, ERROR, 1);
      report(e);
    }
    if (Atomics.add(ctl, DONE, 1) + 1 === items) Atomics.notify(ctl, DONE);
  }
}

/**
 * Item `item` of a PACKED job: columns c0..c1 (STEP of them, within one column block of the packed
 * op(B)) of the staged C chunk get alpha · op(A) · op(B), one K slice after the other and, within a
 * slice, MC rows at a time: op(A)'s block packed into this thread's APACK (unless it holds it
 * already), then the macro kernel over the shared packed op(B). Each element of C sees the same
 * K slices in the same order, and the same register tile, as in the single-threaded `gemmPacked`.
 * @param {PartExports} wasm
 * @param {Int32Array} ctl
 * @param {number} alpha
 * @param {ThreadState} state
 * @param {number} item
 */
function runPackedItem(wasm, ctl, alpha, state, item) {
  const f64 = ctl[F64] === 1;
  const es = f64 ? 8 : 4;
  const nr = f64 ? 4 : 8;
  const packA = f64 ? wasm.pack_a_f64 : wasm.pack_a_f32;
  const macro = f64 ? wasm.macro_f64 : wasm.macro_f32;
  const rows = /** @type {number} */ (ctl[ROWS]);
  const N = /** @type {number} */ (ctl[COLS]);
  const K = /** @type {number} */ (ctl[DEPTH]);
  const KC = /** @type {number} */ (ctl[SLICE]);
  const MC = /** @type {number} */ (ctl[ROW_BLOCK]);
  const NC = /** @type {number} */ (ctl[COL_BLOCK]);
  const step = /** @type {number} */ (ctl[STEP]);
  const a = /** @type {number} */ (ctl[A_AT]);
  const ars = /** @type {number} */ (ctl[A_ROW_STRIDE]);
  const acs = /** @type {number} */ (ctl[A_COL_STRIDE]);
  const c = /** @type {number} */ (ctl[C_AT]);
  const cs = /** @type {number} */ (ctl[C_ROW_STRIDE]);
  const group = /** @type {number} */ (ctl[B_BLOCK_ID]);
  const c0 = item * step;
  const nc = Math.min(N, c0 + step) - c0;
  const j0 = c0 - (c0 % NC); // the column block holding the item (STEP divides NC)
  const ncPad = Math.ceil(Math.min(NC, N - j0) / nr) * nr;
  const block = /** @type {number} */ (ctl[B_AT]) + j0 * K * es;
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = Math.min(KC, K - k0);
    const bpack = block + (k0 * ncPad + (c0 - j0) * kc) * es;
    const load = k0 === 0 ? /** @type {number} */ (ctl[LOAD]) : 1;
    for (let r0 = 0; r0 < rows; r0 += MC) {
      const mc = Math.min(MC, rows - r0);
      if (state.aGroup !== group || state.aRow !== r0 || state.aSlice !== k0) {
        state.aGroup = -1;
        packA(a + r0 * ars + k0 * acs, ars, acs, mc, kc);
        state.aGroup = group;
        state.aRow = r0;
        state.aSlice = k0;
      }
      macro(mc, nc, kc, cs, alpha, load, c + r0 * cs + c0 * es, bpack);
    }
  }
}

/**
 * Item `item` of a PART job: its rows (by rows) or columns (by columns) of the staged C chunk, with
 * `part_{T}` packing the staged op(B) block unless this thread packed the same block last.
 * @param {PartExports} wasm
 * @param {Int32Array} ctl
 * @param {number} alpha
 * @param {ThreadState} state
 * @param {number} next
 */
function runPartItem(wasm, ctl, alpha, state, next) {
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
  const ars = /** @type {number} */ (ctl[A_ROW_STRIDE]);
  const bcs = /** @type {number} */ (ctl[B_COL_STRIDE]);
  const cs = /** @type {number} */ (ctl[C_ROW_STRIDE]);
  (f64 ? wasm.part_f64 : wasm.part_f32)(
    /** @type {number} */ (ctl[A_AT]) + r0 * ars, ars, /** @type {number} */ (ctl[A_COL_STRIDE]), r1 - r0,
    /** @type {number} */ (ctl[B_AT]) + c0 * bcs, /** @type {number} */ (ctl[B_ROW_STRIDE]), bcs, c1 - c0, /** @type {number} */ (ctl[DEPTH]),
    /** @type {number} */ (ctl[C_AT]) + r0 * cs + c0 * (f64 ? 8 : 4), cs, alpha,
    /** @type {number} */ (ctl[LOAD]), packB,
  );
}
