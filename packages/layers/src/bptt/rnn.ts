import { SeqgradError, kernels } from '@seqgrad/autograd';
import { addTanhRow, alloc, checkArray, checkCell, checkOptional, checkSeq, forEachActive, inputProjection, scanTimes } from './common.js';
import { type CellGrads, finishGrads } from './grads.js';
import { give, takeRows } from './pool.js';
import { gatesFor, rnnBackwardWasm, rnnForwardWasm } from './wasmSteps.js';
import type { BackwardOptions, CellDims, CellParams, FloatArray, Nonlinearity, RnnOptions, SeqDims, SeqGrads } from './types.js';

/**
 * What `rnnForward` keeps for `rnnBackward`. Arrays are (B, T, ·) indexed by real time t
 * (not scan order); padded steps hold zeros. `x` is referenced, not copied: do not modify it
 * between forward and backward.
 */
export interface RnnCache {
  dims: SeqDims;
  nonlinearity: Nonlinearity;
  /** The input (B, T, I), referenced. */
  x: FloatArray;
  /** h_{t−1} as step t saw it (B, T, H). */
  hPrev: FloatArray;
  /** h_t (B, T, H) (padded steps: unused values, never read). */
  h: FloatArray;
  /** Scan order: times[s·B + b] = t or −1 (see SeqOptions). */
  times: Int32Array;
}

export interface RnnForwardResult {
  /** (B, T, H): h_t, 0 at padded steps. */
  output: FloatArray;
  /** (B, H): the state after each sequence's last step. */
  hT: FloatArray;
  cache: RnnCache;
}

/** Validates a sequence call of the RNN (sizes, parameters, x, h0, options); returns its nonlinearity. */
function checkRnnCall(fn: string, p: CellParams, x: FloatArray, h0: FloatArray | null, dims: SeqDims, opts: RnnOptions): Nonlinearity {
  checkSeq(fn, 1, p, x, dims, opts);
  checkOptional(fn, 'h0', h0, [dims.B, dims.H]);
  const nonlinearity = opts.nonlinearity ?? 'tanh';
  if (nonlinearity !== 'tanh' && nonlinearity !== 'relu') {
    throw new SeqgradError(fn, `opts.nonlinearity must be 'tanh' or 'relu', got '${String(nonlinearity)}'`);
  }
  return nonlinearity;
}

/**
 * Elman RNN over a whole sequence, batch-first:
 * h_t = φ(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh), φ = tanh or relu (torch.nn.RNN).
 * x W_ihᵀ + b_ih is one GEMM for all steps; only h W_hhᵀ runs inside the time loop.
 *
 * Shapes: x (B, T, I), h0 (B, H) or null (zeros) → output (B, T, H), hT (B, H).
 *
 * @example
 * const { output, hT, cache } = rnnForward(p, x, null, { B: 2, T: 5, I: 3, H: 4 }, {});
 * const g = rnnBackward(p, cache, dOutput, null); // g.dWeightHh: (H, H)
 */
export function rnnForward(
  p: CellParams, x: FloatArray, h0: FloatArray | null, dims: SeqDims, opts: RnnOptions = {},
): RnnForwardResult {
  const nonlinearity = checkRnnCall('rnnForward', p, x, h0, dims, opts);
  const { B, T, I, H } = dims;
  const relu = nonlinearity === 'relu';
  const times = scanTimes(B, T, opts);
  // hs (B, T, H) = x W_ihᵀ + b_ih + b_hh: one GEMM for every step; the step loop adds
  // h_{t−1} W_hhᵀ and overwrites each row with h_t, the states of the cache.
  const hs = inputProjection(p, x, B * T, I, H, H);
  // h_{t−1} of the cache from the pool (pool.ts), zeroed where padded steps leave rows unwritten
  // (dW_hh's GEMM over all steps reads them, times a zero gradient).
  const hPrev = takeRows(x, B * T * H, times.includes(-1));
  const output = alloc(x, B * T * H);
  // W_hhᵀ packed once for every step, given back when the sequence is done.
  const wHh = kernels.packB(true, H, H, p.weightHh, 0, H);
  const wg = relu ? null : gatesFor(x, H);
  let h: FloatArray;
  try {
    if (wg) {
      // float32 tanh: the step in WebAssembly, the state in its memory (wasmSteps.ts)
      h = rnnForwardWasm(wg, B, T, H, times, h0, wHh, { pre: hs, hs, hPrev, output });
    } else {
      h = alloc(x, B * H);
      if (h0) h.set(h0);
      const hh = alloc(x, B * H);
      for (let s = 0; s < T; s++) {
        // hh (B, H) = h_{t−1} W_hhᵀ
        kernels.gemmPacked(false, B, 1, h, 0, H, wHh, 0, hh, 0, H);
        forEachActive(times, s, B, T, (b, bt) => {
          const row = bt * H;
          const hb = b * H;
          if (relu) {
            for (let j = 0; j < H; j++) {
              const a = hs[row + j]! + hh[hb + j]!;
              hs[row + j] = a > 0 ? a : 0;
            }
          } else {
            addTanhRow(hs, row, hh, hb, H);
          }
          for (let j = 0; j < H; j++) {
            const v = hs[row + j]!;
            hPrev[row + j] = h[hb + j]!;
            h[hb + j] = v;
            output[row + j] = v;
          }
        });
      }
    }
  } finally {
    wHh.release();
  }
  return { output, hT: h, cache: { dims: { ...dims }, nonlinearity, x, hPrev, h: hs, times } };
}

/**
 * `rnnForward` when no backward will follow (inference): the same output and final state, bit
 * for bit, without the cache. The float32 tanh WebAssembly loop then writes only the outputs, and
 * the input projection goes back to the pool.
 *
 * Shapes: x (B, T, I), h0 (B, H) or null → output (B, T, H), hT (B, H).
 *
 * @example
 * const { output, hT } = rnnInference(p, x, null, { B: 2, T: 5, I: 3, H: 4 });
 */
export function rnnInference(
  p: CellParams, x: FloatArray, h0: FloatArray | null, dims: SeqDims, opts: RnnOptions = {},
): { output: FloatArray; hT: FloatArray } {
  const nonlinearity = checkRnnCall('rnnInference', p, x, h0, dims, opts);
  const { B, T, I, H } = dims;
  const wg = nonlinearity === 'tanh' ? gatesFor(x, H) : null;
  if (!wg) {
    const r = rnnForward(p, x, h0, dims, opts);
    give(r.cache.h, r.cache.hPrev);
    return { output: r.output, hT: r.hT };
  }
  const times = scanTimes(B, T, opts);
  const pre = inputProjection(p, x, B * T, I, H, H);
  const output = alloc(x, B * T * H);
  const wHh = kernels.packB(true, H, H, p.weightHh, 0, H);
  try {
    const hT = rnnForwardWasm(wg, B, T, H, times, h0, wHh, { pre, hs: null, hPrev: null, output });
    return { output, hT };
  } finally {
    wHh.release();
    give(pre);
  }
}

/**
 * Backpropagation through time for `rnnForward`. dOutput (B, T, H) and dhT (B, H) may be
 * null (zero). Going back, dL/dh_t = dOutput_t + dL/dh_{t+1}·∂h_{t+1}/∂h_t; with
 * da_t = dL/dh_t ⊙ φ'(a_t): dh_{t−1} = da_t W_hh, and after the loop, over all steps at once,
 * dx = da W_ih, dW_ih = daᵀ x, dW_hh = daᵀ h_prev, db_ih = db_hh = Σ da.
 *
 * @example
 * const g = rnnBackward(p, cache, null, dhT); // many-to-one: only the final state gets a gradient
 */
export function rnnBackward(
  p: CellParams, cache: RnnCache, dOutput: FloatArray | null, dhT: FloatArray | null, opts: BackwardOptions = {},
): SeqGrads {
  const fn = 'rnnBackward';
  const { B, T, I, H } = cache.dims;
  const x = cache.x;
  checkOptional(fn, 'dOutput', dOutput, [B, T, H]);
  checkOptional(fn, 'dhT', dhT, [B, H]);
  checkArray(fn, 'p.weightHh', p.weightHh, [H, H]);
  checkArray(fn, 'p.weightIh', p.weightIh, [H, I]);
  const relu = cache.nonlinearity === 'relu';
  const { h: hs, times } = cache;
  // From the pool (see SeqGrads.dGates), zeroed where padded steps leave rows unwritten.
  const da = takeRows(x, B * T * H, times.includes(-1));
  const dHidden = opts.keepStateGrads ? alloc(x, B * T * H) : undefined;
  // W_hh packed once for every step going back, given back at the end.
  const wHh = kernels.packB(false, H, H, p.weightHh, 0, H);
  const wg = gatesFor(x, H);
  let dh: FloatArray;
  try {
    if (wg) {
      // float32: the step in WebAssembly, the state in its memory (wasmSteps.ts)
      dh = rnnBackwardWasm(wg, B, T, H, times, relu, dhT, wHh, { hs, dOutput, da, dHidden });
    } else {
      dh = alloc(x, B * H);
      if (dhT) dh.set(dhT);
      const daStep = alloc(x, B * H);
      const dhRec = alloc(x, B * H);
      for (let s = T - 1; s >= 0; s--) {
        daStep.fill(0);
        forEachActive(times, s, B, T, (b, bt) => {
          const row = bt * H;
          const hb = b * H;
          for (let j = 0; j < H; j++) {
            const g = dh[hb + j]! + (dOutput ? dOutput[row + j]! : 0);
            if (dHidden) dHidden[row + j] = g;
            const v = hs[row + j]!;
            // d tanh(a) = (1 − h²) dh;  d relu(a) = [h > 0] dh
            const d = relu ? (v > 0 ? g : 0) : g * (1 - v * v);
            daStep[hb + j] = d;
            da[row + j] = d;
          }
        });
        // dh_{t−1} = da_t W_hh
        kernels.gemmPacked(false, B, 1, daStep, 0, H, wHh, 0, dhRec, 0, H);
        forEachActive(times, s, B, T, (b) => {
          for (let j = 0; j < H; j++) dh[b * H + j] = dhRec[b * H + j]!;
        });
      }
    }
  } finally {
    wHh.release();
  }
  return finishGrads(p, x, cache.hPrev, da, da, { B, T, I, H }, 1, H, dh, dHidden);
}

/**
 * One RNN step: h' = φ(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) on x (B, I), h (B, H) or null.
 * The same code as `rnnForward` with T = 1; the cache feeds `rnnCellBackward`.
 *
 * @example
 * const { h, cache } = rnnCellForward(p, x, null, { B: 2, I: 3, H: 4 });
 * const { dx, dhPrev, dWeightHh } = rnnCellBackward(p, cache, dh);
 */
export function rnnCellForward(
  p: CellParams, x: FloatArray, h: FloatArray | null, dims: CellDims, opts: { nonlinearity?: Nonlinearity } = {},
): { h: FloatArray; cache: RnnCache } {
  checkCell('rnnCellForward', 1, p, x, dims);
  checkOptional('rnnCellForward', 'h', h, [dims.B, dims.H]);
  const r = rnnForward(p, x, h, { ...dims, T: 1 }, { nonlinearity: opts.nonlinearity });
  return { h: r.hT, cache: r.cache };
}

/** Backward of `rnnCellForward` for the gradient dh (B, H) of the new state. */
export function rnnCellBackward(p: CellParams, cache: RnnCache, dh: FloatArray | null): CellGrads {
  checkOptional('rnnCellBackward', 'dh', dh, [cache.dims.B, cache.dims.H]);
  const g = rnnBackward(p, cache, null, dh);
  return { dx: g.dx, dhPrev: g.dh0, dWeightIh: g.dWeightIh, dWeightHh: g.dWeightHh, dBiasIh: g.dBiasIh, dBiasHh: g.dBiasHh, dGates: g.dGates };
}
