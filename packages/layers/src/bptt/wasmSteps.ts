/**
 * The time loops of the fused layers with their gate math in WebAssembly SIMD (float32, sizes a
 * multiple of 4: `kernels.wasmGates()`). The state (h, c, dh, dc), the recurrent products and the
 * per-step gate rows live in one workspace in WebAssembly memory for the whole sequence: the
 * packed GEMM reads h and writes h W_hhᵀ there, the gate kernel works there, and only what the
 * cache keeps (gate activations, c_{t−1}, tanh c_t, h_{t−1}, the outputs) is copied out, a row per
 * batch element and step. The workspace is released in `finally`. The TypeScript loops in
 * lstm.ts, gru.ts and rnn.ts compute the same up to float32 rounding of the activations (a few ulp).
 */
import { kernels } from '@seqgrad/autograd';
import { forEachActive } from './common.js';
import type { FloatArray } from './types.js';

type WasmGates = NonNullable<ReturnType<typeof kernels.wasmGates>>;
type PackedB = ReturnType<typeof kernels.packB>;

/** The gate kernels when a float32 sequence of these sizes can use them, else null. */
export function gatesFor(x: FloatArray, ...sizes: number[]): WasmGates | null {
  if (!(x instanceof Float32Array)) return null;
  const g = kernels.wasmGates();
  return g !== null && g.fits(...sizes) ? g : null;
}

/** What the LSTM forward loop fills in (the cache rows) besides its returned final state. */
export interface LstmStepArrays {
  gates: FloatArray;
  cPrev: FloatArray;
  tanhC: FloatArray;
  hPrev: FloatArray;
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
  // h, h W_hhᵀ, c, one gate row, c_{t−1}, tanh c_t, o ⊙ tanh c_t (m with a projection), m W_hrᵀ
  const ws = wg.workspace([B * S, B * GH, B * H, GH, H, H, B * H, proj ? B * S : 0]);
  try {
    const [h, hh, c, g, cp, tc, hout, hNew] = ws.views as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
    const [hP, hhP, cP, gP, cpP, tcP, houtP] = ws.ptrs as [number, number, number, number, number, number, number];
    if (h0) h.set(h0);
    if (c0) c.set(c0);
    for (let s = 0; s < T; s++) {
      // hh (B, 4H) = h_{t−1} W_hhᵀ, straight from and into the workspace
      kernels.gemmPacked(false, B, 1, h, 0, S, wHh, 0, hh, 0, GH);
      forEachActive(times, s, B, T, (b, bt) => {
        hPrev.set(h.subarray(b * S, b * S + S), bt * S);
        g.set(gates.subarray(bt * GH, bt * GH + GH));
        // without a projection the kernel writes h_t over h_{t−1} (already copied out)
        wg.lstmForward(gP, hhP + 16 * b * H, cP + 4 * b * H, cpP, tcP, proj ? houtP + 4 * b * H : hP + 4 * b * S, H);
        gates.set(g, bt * GH);
        cPrev.set(cp, bt * H);
        tanhC.set(tc, bt * H);
        if (proj) m!.set(hout.subarray(b * H, b * H + H), bt * H);
        else output.set(h.subarray(b * S, b * S + S), bt * S);
      });
      if (proj) {
        // h_t (B, P) = m_t W_hrᵀ
        kernels.gemmPacked(false, B, 1, hout, 0, H, wHr, 0, hNew, 0, S);
        forEachActive(times, s, B, T, (b, bt) => {
          const row = hNew.subarray(b * S, b * S + S);
          h.set(row, b * S);
          output.set(row, bt * S);
        });
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
  // dh, dc, the step's da (B, 4H), da W_hh, one gate row, tanh c_t, c_{t−1}, dm, dL/dc_t in and out
  const ws = wg.workspace([B * S, B * H, B * GH, B * S, GH, H, H, proj ? B * H : 0, H, H]);
  try {
    const [dh, dc, daStep, dhRec, g, tc, cp, dm, dcIn, dcOut] = ws.views as Float32Array[] as [
      Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array,
    ];
    const [dhP, dcP, daP, , gP, tcP, cpP, dmP, dcInP, dcOutP] = ws.ptrs as number[] as [number, number, number, number, number, number, number, number, number, number];
    if (dhT) dh.set(dhT);
    if (dcT) dc.set(dcT);
    for (let s = T - 1; s >= 0; s--) {
      forEachActive(times, s, B, T, (b, bt) => {
        const o = bt * S;
        if (dOutput) for (let j = 0; j < S; j++) dh[b * S + j] += dOutput[o + j]!;
        if (dHidden) dHidden.set(dh.subarray(b * S, b * S + S), o);
      });
      // dm (B, H) = dh W_hr
      if (proj) kernels.gemmPacked(false, B, 1, dh, 0, S, wHr, 0, dm, 0, H);
      const dmBase = proj ? dmP : dhP;
      for (let b = 0; b < B; b++) {
        const t = times[s * B + b]!;
        if (t < 0) {
          daStep.fill(0, b * GH, b * GH + GH);
          continue;
        }
        const bt = b * T + t;
        g.set(gates.subarray(bt * GH, bt * GH + GH));
        tc.set(tanhC.subarray(bt * H, bt * H + H));
        cp.set(cPrev.subarray(bt * H, bt * H + H));
        if (dCells) dcIn.set(dCells.subarray(bt * H, bt * H + H));
        wg.lstmBackward(gP, tcP, cpP, dmBase + 4 * b * H, dcP + 4 * b * H, dCells ? dcInP : 0, dCell ? dcOutP : 0, daP + 16 * b * H, H);
        da.set(daStep.subarray(b * GH, b * GH + GH), bt * GH);
        if (dCell) dCell.set(dcOut, bt * H);
      }
      // dh_{t−1} = da_t W_hh
      kernels.gemmPacked(false, B, 1, daStep, 0, GH, wHh, 0, dhRec, 0, S);
      forEachActive(times, s, B, T, (b) => {
        dh.set(dhRec.subarray(b * S, b * S + S), b * S);
      });
    }
    return { dh0: dh.slice(), dc0: dc.slice() };
  } finally {
    ws.release();
  }
}

/** The tanh RNN forward time loop (see rnnForward): hs rows become h_t; returns hT (B, H). */
export function rnnForwardWasm(
  wg: WasmGates, B: number, T: number, H: number, times: Int32Array, h0: FloatArray | null, wHh: PackedB,
  a: { hs: FloatArray; hPrev: FloatArray; output: FloatArray },
): FloatArray {
  const { hs, hPrev, output } = a;
  // h, h W_hhᵀ, one row of pre-activations
  const ws = wg.workspace([B * H, B * H, H]);
  try {
    const [h, hh, row] = ws.views as [Float32Array, Float32Array, Float32Array];
    const [hP, hhP, rowP] = ws.ptrs as [number, number, number];
    if (h0) h.set(h0);
    for (let s = 0; s < T; s++) {
      kernels.gemmPacked(false, B, 1, h, 0, H, wHh, 0, hh, 0, H);
      forEachActive(times, s, B, T, (b, bt) => {
        const o = bt * H;
        hPrev.set(h.subarray(b * H, b * H + H), o);
        row.set(hs.subarray(o, o + H));
        wg.rnnTanhForward(rowP, hhP + 4 * b * H, hP + 4 * b * H, H);
        hs.set(row, o);
        output.set(row, o);
      });
    }
    return h.slice();
  } finally {
    ws.release();
  }
}

/** The GRU forward time loop with the reset after the product (see gruForward); returns hT (B, H). */
export function gruForwardWasm(
  wg: WasmGates, B: number, T: number, H: number, times: Int32Array, h0: FloatArray | null, wHh: PackedB, bhh: FloatArray | null,
  a: { gates: FloatArray; hPrev: FloatArray; hn: FloatArray; output: FloatArray },
): FloatArray {
  const GH = 3 * H;
  const { gates, hPrev, hn, output } = a;
  // h, h W_hhᵀ (B, 3H), one gate row, b_hn, the step's h W_hnᵀ + b_hn
  const ws = wg.workspace([B * H, B * GH, GH, H, H]);
  try {
    const [h, hh, g, bhn, hnRow] = ws.views as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
    const [hP, hhP, gP, bhnP, hnP] = ws.ptrs as [number, number, number, number, number];
    if (h0) h.set(h0);
    if (bhh) bhn.set(bhh.subarray(2 * H, 3 * H));
    for (let s = 0; s < T; s++) {
      kernels.gemmPacked(false, B, 1, h, 0, H, wHh, 0, hh, 0, GH);
      forEachActive(times, s, B, T, (b, bt) => {
        hPrev.set(h.subarray(b * H, b * H + H), bt * H);
        g.set(gates.subarray(bt * GH, bt * GH + GH));
        wg.gruForward(gP, hhP + 12 * b * H, bhh ? bhnP : 0, hP + 4 * b * H, hnP, H);
        gates.set(g, bt * GH);
        hn.set(hnRow, bt * H);
        output.set(h.subarray(b * H, b * H + H), bt * H);
      });
    }
    return h.slice();
  } finally {
    ws.release();
  }
}
