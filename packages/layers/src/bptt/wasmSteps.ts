/**
 * The time loops of the fused layers with their gate math in WebAssembly SIMD (float32, sizes a
 * multiple of 4: `kernels.wasmGates()`): LSTM, GRU (reset after the product) and RNN, forward and
 * backward. The state (h, c, dh, dc), the recurrent products and the rows of a chunk of steps live
 * in one workspace in WebAssembly memory for the whole sequence: the packed GEMM reads h (or da)
 * and writes h W_hhᵀ (or da W_hh) there, the gate kernel works there, and the rows the cache
 * keeps (gate activations, c_{t−1}, tanh c_t, h_{t−1}, the outputs; the gradients going back) are
 * copied in and out as one block per batch element and chunk. The workspace is released in
 * `finally`. The TypeScript loops in lstm.ts, gru.ts and rnn.ts compute the same up to float32
 * rounding (a few ulp per activation).
 */
import { kernels } from '@seqgrad/autograd';
import type { FloatArray } from './types.js';

type WasmGates = NonNullable<ReturnType<typeof kernels.wasmGates>>;
type PackedB = kernels.PackedB;

/** The gate kernels when a float32 sequence of these sizes can use them, else null. */
export function gatesFor(x: FloatArray, ...sizes: number[]): WasmGates | null {
  if (!(x instanceof Float32Array)) return null;
  const g = kernels.wasmGates();
  return g !== null && g.fits(...sizes) ? g : null;
}

/**
 * Steps per chunk: as many as keep the chunk's buffers (B rows of `floatsPerRow` per step) within
 * a budget of 2²² floats (16 MB), at least 1. A chunk's rows are copied into WebAssembly memory and back as
 * one block per batch element, instead of a row per step.
 */
let chunkFloats = 1 << 22;
function chunkSteps(T: number, B: number, floatsPerRow: number): number {
  return Math.max(1, Math.min(T, Math.floor(chunkFloats / (B * floatsPerRow))));
}

/** Sets the chunk budget in floats (tests use small ones to cross chunk boundaries); returns the previous. */
export function setChunkFloats(floats: number): number {
  const was = chunkFloats;
  chunkFloats = floats;
  return was;
}

/**
 * The chunks of at most Tc scan steps of a sequence, first to last (or last to first going back).
 * For the current chunk [s0, s1): lo[b] and n[b], the first time index batch element b processes
 * there and how many (its times form one contiguous range, rising or falling; n[b] = 0 past its
 * length); its row for time t sits at chunk slot b·Tc + t − lo[b] (`slot`).
 *
 *   const ch = new Chunks(times, B, T, Tc, false);
 *   while (ch.next()) { ch.stageIn(...); for (let s = ch.s0; s < ch.s1; s++) ... ch.slot(s, b) ...; ch.stageOut(...) }
 */
class Chunks {
  /**
   * One instance that is never used, so that an instance of this class is always alive: a walker
   * lives for one sequence, and a full GC that finds none alive frees its hidden class, which
   * makes V8 discard the optimized time loops that use it (bench/test/gcDeopt.test.ts).
   */
  static readonly keepHiddenClass = new Chunks(new Int32Array(0), 0, 0, 1, false);
  readonly lo: Int32Array;
  readonly n: Int32Array;
  s0 = 0;
  s1 = 0;
  private started = false;
  constructor(private readonly times: Int32Array, private readonly B: number, readonly T: number, readonly Tc: number, private readonly backward: boolean) {
    this.lo = new Int32Array(B);
    this.n = new Int32Array(B);
  }

  /** Moves to the next chunk and fills in its ranges; false when the sequence is done. */
  next(): boolean {
    const { T, Tc } = this;
    if (this.backward) {
      const s1 = this.started ? this.s0 : T;
      if (s1 <= 0) return false;
      this.s1 = s1;
      this.s0 = Math.max(0, s1 - Tc);
    } else {
      const s0 = this.started ? this.s1 : 0;
      if (s0 >= T) return false;
      this.s0 = s0;
      this.s1 = Math.min(T, s0 + Tc);
    }
    this.started = true;
    const { times, B, lo, n } = this;
    for (let b = 0; b < B; b++) {
      let min = -1;
      let max = -1;
      for (let s = this.s0; s < this.s1; s++) {
        const t = times[s * B + b]!;
        if (t < 0) continue;
        if (min < 0 || t < min) min = t;
        if (t > max) max = t;
      }
      lo[b] = min;
      n[b] = min < 0 ? 0 : max - min + 1;
    }
    return true;
  }

  /** The chunk slot of batch element b's row at scan step s, or −1 when b is past its length there. */
  slot(s: number, b: number): number {
    const t = this.times[s * this.B + b]!;
    return t < 0 ? -1 : b * this.Tc + t - this.lo[b]!;
  }

  /** Copies, per batch element, the chunk's rows of `src` (B, T, w) into its chunk slots b·Tc … of `dst`. */
  stageIn(dst: Float32Array, src: FloatArray, w: number): void {
    const { lo, n, T, Tc } = this;
    for (let b = 0; b < lo.length; b++) {
      if (n[b] === 0) continue;
      const from = (b * T + lo[b]!) * w;
      dst.set(src.subarray(from, from + n[b]! * w), b * Tc * w);
    }
  }

  /** The reverse of `stageIn`: chunk slots back into rows of `dst` (B, T, w). */
  stageOut(dst: FloatArray, src: Float32Array, w: number): void {
    const { lo, n, T, Tc } = this;
    for (let b = 0; b < lo.length; b++) {
      if (n[b] === 0) continue;
      const at = b * Tc * w;
      dst.set(src.subarray(at, at + n[b]! * w), (b * T + lo[b]!) * w);
    }
  }
}

/**
 * What the LSTM forward loop reads (the input projection in `gates`) and fills in besides its
 * returned final state: the cache rows, or only the outputs when the cache arrays are null
 * (inference; `gates` is then left holding whatever the chunks' staging left there).
 */
export interface LstmStepArrays {
  gates: FloatArray;
  cPrev: FloatArray | null;
  tanhC: FloatArray | null;
  hPrev: FloatArray | null;
  m: FloatArray | null;
  output: FloatArray;
}

/** The LSTM forward time loop (see lstmForward); returns hT (B, S) and cT (B, H). */
export function lstmForwardWasm(
  wg: WasmGates, B: number, T: number, H: number, S: number, times: Int32Array,
  h0: FloatArray | null, c0: FloatArray | null, wHh: PackedB, wHr: PackedB | null, a: LstmStepArrays,
): { hT: FloatArray; cT: FloatArray } {
  const GH = 4 * H;
  const proj = wHr !== null;
  const { gates, cPrev, tanhC, hPrev, m, output } = a;
  const keep = cPrev !== null;
  const Tc = chunkSteps(T, B, GH + 2 * H + 2 * S + (proj ? H : 0));
  // state (zeroed): h, h W_hhᵀ, c, m_t and m_t W_hrᵀ (projection); a chunk's rows (every row
  // read is written first): gates, c_{t−1}, tanh c_t, h_{t−1}, outputs, m
  const ws = wg.workspace([
    B * S, B * GH, B * H, proj ? B * H : 0, proj ? B * S : 0,
    B * Tc * GH, B * Tc * H, B * Tc * H, B * Tc * S, B * Tc * S, proj ? B * Tc * H : 0,
  ], 5);
  try {
    const [h, hh, c, mStep, hNew, gC, cpC, tcC, hpC, outC, mC] = ws.views as Float32Array[] as [
      Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array,
    ];
    const [hP, hhP, cP, mStepP, hNewP, gP, cpP, tcP, hpP, outP, mP] = ws.ptrs as number[] as [
      number, number, number, number, number, number, number, number, number, number, number,
    ];
    const heap = ws.heap;
    if (h0) h.set(h0);
    if (c0) c.set(c0);
    const ch = new Chunks(times, B, T, Tc, false);
    while (ch.next()) {
      const { s0, s1 } = ch;
      ch.stageIn(gC, gates, GH);
      for (let s = s0; s < s1; s++) {
        // hh (B, 4H) = h_{t−1} W_hhᵀ, straight from and into the workspace
        kernels.gemmPacked(false, B, 1, h, 0, S, wHh, 0, hh, 0, GH);
        for (let b = 0; b < B; b++) {
          const k = ch.slot(s, b);
          if (k < 0) continue;
          const hb = hP / 4 + b * S;
          if (keep) heap.copyWithin(hpP / 4 + k * S, hb, hb + S);
          // without a projection the kernel writes h_t over h_{t−1} (copied out just above)
          wg.lstmForward(gP + 4 * k * GH, hhP + 4 * b * GH, cP + 4 * b * H, cpP + 4 * k * H, tcP + 4 * k * H, proj ? mStepP + 4 * b * H : hP + 4 * b * S, H);
          if (proj) {
            if (keep) heap.copyWithin(mP / 4 + k * H, mStepP / 4 + b * H, mStepP / 4 + b * H + H);
          } else {
            heap.copyWithin(outP / 4 + k * S, hb, hb + S);
          }
        }
        if (proj) {
          // h_t (B, P) = m_t W_hrᵀ
          kernels.gemmPacked(false, B, 1, mStep, 0, H, wHr, 0, hNew, 0, S);
          for (let b = 0; b < B; b++) {
            const k = ch.slot(s, b);
            if (k < 0) continue;
            const from = hNewP / 4 + b * S;
            heap.copyWithin(hP / 4 + b * S, from, from + S);
            heap.copyWithin(outP / 4 + k * S, from, from + S);
          }
        }
      }
      ch.stageOut(output, outC, S);
      if (keep) {
        ch.stageOut(gates, gC, GH);
        ch.stageOut(cPrev, cpC, H);
        ch.stageOut(tanhC!, tcC, H);
        ch.stageOut(hPrev!, hpC, S);
        if (proj) ch.stageOut(m!, mC, H);
      }
    }
    return { hT: h.slice(), cT: c.slice() };
  } finally {
    ws.release();
  }
}

/** What the LSTM backward loop reads and fills in. */
export interface LstmBackArrays {
  gates: FloatArray;
  cPrev: FloatArray;
  tanhC: FloatArray;
  dOutput: FloatArray | null;
  dCells: FloatArray | null;
  /** (B, T, 4H): the pre-activation gradients of every step, filled in. */
  da: FloatArray;
  dHidden: FloatArray | undefined;
  dCell: FloatArray | undefined;
}

/** The LSTM backward time loop (see lstmBackward); returns dh0 (B, S) and dc0 (B, H). */
export function lstmBackwardWasm(
  wg: WasmGates, B: number, T: number, H: number, S: number, times: Int32Array,
  dhT: FloatArray | null, dcT: FloatArray | null, wHh: PackedB, wHr: PackedB | null, a: LstmBackArrays,
): { dh0: FloatArray; dc0: FloatArray } {
  const GH = 4 * H;
  const proj = wHr !== null;
  const { gates, cPrev, tanhC, dOutput, dCells, da, dHidden, dCell } = a;
  const Tc = chunkSteps(T, B, 2 * GH + 2 * H + (dOutput ? S : 0) + (dHidden ? S : 0) + (dCells ? H : 0) + (dCell ? H : 0));
  // state (zeroed): dh, dc, the step's da (B, 4H), da W_hh, dm; a chunk's rows (every row read is
  // written first): gates, tanh c_t, c_{t−1}, da, dOutput, dL/dh_t, dL/dc_t in (dCells) and out (dCell)
  const ws = wg.workspace([
    B * S, B * H, B * GH, B * S, proj ? B * H : 0,
    B * Tc * GH, B * Tc * H, B * Tc * H, B * Tc * GH,
    dOutput ? B * Tc * S : 0, dHidden ? B * Tc * S : 0, dCells ? B * Tc * H : 0, dCell ? B * Tc * H : 0,
  ], 5);
  try {
    const [dh, dc, daStep, dhRec, dm, gC, tcC, cpC, daC, dOutC, dHidC, dCellsC, dCellC] = ws.views as Float32Array[] as [
      Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array,
      Float32Array, Float32Array, Float32Array, Float32Array, Float32Array,
    ];
    const [dhP, dcP, daP, dhRecP, dmP, gP, tcP, cpP, daCP, dOutP, dHidP, dCellsP, dCellP] = ws.ptrs as number[] as [
      number, number, number, number, number, number, number, number, number, number, number, number, number,
    ];
    const heap = ws.heap;
    if (dhT) dh.set(dhT);
    if (dcT) dc.set(dcT);
    const ch = new Chunks(times, B, T, Tc, true);
    const dmBase = proj ? dmP : dhP;
    while (ch.next()) {
      const { s0, s1 } = ch;
      ch.stageIn(gC, gates, GH);
      ch.stageIn(tcC, tanhC, H);
      ch.stageIn(cpC, cPrev, H);
      if (dOutput) ch.stageIn(dOutC, dOutput, S);
      if (dCells) ch.stageIn(dCellsC, dCells, H);
      for (let s = s1 - 1; s >= s0; s--) {
        if (proj) {
          // dh += dOutput_t, kept as dL/dh_t; then dm (B, H) = dh W_hr
          for (let b = 0; b < B; b++) {
            const k = ch.slot(s, b);
            if (k < 0) continue;
            const hb = dhP / 4 + b * S;
            if (dOutput) {
              const o = dOutP / 4 + k * S;
              for (let j = 0; j < S; j++) heap[hb + j] += heap[o + j]!;
            }
            if (dHidden) heap.copyWithin(dHidP / 4 + k * S, hb, hb + S);
          }
          kernels.gemmPacked(false, B, 1, dh, 0, S, wHr, 0, dm, 0, H);
        }
        for (let b = 0; b < B; b++) {
          const k = ch.slot(s, b);
          if (k < 0) {
            daStep.fill(0, b * GH, b * GH + GH);
            continue;
          }
          // without a projection the kernel adds dOutput_t into dh (= dm) itself
          wg.lstmBackward(
            gP + 4 * k * GH, tcP + 4 * k * H, cpP + 4 * k * H, dmBase + 4 * b * H, !proj && dOutput ? dOutP + 4 * k * S : 0,
            dcP + 4 * b * H, dCells ? dCellsP + 4 * k * H : 0, dCell ? dCellP + 4 * k * H : 0, daP + 4 * b * GH, H,
          );
          if (!proj && dHidden) heap.copyWithin(dHidP / 4 + k * S, dhP / 4 + b * S, dhP / 4 + b * S + S);
          heap.copyWithin(daCP / 4 + k * GH, daP / 4 + b * GH, daP / 4 + b * GH + GH);
        }
        // dh_{t−1} = da_t W_hh
        kernels.gemmPacked(false, B, 1, daStep, 0, GH, wHh, 0, dhRec, 0, S);
        for (let b = 0; b < B; b++) {
          if (times[s * B + b]! < 0) continue;
          heap.copyWithin(dhP / 4 + b * S, dhRecP / 4 + b * S, dhRecP / 4 + b * S + S);
        }
      }
      ch.stageOut(da, daC, GH);
      if (dHidden) ch.stageOut(dHidden, dHidC, S);
      if (dCell) ch.stageOut(dCell, dCellC, H);
    }
    return { dh0: dh.slice(), dc0: dc.slice() };
  } finally {
    ws.release();
  }
}

/** What the RNN forward loop reads and fills in; null cache arrays are not written (inference). */
export interface RnnStepArrays {
  /** (B, T, H): x W_ihᵀ + b_ih + b_hh of every step, read. */
  pre: FloatArray;
  /** (B, T, H): h_t, for the cache (may be `pre` itself), or null. */
  hs: FloatArray | null;
  /** (B, T, H): h_{t−1}, or null. */
  hPrev: FloatArray | null;
  /** (B, T, H): h_t. */
  output: FloatArray;
}

/** The tanh RNN forward time loop (see rnnForward); returns hT (B, H). */
export function rnnForwardWasm(
  wg: WasmGates, B: number, T: number, H: number, times: Int32Array, h0: FloatArray | null, wHh: PackedB, a: RnnStepArrays,
): FloatArray {
  const { pre, hs, hPrev, output } = a;
  const Tc = chunkSteps(T, B, (hPrev ? 2 : 1) * H);
  // state (zeroed): h, h W_hhᵀ; a chunk's rows (every row read is written first): the
  // pre-activations, overwritten by h_t, and h_{t−1}
  const ws = wg.workspace([B * H, B * H, B * Tc * H, hPrev ? B * Tc * H : 0], 2);
  try {
    const [h, hh, aC, hpC] = ws.views as [Float32Array, Float32Array, Float32Array, Float32Array];
    const [hP, hhP, aP, hpP] = ws.ptrs as [number, number, number, number];
    const heap = ws.heap;
    if (h0) h.set(h0);
    const ch = new Chunks(times, B, T, Tc, false);
    while (ch.next()) {
      const { s0, s1 } = ch;
      ch.stageIn(aC, pre, H);
      for (let s = s0; s < s1; s++) {
        // hh (B, H) = h_{t−1} W_hhᵀ, straight from and into the workspace
        kernels.gemmPacked(false, B, 1, h, 0, H, wHh, 0, hh, 0, H);
        for (let b = 0; b < B; b++) {
          const k = ch.slot(s, b);
          if (k < 0) continue;
          if (hPrev) heap.copyWithin(hpP / 4 + k * H, hP / 4 + b * H, hP / 4 + b * H + H);
          wg.rnnTanhForward(aP + 4 * k * H, hhP + 4 * b * H, hP + 4 * b * H, H);
        }
      }
      ch.stageOut(output, aC, H);
      if (hs) ch.stageOut(hs, aC, H);
      if (hPrev) ch.stageOut(hPrev, hpC, H);
    }
    return h.slice();
  } finally {
    ws.release();
  }
}

/** What the RNN backward loop reads and fills in. */
export interface RnnBackArrays {
  /** (B, T, H): h_t of the forward. */
  hs: FloatArray;
  dOutput: FloatArray | null;
  /** (B, T, H): the pre-activation gradients of every step, filled in. */
  da: FloatArray;
  dHidden: FloatArray | undefined;
}

/** The RNN backward time loop (see rnnBackward; tanh, or relu); returns dh0 (B, H). */
export function rnnBackwardWasm(
  wg: WasmGates, B: number, T: number, H: number, times: Int32Array, relu: boolean, dhT: FloatArray | null, wHh: PackedB,
  a: RnnBackArrays,
): FloatArray {
  const { hs, dOutput, da, dHidden } = a;
  const Tc = chunkSteps(T, B, 2 * H + (dOutput ? H : 0) + (dHidden ? H : 0));
  // state (zeroed): dh, the step's da; a chunk's rows (every row read is written first): h_t,
  // dOutput, da, dL/dh_t
  const ws = wg.workspace([B * H, B * H, B * Tc * H, dOutput ? B * Tc * H : 0, B * Tc * H, dHidden ? B * Tc * H : 0], 2);
  try {
    const [dh, daStep, hC, dOutC, daC, dHidC] = ws.views as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
    const [dhP, daP, hP, dOutP, daCP, dHidP] = ws.ptrs as [number, number, number, number, number, number];
    if (dhT) dh.set(dhT);
    const ch = new Chunks(times, B, T, Tc, true);
    while (ch.next()) {
      const { s0, s1 } = ch;
      ch.stageIn(hC, hs, H);
      if (dOutput) ch.stageIn(dOutC, dOutput, H);
      for (let s = s1 - 1; s >= s0; s--) {
        for (let b = 0; b < B; b++) {
          const k = ch.slot(s, b);
          if (k < 0) {
            daStep.fill(0, b * H, b * H + H);
            continue;
          }
          // daStep, da ← (dh + dOutput) φ'(a_t); dh ← 0
          wg.rnnBackward(hP + 4 * k * H, dhP + 4 * b * H, dOutput ? dOutP + 4 * k * H : 0, dHidden ? dHidP + 4 * k * H : 0,
            daCP + 4 * k * H, daP + 4 * b * H, relu ? 1 : 0, H);
        }
        // dh_{t−1} = da_t W_hh (rows past their length: da = 0, dh kept)
        kernels.gemmPacked(false, B, 1, daStep, 0, H, wHh, 1, dh, 0, H);
      }
      ch.stageOut(da, daC, H);
      if (dHidden) ch.stageOut(dHidden, dHidC, H);
    }
    return dh.slice();
  } finally {
    ws.release();
  }
}

/** What the GRU forward loop reads and fills in; null cache arrays are not written (inference). */
export interface GruStepArrays {
  /** (B, T, 3H): x W_ihᵀ + b_ih (+ b_hh for r and z) of every step, read. */
  pre: FloatArray;
  /** (B, T, 3H): r, z, n, for the cache (may be `pre` itself), or null. */
  gates: FloatArray | null;
  /** (B, T, H): h_{t−1}, or null. */
  hPrev: FloatArray | null;
  /** (B, T, H): h W_hnᵀ + b_hn, or null. */
  hn: FloatArray | null;
  /** (B, T, H): h_t. */
  output: FloatArray;
}

/** The GRU forward time loop with the reset after the product (see gruForward); returns hT (B, H). */
export function gruForwardWasm(
  wg: WasmGates, B: number, T: number, H: number, times: Int32Array, h0: FloatArray | null, wHh: PackedB, bhh: FloatArray | null,
  a: GruStepArrays,
): FloatArray {
  const GH = 3 * H;
  const { pre, gates, hPrev, hn, output } = a;
  const Tc = chunkSteps(T, B, GH + H + (hPrev ? H : 0) + (hn ? H : 0));
  // state (zeroed): h, h W_hhᵀ (B, 3H), b_hn, h W_hnᵀ + b_hn of a row when hn is not kept; a
  // chunk's rows (every row read is written first): gates, h_{t−1}, h W_hnᵀ + b_hn, outputs
  const ws = wg.workspace([B * H, B * GH, H, hn ? 0 : H, B * Tc * GH, hPrev ? B * Tc * H : 0, hn ? B * Tc * H : 0, B * Tc * H], 4);
  try {
    const [h, hh, bhn, , gC, hpC, hnC, outC] = ws.views as Float32Array[] as [
      Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array,
    ];
    const [hP, hhP, bhnP, hnRowP, gP, hpP, hnP, outP] = ws.ptrs as number[] as [number, number, number, number, number, number, number, number];
    const heap = ws.heap;
    if (h0) h.set(h0);
    if (bhh) bhn.set(bhh.subarray(2 * H, 3 * H));
    const ch = new Chunks(times, B, T, Tc, false);
    while (ch.next()) {
      const { s0, s1 } = ch;
      ch.stageIn(gC, pre, GH);
      for (let s = s0; s < s1; s++) {
        // hh (B, 3H) = h_{t−1} W_hhᵀ, straight from and into the workspace
        kernels.gemmPacked(false, B, 1, h, 0, H, wHh, 0, hh, 0, GH);
        for (let b = 0; b < B; b++) {
          const k = ch.slot(s, b);
          if (k < 0) continue;
          const hb = hP / 4 + b * H;
          if (hPrev) heap.copyWithin(hpP / 4 + k * H, hb, hb + H);
          wg.gruForward(gP + 4 * k * GH, hhP + 12 * b * H, bhh ? bhnP : 0, hP + 4 * b * H, hn ? hnP + 4 * k * H : hnRowP, H);
          heap.copyWithin(outP / 4 + k * H, hb, hb + H);
        }
      }
      if (gates) ch.stageOut(gates, gC, GH);
      if (hPrev) ch.stageOut(hPrev, hpC, H);
      if (hn) ch.stageOut(hn, hnC, H);
      ch.stageOut(output, outC, H);
    }
    return h.slice();
  } finally {
    ws.release();
  }
}

/** What the GRU backward loop reads and fills in. */
export interface GruBackArrays {
  /** The forward's cache rows (B, T, ·): r, z, n (3H), h_{t−1}, h W_hnᵀ + b_hn. */
  gates: FloatArray;
  hPrev: FloatArray;
  hn: FloatArray;
  dOutput: FloatArray | null;
  /** (B, T, 3H): the input- and hidden-side pre-activation gradients of every step, filled in. */
  dGi: FloatArray;
  dGh: FloatArray;
  dHidden: FloatArray | undefined;
}

/** The GRU backward time loop with the reset after the product (see gruBackward); returns dh0 (B, H). */
export function gruBackwardWasm(
  wg: WasmGates, B: number, T: number, H: number, times: Int32Array, dhT: FloatArray | null, wHh: PackedB, a: GruBackArrays,
): FloatArray {
  const GH = 3 * H;
  const { gates, hPrev, hn, dOutput, dGi, dGh, dHidden } = a;
  const Tc = chunkSteps(T, B, 3 * GH + 2 * H + (dOutput ? H : 0) + (dHidden ? H : 0));
  // state (zeroed): dh, the step's hidden-side da (B, 3H); a chunk's rows (every row read is
  // written first): gates, h_{t−1}, hn, dOutput, dGi, dGh, dL/dh_t
  const ws = wg.workspace([
    B * H, B * GH,
    B * Tc * GH, B * Tc * H, B * Tc * H, dOutput ? B * Tc * H : 0, B * Tc * GH, B * Tc * GH, dHidden ? B * Tc * H : 0,
  ], 2);
  try {
    const [dh, daStep, gC, hpC, hnC, dOutC, dGiC, dGhC, dHidC] = ws.views as Float32Array[] as [
      Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array,
    ];
    const [dhP, daP, gP, hpP, hnP, dOutP, dGiP, dGhP, dHidP] = ws.ptrs as number[] as [
      number, number, number, number, number, number, number, number, number,
    ];
    if (dhT) dh.set(dhT);
    const ch = new Chunks(times, B, T, Tc, true);
    while (ch.next()) {
      const { s0, s1 } = ch;
      ch.stageIn(gC, gates, GH);
      ch.stageIn(hpC, hPrev, H);
      ch.stageIn(hnC, hn, H);
      if (dOutput) ch.stageIn(dOutC, dOutput, H);
      for (let s = s1 - 1; s >= s0; s--) {
        for (let b = 0; b < B; b++) {
          const k = ch.slot(s, b);
          if (k < 0) {
            daStep.fill(0, b * GH, b * GH + GH);
            continue;
          }
          // dGi, dGh, daStep rows; dh ← dh_t ⊙ z, the direct part of dh_{t−1}
          wg.gruBackward(
            gP + 4 * k * GH, hpP + 4 * k * H, hnP + 4 * k * H, dhP + 4 * b * H, dOutput ? dOutP + 4 * k * H : 0,
            dHidden ? dHidP + 4 * k * H : 0, dGiP + 4 * k * GH, dGhP + 4 * k * GH, daP + 4 * b * GH, H,
          );
        }
        // dh_{t−1} = dh_t ⊙ z + da W_hh (rows past their length: da = 0, dh kept)
        kernels.gemmPacked(false, B, 1, daStep, 0, GH, wHh, 1, dh, 0, H);
      }
      ch.stageOut(dGi, dGiC, GH);
      ch.stageOut(dGh, dGhC, GH);
      if (dHidden) ch.stageOut(dHidden, dHidC, H);
    }
    return dh.slice();
  } finally {
    ws.release();
  }
}
