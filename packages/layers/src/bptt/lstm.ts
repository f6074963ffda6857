import { kernels } from '@seqgrad/autograd';
import { addSigmoidRow, addTanhRow, alloc, checkArray, checkCell, checkOptional, checkSeq, forEachActive, inputProjection, scanTimes, tanhRow } from './common.js';
import { type CellGrads, finishGrads } from './grads.js';
import { give, takeRows } from './pool.js';
import type { CellDims, CellParams, FloatArray, LstmBackwardOptions, SeqDims, SeqGrads, SeqOptions } from './types.js';
import { gatesFor, lstmBackwardWasm, lstmForwardWasm } from './wasmSteps.js';

/**
 * What `lstmForward` keeps for `lstmBackward`, (B, T, ·) indexed by real time t, zeros at
 * padded steps (except gates, whose padded rows are never read). S is the size of h: P with a
 * projection, else H. `x` is referenced.
 */
export interface LstmCache {
  dims: SeqDims;
  x: FloatArray;
  /** Gate activations (B, T, 4H): i, f, g, o blocks of H. */
  gates: FloatArray;
  /** c_{t−1} (B, T, H). */
  cPrev: FloatArray;
  /** tanh(c_t) (B, T, H). */
  tanhC: FloatArray;
  /** h_{t−1} (B, T, S). */
  hPrev: FloatArray;
  /** With a projection: m_t = o_t ⊙ tanh(c_t) (B, T, H), before W_hr; else null. */
  m: FloatArray | null;
  times: Int32Array;
}

export interface LstmForwardResult {
  /** (B, T, S). */
  output: FloatArray;
  /** (B, S). */
  hT: FloatArray;
  /** (B, H). */
  cT: FloatArray;
  cache: LstmCache;
}

export interface LstmSeqGrads extends SeqGrads {
  /** (B, H). */
  dc0: FloatArray;
  /** (P, H) with a projection, else null. */
  dWeightHr: FloatArray | null;
  /** (B, T, H) when `keepStateGrads` was set: dL/dc_t, the cell-state gradient of every step. */
  dCell?: FloatArray;
}

/**
 * LSTM over a whole sequence, batch-first (torch.nn.LSTM, gate order i, f, g, o):
 *   [a_i a_f a_g a_o] = x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh
 *   i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)
 *   c_t = f ⊙ c_{t−1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)   (with P: h_t = (o ⊙ tanh c_t) W_hrᵀ)
 *
 * Shapes: x (B, T, I), h0 (B, S), c0 (B, H) or null → output (B, T, S), hT (B, S), cT (B, H),
 * S = P when dims.P is set (p.weightHr (P, H)), else H.
 *
 * @example
 * const { output, hT, cT, cache } = lstmForward(p, x, null, null, { B: 2, T: 5, I: 3, H: 4 }, {});
 * const g = lstmBackward(p, cache, dOutput, null, null); // g.dc0, g.dWeightIh (4H, I)
 */
export function lstmForward(
  p: CellParams, x: FloatArray, h0: FloatArray | null, c0: FloatArray | null, dims: SeqDims, opts: SeqOptions = {},
): LstmForwardResult {
  const fn = 'lstmForward';
  const S = checkSeq(fn, 4, p, x, dims, opts);
  const { B, T, I, H } = dims;
  checkOptional(fn, 'h0', h0, [B, S]);
  checkOptional(fn, 'c0', c0, [B, H]);
  const proj = S !== H || (dims.P ?? 0) > 0;
  const GH = 4 * H;
  const times = scanTimes(B, T, opts);
  // gates (B, T, 4H) = x W_ihᵀ + b_ih + b_hh for every step in one GEMM; the step loop adds
  // h_{t−1} W_hhᵀ and overwrites each row with its activations i, f, g, o, the gates of the cache.
  const gates = inputProjection(p, x, B * T, I, GH, GH);
  // The cache comes from the pool (pool.ts), zeroed where padded steps leave rows unwritten.
  const padded = times.includes(-1);
  const cPrev = takeRows(x, B * T * H, padded);
  const tanhC = takeRows(x, B * T * H, padded);
  const hPrev = takeRows(x, B * T * S, padded);
  const m = proj ? takeRows(x, B * T * H, padded) : null;
  const output = alloc(x, B * T * S);
  // W_hhᵀ (and W_hrᵀ) packed once for every step, given back when the sequence is done.
  const wHh = kernels.packB(true, S, GH, p.weightHh, 0, S);
  const wHr = proj ? kernels.packB(true, H, S, p.weightHr!, 0, H) : null;
  const wg = gatesFor(x, H, S);
  try {
    if (wg) {
      // float32: the gate math in WebAssembly, the state in its memory (wasmSteps.ts)
      const r = lstmForwardWasm(wg, B, T, H, S, times, h0, c0, wHh, wHr, { gates, cPrev, tanhC, hPrev, m, output });
      return { output, hT: r.hT, cT: r.cT, cache: { dims: { ...dims }, x, gates, cPrev, tanhC, hPrev, m, times } };
    }
    const h = alloc(x, B * S);
    if (h0) h.set(h0);
    const c = alloc(x, B * H);
    if (c0) c.set(c0);
    const hh = alloc(x, B * GH);
    const mStep = proj ? alloc(x, B * H) : null;
    const hNew = proj ? alloc(x, B * S) : null;
    for (let s = 0; s < T; s++) {
      // hh (B, 4H) = h_{t−1} W_hhᵀ
      kernels.gemmPacked(false, B, 1, h, 0, S, wHh, 0, hh, 0, GH);
      forEachActive(times, s, B, T, (b, bt) => {
        const row = bt * GH;
        const hb = b * GH;
        for (let j = 0; j < S; j++) hPrev[bt * S + j] = h[b * S + j]!;
        // i, f (one block), g, o: activations in place, a row at a time
        addSigmoidRow(gates, row, hh, hb, 2 * H);
        addTanhRow(gates, row + 2 * H, hh, hb + 2 * H, H);
        addSigmoidRow(gates, row + 3 * H, hh, hb + 3 * H, H);
        const cb = bt * H;
        for (let j = 0; j < H; j++) {
          // c_t = f ⊙ c_{t−1} + i ⊙ g, its tanh taken over the row below
          const cp = c[b * H + j]!;
          const cn = gates[row + H + j]! * cp + gates[row + j]! * gates[row + 2 * H + j]!;
          cPrev[cb + j] = cp;
          c[b * H + j] = cn;
          tanhC[cb + j] = cn;
        }
        tanhRow(tanhC, cb, H);
        for (let j = 0; j < H; j++) {
          const v = gates[row + 3 * H + j]! * tanhC[cb + j]!;
          if (proj) {
            mStep![b * H + j] = v;
            m![cb + j] = v;
          } else {
            h[b * H + j] = v;
            output[cb + j] = v;
          }
        }
      });
      if (proj) {
        // h_t (B, P) = m_t W_hrᵀ
        kernels.gemmPacked(false, B, 1, mStep!, 0, H, wHr!, 0, hNew!, 0, S);
        forEachActive(times, s, B, T, (b, bt) => {
          const o = bt * S;
          for (let j = 0; j < S; j++) {
            h[b * S + j] = hNew![b * S + j]!;
            output[o + j] = hNew![b * S + j]!;
          }
        });
      }
    }
    return { output, hT: h, cT: c, cache: { dims: { ...dims }, x, gates, cPrev, tanhC, hPrev, m, times } };
  } finally {
    wHh.release();
    wHr?.release();
  }
}

/**
 * `lstmForward` when no backward will follow (inference): the same output and final state, bit
 * for bit, without the cache. The float32 WebAssembly loop then writes only the outputs, and the
 * input projection goes back to the pool.
 */
export function lstmInference(
  p: CellParams, x: FloatArray, h0: FloatArray | null, c0: FloatArray | null, dims: SeqDims, opts: SeqOptions = {},
): { output: FloatArray; hT: FloatArray; cT: FloatArray } {
  const fn = 'lstmInference';
  const S = checkSeq(fn, 4, p, x, dims, opts);
  const { B, T, I, H } = dims;
  const wg = gatesFor(x, H, S);
  if (!wg) {
    const r = lstmForward(p, x, h0, c0, dims, opts);
    const c = r.cache;
    give(c.gates, c.cPrev, c.tanhC, c.hPrev, c.m);
    return { output: r.output, hT: r.hT, cT: r.cT };
  }
  checkOptional(fn, 'h0', h0, [B, S]);
  checkOptional(fn, 'c0', c0, [B, H]);
  const proj = S !== H;
  const times = scanTimes(B, T, opts);
  const gates = inputProjection(p, x, B * T, I, 4 * H, 4 * H);
  const output = alloc(x, B * T * S);
  const wHh = kernels.packB(true, S, 4 * H, p.weightHh, 0, S);
  const wHr = proj ? kernels.packB(true, H, S, p.weightHr!, 0, H) : null;
  try {
    const r = lstmForwardWasm(wg, B, T, H, S, times, h0, c0, wHh, wHr, { gates, cPrev: null, tanhC: null, hPrev: null, m: null, output });
    return { output, hT: r.hT, cT: r.cT };
  } finally {
    wHh.release();
    wHr?.release();
    give(gates);
  }
}

/**
 * Backpropagation through time for `lstmForward`; dOutput (B, T, S), dhT (B, S), dcT (B, H)
 * may be null. Per step, going back (dm = dh, or dh W_hr with a projection):
 *   dc_t = dc_{t+1} ⊙ f_{t+1} + dm ⊙ o ⊙ (1 − tanh² c_t)
 *   do = dm ⊙ tanh c_t, di = dc_t ⊙ g, dg = dc_t ⊙ i, df = dc_t ⊙ c_{t−1}
 *   da = [di·i(1−i), df·f(1−f), dg·(1−g²), do·o(1−o)],  dh_{t−1} = da W_hh
 * then dx, dW_ih, dW_hh, dW_hr and the biases as GEMMs over all steps.
 *
 * @example
 * const g = lstmBackward(p, cache, null, dhT, null); // many-to-one
 */
export function lstmBackward(
  p: CellParams, cache: LstmCache, dOutput: FloatArray | null, dhT: FloatArray | null, dcT: FloatArray | null,
  opts: LstmBackwardOptions = {},
): LstmSeqGrads {
  const fn = 'lstmBackward';
  const { B, T, I, H } = cache.dims;
  const P = cache.dims.P ?? 0;
  const S = P || H;
  const proj = cache.m !== null;
  const GH = 4 * H;
  const x = cache.x;
  checkOptional(fn, 'dOutput', dOutput, [B, T, S]);
  checkOptional(fn, 'dhT', dhT, [B, S]);
  checkOptional(fn, 'dcT', dcT, [B, H]);
  const dCells = opts.dCells ?? null;
  checkOptional(fn, 'opts.dCells', dCells, [B, T, H]);
  checkArray(fn, 'p.weightIh', p.weightIh, [GH, I]);
  checkArray(fn, 'p.weightHh', p.weightHh, [GH, S]);
  if (proj) checkArray(fn, 'p.weightHr', p.weightHr, [P, H]);
  const { gates, cPrev, tanhC, times } = cache;
  // From the pool (see LstmSeqGrads.dGates), zeroed where padded steps leave rows unwritten.
  const padded = times.includes(-1);
  const da = takeRows(x, B * T * GH, padded);
  // dL/dh_t for every step: asked for, or needed for dW_hr = Σ dh_tᵀ m_t.
  const dHidden = opts.keepStateGrads ? alloc(x, B * T * S) : proj ? takeRows(x, B * T * S, padded) : undefined;
  const dCell = opts.keepStateGrads ? alloc(x, B * T * H) : undefined;
  // W_hh (and W_hr) packed once for every step going back, given back at the end.
  const wHh = kernels.packB(false, GH, S, p.weightHh, 0, S);
  const wHr = proj ? kernels.packB(false, S, H, p.weightHr!, 0, H) : null;
  const wg = gatesFor(x, H, S);
  let dh: FloatArray;
  let dc: FloatArray;
  try {
    if (wg) {
      // float32: the gate math in WebAssembly, the state in its memory (wasmSteps.ts)
      const r = lstmBackwardWasm(wg, B, T, H, S, times, dhT, dcT, wHh, wHr, { gates, cPrev, tanhC, dOutput, dCells, da, dHidden, dCell });
      dh = r.dh0;
      dc = r.dc0;
    } else {
      dh = alloc(x, B * S);
      if (dhT) dh.set(dhT);
      dc = alloc(x, B * H);
      if (dcT) dc.set(dcT);
      const daStep = alloc(x, B * GH);
      const dhRec = alloc(x, B * S);
      const dm = proj ? alloc(x, B * H) : null;
      for (let s = T - 1; s >= 0; s--) {
        forEachActive(times, s, B, T, (b, bt) => {
          const o = bt * S;
          for (let j = 0; j < S; j++) {
            if (dOutput) dh[b * S + j] += dOutput[o + j]!;
            if (dHidden) dHidden[o + j] = dh[b * S + j]!;
          }
        });
        // dm (B, H) = dh W_hr
        if (proj) kernels.gemmPacked(false, B, 1, dh, 0, S, wHr!, 0, dm!, 0, H);
        const dmv = proj ? dm! : dh;
        daStep.fill(0);
        forEachActive(times, s, B, T, (b, bt) => {
          const row = bt * GH;
          const hb = b * GH;
          for (let j = 0; j < H; j++) {
            const i = gates[row + j]!;
            const f = gates[row + H + j]!;
            const g = gates[row + 2 * H + j]!;
            const o = gates[row + 3 * H + j]!;
            const tc = tanhC[bt * H + j]!;
            const dmj = dmv[b * H + j]!;
            // dc_t = dc_{t+1} f_{t+1} (carried in dc) + dm o (1 − tanh² c_t) (+ dL/dc_t from outside)
            const dct = dc[b * H + j]! + dmj * o * (1 - tc * tc) + (dCells ? dCells[bt * H + j]! : 0);
            if (dCell) dCell[bt * H + j] = dct;
            const dai = dct * g * i * (1 - i);
            const daf = dct * cPrev[bt * H + j]! * f * (1 - f);
            const dag = dct * i * (1 - g * g);
            const dao = dmj * tc * o * (1 - o);
            dc[b * H + j] = dct * f;
            daStep[hb + j] = dai;
            daStep[hb + H + j] = daf;
            daStep[hb + 2 * H + j] = dag;
            daStep[hb + 3 * H + j] = dao;
            da[row + j] = dai;
            da[row + H + j] = daf;
            da[row + 2 * H + j] = dag;
            da[row + 3 * H + j] = dao;
          }
        });
        // dh_{t−1} = da_t W_hh
        kernels.gemmPacked(false, B, 1, daStep, 0, GH, wHh, 0, dhRec, 0, S);
        forEachActive(times, s, B, T, (b) => {
          for (let j = 0; j < S; j++) dh[b * S + j] = dhRec[b * S + j]!;
        });
      }
    }
  } finally {
    wHh.release();
    wHr?.release();
  }
  const base = finishGrads(p, x, cache.hPrev, da, da, { B, T, I, H }, 4, S, dh, opts.keepStateGrads ? dHidden : undefined);
  let dWeightHr: FloatArray | null = null;
  if (proj) {
    // dW_hr (P, H) = Σ_t dh_tᵀ m_t, one GEMM over all steps.
    dWeightHr = alloc(x, S * H);
    kernels.gemm(true, false, S, H, B * T, 1, dHidden!, 0, S, cache.m!, 0, H, 0, dWeightHr, 0, H);
    if (!opts.keepStateGrads) give(dHidden);
  }
  // One literal of fixed shape (a spread of base made a new hidden class per call, and the
  // optimized code deoptimized on it again after every full GC).
  const out: LstmSeqGrads = {
    dx: base.dx, dh0: base.dh0, dWeightIh: base.dWeightIh, dWeightHh: base.dWeightHh,
    dBiasIh: base.dBiasIh, dBiasHh: base.dBiasHh, dGates: base.dGates, dc0: dc, dWeightHr,
  };
  if (base.dHidden) out.dHidden = base.dHidden;
  if (dCell) out.dCell = dCell;
  return out;
}

/**
 * The cell state c_t of every step (B, T, H), 0 at padded steps, from what `lstmForward` kept:
 * c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t, the same arithmetic on the same stored values as the forward
 * pass, so equal to its c_t bit for bit. Its gradient goes to `lstmBackward` as `opts.dCells`.
 *
 * @example
 * const { cache } = lstmForward(p, x, null, null, dims);
 * const cells = lstmCells(cache); // cells[(b·T + t)·H + j] = c_t[b, j]
 */
export function lstmCells(cache: LstmCache): FloatArray {
  const { B, T, H } = cache.dims;
  const { gates, cPrev, times } = cache;
  const GH = 4 * H;
  const cells = alloc(cache.x, B * T * H);
  for (let k = 0; k < times.length; k++) {
    const t = times[k]!;
    if (t < 0) continue;
    const bt = (k % B) * T + t;
    const row = bt * GH;
    for (let j = 0; j < H; j++) {
      cells[bt * H + j] = gates[row + H + j]! * cPrev[bt * H + j]! + gates[row + j]! * gates[row + 2 * H + j]!;
    }
  }
  return cells;
}

export interface LstmCellGrads extends CellGrads {
  /** (B, H). */
  dcPrev: FloatArray;
  /** (P, H) with a projection, else null. */
  dWeightHr: FloatArray | null;
}

/**
 * One LSTM step on x (B, I), h (B, S), c (B, H) (null = zeros): the same code as
 * `lstmForward` with T = 1.
 *
 * @example
 * const { h, c, cache } = lstmCellForward(p, x, null, null, { B: 2, I: 3, H: 4 });
 * const { dx, dhPrev, dcPrev } = lstmCellBackward(p, cache, dh, dc);
 */
export function lstmCellForward(
  p: CellParams, x: FloatArray, h: FloatArray | null, c: FloatArray | null, dims: CellDims,
): { h: FloatArray; c: FloatArray; cache: LstmCache } {
  const S = checkCell('lstmCellForward', 4, p, x, dims);
  checkOptional('lstmCellForward', 'h', h, [dims.B, S]);
  checkOptional('lstmCellForward', 'c', c, [dims.B, dims.H]);
  const r = lstmForward(p, x, h, c, { ...dims, T: 1 });
  return { h: r.hT, c: r.cT, cache: r.cache };
}

/** Backward of `lstmCellForward` for the gradients of the new h (B, S) and c (B, H). */
export function lstmCellBackward(p: CellParams, cache: LstmCache, dh: FloatArray | null, dc: FloatArray | null): LstmCellGrads {
  checkOptional('lstmCellBackward', 'dh', dh, [cache.dims.B, cache.dims.P || cache.dims.H]);
  checkOptional('lstmCellBackward', 'dc', dc, [cache.dims.B, cache.dims.H]);
  const g = lstmBackward(p, cache, null, dh, dc);
  return {
    dx: g.dx, dhPrev: g.dh0, dcPrev: g.dc0, dWeightIh: g.dWeightIh, dWeightHh: g.dWeightHh,
    dBiasIh: g.dBiasIh, dBiasHh: g.dBiasHh, dWeightHr: g.dWeightHr, dGates: g.dGates,
  };
}
