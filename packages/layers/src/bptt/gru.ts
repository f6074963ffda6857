import { SeqgradError, kernels } from '@seqgrad/autograd';
import { addSigmoidRow, alloc, checkArray, checkCell, checkOptional, checkSeq, forEachActive, inputProjection, scanTimes, tanhRow } from './common.js';
import { type CellGrads, finishGrads } from './grads.js';
import { give, takeRows } from './pool.js';
import type { BackwardOptions, CellDims, CellParams, FloatArray, GruOptions, SeqDims, SeqGrads } from './types.js';
import { gatesFor, gruBackwardWasm, gruForwardWasm } from './wasmSteps.js';

type PackedB = kernels.PackedB;

/**
 * What `gruForward` keeps for `gruBackward`, (B, T, ·) by real time t, zeros at padded
 * steps (except gates, whose padded rows are never read). `x` is referenced.
 */
export interface GruCache {
  dims: SeqDims;
  resetAfter: boolean;
  x: FloatArray;
  /** Gate activations (B, T, 3H): r, z, n blocks of H. */
  gates: FloatArray;
  /** h_{t−1} (B, T, H). */
  hPrev: FloatArray;
  /**
   * resetAfter: h_{t−1} W_hnᵀ + b_hn (B, T, H), what r multiplies.
   * Otherwise: r ⊙ h_{t−1} (B, T, H), what W_hn multiplies.
   */
  hn: FloatArray;
  times: Int32Array;
}

export interface GruForwardResult {
  /** (B, T, H). */
  output: FloatArray;
  /** (B, H). */
  hT: FloatArray;
  cache: GruCache;
}

/** Validates a sequence call of the GRU (sizes, parameters, x, h0, options); returns resetAfter. */
function checkGruCall(fn: string, p: CellParams, x: FloatArray, h0: FloatArray | null, dims: SeqDims, opts: GruOptions): boolean {
  checkSeq(fn, 3, p, x, dims, opts);
  checkOptional(fn, 'h0', h0, [dims.B, dims.H]);
  const resetAfter = opts.resetAfter ?? true;
  if (typeof resetAfter !== 'boolean') throw new SeqgradError(fn, `opts.resetAfter must be a boolean, got ${typeof resetAfter}`);
  return resetAfter;
}

/**
 * GRU over a whole sequence, batch-first (torch.nn.GRU, gate order r, z, n):
 *   r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr),  z = σ(x W_izᵀ + b_iz + h W_hzᵀ + b_hz)
 *   n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn))     (resetAfter, default: PyTorch, cuDNN)
 *   n = tanh(x W_inᵀ + b_in + (r ⊙ h) W_hnᵀ + b_hn)     (resetAfter false: Cho et al. 2014 v3)
 *   h' = (1 − z) ⊙ n + z ⊙ h
 * W_ir is rows 0..H of weightIh, W_iz rows H..2H, W_in rows 2H..3H (same for weightHh).
 *
 * Shapes: x (B, T, I), h0 (B, H) or null → output (B, T, H), hT (B, H).
 *
 * @example
 * const { output, cache } = gruForward(p, x, null, { B: 2, T: 5, I: 3, H: 4 }, { resetAfter: false });
 * const g = gruBackward(p, cache, dOutput, null);
 */
export function gruForward(
  p: CellParams, x: FloatArray, h0: FloatArray | null, dims: SeqDims, opts: GruOptions = {},
): GruForwardResult {
  const resetAfter = checkGruCall('gruForward', p, x, h0, dims, opts);
  const { B, T, I, H } = dims;
  const GH = 3 * H;
  const times = scanTimes(B, T, opts);
  // gates (B, T, 3H) = x W_ihᵀ + b_ih + b_hh for every step in one GEMM (b_hn stays out with
  // resetAfter: r multiplies it); the step loops add h W_hhᵀ and overwrite each row with its
  // activations r, z, n, the gates of the cache.
  const gates = inputProjection(p, x, B * T, I, GH, resetAfter ? 2 * H : GH);
  const bhh = resetAfter ? p.biasHh : null;
  // The cache comes from the pool (pool.ts), zeroed where padded steps leave rows unwritten (the
  // GEMMs over all steps read them, times a zero gradient).
  const padded = times.includes(-1);
  const hPrev = takeRows(x, B * T * H, padded);
  const hn = takeRows(x, B * T * H, padded);
  const output = alloc(x, B * T * H);
  // W_hhᵀ packed once for every step (without resetAfter: its r, z rows and its n rows apart),
  // given back when the sequence is done.
  const wHh = kernels.packB(true, H, resetAfter ? GH : 2 * H, p.weightHh, 0, H);
  const wHn = resetAfter ? null : kernels.packB(true, H, H, p.weightHh, 2 * H * H, H);
  const wg = resetAfter ? gatesFor(x, H) : null;
  let h: FloatArray;
  try {
    if (wg) {
      // float32, reset after the product: the step in WebAssembly, the state in its memory (wasmSteps.ts)
      h = gruForwardWasm(wg, B, T, H, times, h0, wHh, bhh ?? null, { pre: gates, gates, hPrev, hn, output });
    } else {
      h = alloc(x, B * H);
      if (h0) h.set(h0);
      const hh = alloc(x, B * GH);
      const rh = resetAfter ? null : alloc(x, B * H);
      for (let s = 0; s < T; s++) {
        if (resetAfter) {
          // hh (B, 3H) = h W_hhᵀ
          kernels.gemmPacked(false, B, 1, h, 0, H, wHh, 0, hh, 0, GH);
        } else {
          // r and z blocks first: hh[:, 0:2H] = h W_h{r,z}ᵀ
          kernels.gemmPacked(false, B, 1, h, 0, H, wHh, 0, hh, 0, GH);
        }
        forEachActive(times, s, B, T, (b, bt) => {
          const row = bt * GH;
          const hb = b * GH;
          addSigmoidRow(gates, row, hh, hb, 2 * H); // r and z in place
          for (let j = 0; j < H; j++) {
            hPrev[bt * H + j] = h[b * H + j]!;
            if (rh) {
              rh[b * H + j] = gates[row + j]! * h[b * H + j]!;
              hn[bt * H + j] = rh[b * H + j]!;
            }
          }
        });
        // n block with the reset before the matmul: hh[:, 2H:3H] = (r ⊙ h) W_hnᵀ
        if (rh) kernels.gemmPacked(false, B, 1, rh, 0, H, wHn!, 0, hh, 2 * H, GH);
        forEachActive(times, s, B, T, (b, bt) => {
          const row = bt * GH;
          const hb = b * GH;
          for (let j = 0; j < H; j++) {
            // h W_hnᵀ + b_hn with resetAfter, else (r ⊙ h) W_hnᵀ (b_hn already in gates)
            const hnv = hh[hb + 2 * H + j]! + (bhh ? bhh[2 * H + j]! : 0);
            if (resetAfter) {
              hn[bt * H + j] = hnv;
              gates[row + 2 * H + j] += gates[row + j]! * hnv;
            } else {
              gates[row + 2 * H + j] += hnv;
            }
          }
          tanhRow(gates, row + 2 * H, H); // n in place
          for (let j = 0; j < H; j++) {
            const z = gates[row + H + j]!;
            const n = gates[row + 2 * H + j]!;
            const v = (1 - z) * n + z * h[b * H + j]!;
            h[b * H + j] = v;
            output[bt * H + j] = v;
          }
        });
      }
    }
  } finally {
    wHh.release();
    wHn?.release();
  }
  return { output, hT: h, cache: { dims: { ...dims }, resetAfter, x, gates, hPrev, hn, times } };
}

/**
 * `gruForward` when no backward will follow (inference): the same output and final state, bit
 * for bit, without the cache. The float32 WebAssembly loop (reset after the product) then writes
 * only the outputs, and the input projection goes back to the pool.
 *
 * Shapes: x (B, T, I), h0 (B, H) or null → output (B, T, H), hT (B, H).
 *
 * @example
 * const { output, hT } = gruInference(p, x, null, { B: 2, T: 5, I: 3, H: 4 });
 */
export function gruInference(
  p: CellParams, x: FloatArray, h0: FloatArray | null, dims: SeqDims, opts: GruOptions = {},
): { output: FloatArray; hT: FloatArray } {
  const resetAfter = checkGruCall('gruInference', p, x, h0, dims, opts);
  const { B, T, I, H } = dims;
  const wg = resetAfter ? gatesFor(x, H) : null;
  if (!wg) {
    const r = gruForward(p, x, h0, dims, opts);
    give(r.cache.gates, r.cache.hPrev, r.cache.hn);
    return { output: r.output, hT: r.hT };
  }
  const times = scanTimes(B, T, opts);
  const gates = inputProjection(p, x, B * T, I, 3 * H, 2 * H);
  const output = alloc(x, B * T * H);
  const wHh = kernels.packB(true, H, 3 * H, p.weightHh, 0, H);
  try {
    const hT = gruForwardWasm(wg, B, T, H, times, h0, wHh, p.biasHh ?? null, { pre: gates, gates: null, hPrev: null, hn: null, output });
    return { output, hT };
  } finally {
    wHh.release();
    give(gates);
  }
}

/**
 * Backpropagation through time for `gruForward`; dOutput (B, T, H), dhT (B, H) may be null.
 * Per step, going back, with dh = dL/dh_t:
 *   dn = dh ⊙ (1 − z), dz = dh ⊙ (h_{t−1} − n), da_n = dn ⊙ (1 − n²), da_z = dz ⊙ z(1 − z)
 *   resetAfter:  dr = da_n ⊙ (h W_hnᵀ + b_hn); the hidden-side n gradient is da_n ⊙ r
 *   otherwise:   d(r⊙h) = da_n W_hn, dr = d(r⊙h) ⊙ h_{t−1}
 *   da_r = dr ⊙ r(1 − r)
 *   dh_{t−1} = dh ⊙ z + [da_r, da_z, da_n^hidden] W_hh   (+ d(r⊙h) ⊙ r without resetAfter)
 * then dx, dW_ih, dW_hh and the biases as GEMMs over all steps.
 *
 * @example
 * const g = gruBackward(p, cache, dOutput, dhT);
 */
export function gruBackward(
  p: CellParams, cache: GruCache, dOutput: FloatArray | null, dhT: FloatArray | null, opts: BackwardOptions = {},
): SeqGrads {
  const fn = 'gruBackward';
  const { B, T, I, H } = cache.dims;
  const GH = 3 * H;
  const x = cache.x;
  checkOptional(fn, 'dOutput', dOutput, [B, T, H]);
  checkOptional(fn, 'dhT', dhT, [B, H]);
  checkArray(fn, 'p.weightIh', p.weightIh, [GH, I]);
  checkArray(fn, 'p.weightHh', p.weightHh, [GH, H]);
  const { gates, hPrev, hn, times, resetAfter } = cache;
  // Input-side pre-activation gradients; the hidden side differs only in the n block (resetAfter).
  // From the pool (see SeqGrads.dGates), zeroed where padded steps leave rows unwritten.
  const padded = times.includes(-1);
  const dGi = takeRows(x, B * T * GH, padded);
  const dGh = resetAfter ? takeRows(x, B * T * GH, padded) : dGi;
  const dHidden = opts.keepStateGrads ? alloc(x, B * T * H) : undefined;
  // W_hh packed once for every step going back (without resetAfter: its r, z rows and its n rows apart).
  const wHh = kernels.packB(false, resetAfter ? GH : 2 * H, H, p.weightHh, 0, H);
  const wHn = resetAfter ? null : kernels.packB(false, H, H, p.weightHh, 2 * H * H, H);
  const wg = resetAfter ? gatesFor(x, H) : null;
  let dh: FloatArray;
  try {
    if (wg) {
      // float32, reset after the product: the step in WebAssembly, the state in its memory (wasmSteps.ts)
      dh = gruBackwardWasm(wg, B, T, H, times, dhT, wHh, { gates, hPrev, hn, dOutput, dGi, dGh, dHidden });
    } else {
      dh = gruBackwardLoop(B, T, H, times, resetAfter, dhT, wHh, wHn, { gates, hPrev, hn, dOutput, dGi, dGh, dHidden });
    }
  } finally {
    wHh.release();
    wHn?.release();
  }
  if (resetAfter) {
    const g = finishGrads(p, x, hPrev, dGi, dGh, { B, T, I, H }, 3, H, dh, dHidden);
    // the hidden-side gradients stay inside this function: back to the pool
    give(dGh);
    return g;
  }
  // Without resetAfter W_hn multiplies r ⊙ h, not h: the n rows of dW_hh come from a second GEMM.
  const g = finishGrads(p, x, hPrev, dGi, dGh, { B, T, I, H }, 3, H, dh, dHidden);
  kernels.gemm(true, false, H, H, B * T, 1, dGi, 2 * H, GH, hn, 0, H, 0, g.dWeightHh, 2 * H * H, H);
  return g;
}

/**
 * The TypeScript time loop of `gruBackward`: fills dGi, dGh (the same array without resetAfter)
 * and dHidden; returns dh0 (B, H).
 */
function gruBackwardLoop(
  B: number, T: number, H: number, times: Int32Array, resetAfter: boolean, dhT: FloatArray | null,
  wHh: PackedB, wHn: PackedB | null,
  a: { gates: FloatArray; hPrev: FloatArray; hn: FloatArray; dOutput: FloatArray | null; dGi: FloatArray; dGh: FloatArray; dHidden: FloatArray | undefined },
): FloatArray {
  const GH = 3 * H;
  const { gates, hPrev, hn, dOutput, dGi, dGh, dHidden } = a;
  const dh = alloc(gates, B * H);
  if (dhT) dh.set(dhT);
  const daStep = alloc(gates, B * GH);
  const dhDirect = alloc(gates, B * H);
  const dhRec = alloc(gates, B * H);
  const drh = resetAfter ? null : alloc(gates, B * H);
  for (let s = T - 1; s >= 0; s--) {
    daStep.fill(0);
    forEachActive(times, s, B, T, (b, bt) => {
      const row = bt * GH;
      const hb = b * GH;
      for (let j = 0; j < H; j++) {
        const g = dh[b * H + j]! + (dOutput ? dOutput[bt * H + j]! : 0);
        if (dHidden) dHidden[bt * H + j] = g;
        const z = gates[row + H + j]!;
        const n = gates[row + 2 * H + j]!;
        const hp = hPrev[bt * H + j]!;
        // h' = (1 − z) n + z h:  dn = (1 − z) dh, dz = (h − n) dh, dh_direct = z dh
        const dan = g * (1 - z) * (1 - n * n);
        const daz = g * (hp - n) * z * (1 - z);
        dhDirect[b * H + j] = g * z;
        dGi[row + H + j] = daz;
        dGi[row + 2 * H + j] = dan;
        daStep[hb + H + j] = daz;
        daStep[hb + 2 * H + j] = dan;
        if (resetAfter) {
          const r = gates[row + j]!;
          // n = tanh(a_in + r hn):  dr = da_n hn, d hn = da_n r
          const dar = dan * hn[bt * H + j]! * r * (1 - r);
          dGi[row + j] = dar;
          dGh[row + j] = dar;
          dGh[row + H + j] = daz;
          dGh[row + 2 * H + j] = dan * r;
          daStep[hb + j] = dar;
          daStep[hb + 2 * H + j] = dan * r;
        }
      }
    });
    if (resetAfter) {
      // dh_{t−1} = dh z + daStep W_hh
      kernels.gemmPacked(false, B, 1, daStep, 0, GH, wHh, 0, dhRec, 0, H);
    } else {
      // d(r ⊙ h) (B, H) = da_n W_hn
      kernels.gemmPacked(false, B, 1, daStep, 2 * H, GH, wHn!, 0, drh!, 0, H);
      forEachActive(times, s, B, T, (b, bt) => {
        const row = bt * GH;
        for (let j = 0; j < H; j++) {
          const r = gates[row + j]!;
          const d = drh![b * H + j]!;
          const dar = d * hPrev[bt * H + j]! * r * (1 - r);
          dGi[row + j] = dar;
          daStep[b * GH + j] = dar;
          dhDirect[b * H + j] += d * r;
        }
      });
      // the r and z blocks: dhRec = [da_r, da_z] W_h{r,z}
      kernels.gemmPacked(false, B, 1, daStep, 0, GH, wHh, 0, dhRec, 0, H);
    }
    forEachActive(times, s, B, T, (b) => {
      for (let j = 0; j < H; j++) dh[b * H + j] = dhRec[b * H + j]! + dhDirect[b * H + j]!;
    });
  }
  return dh;
}

/**
 * One GRU step on x (B, I), h (B, H) or null: the same code as `gruForward` with T = 1.
 *
 * @example
 * const { h, cache } = gruCellForward(p, x, null, { B: 2, I: 3, H: 4 });
 * const { dx, dhPrev } = gruCellBackward(p, cache, dh);
 */
export function gruCellForward(
  p: CellParams, x: FloatArray, h: FloatArray | null, dims: CellDims, opts: { resetAfter?: boolean } = {},
): { h: FloatArray; cache: GruCache } {
  checkCell('gruCellForward', 3, p, x, dims);
  checkOptional('gruCellForward', 'h', h, [dims.B, dims.H]);
  const r = gruForward(p, x, h, { ...dims, T: 1 }, { resetAfter: opts.resetAfter });
  return { h: r.hT, cache: r.cache };
}

/** Backward of `gruCellForward` for the gradient dh (B, H) of the new state. */
export function gruCellBackward(p: CellParams, cache: GruCache, dh: FloatArray | null): CellGrads {
  checkOptional('gruCellBackward', 'dh', dh, [cache.dims.B, cache.dims.H]);
  const g = gruBackward(p, cache, null, dh);
  return { dx: g.dx, dhPrev: g.dh0, dWeightIh: g.dWeightIh, dWeightHh: g.dWeightHh, dBiasIh: g.dBiasIh, dBiasHh: g.dBiasHh, dGates: g.dGates };
}
