/** The RNN benchmark's workloads: layer kinds, sizes and their FLOP counts (issue 7). */

export type LayerKind = 'LSTM' | 'GRU' | 'RNN';
export type Mode = 'train' | 'forward';

/** Batch, time, input and hidden sizes. */
export interface Dims {
  B: number;
  T: number;
  I: number;
  H: number;
}

export const SIZES: Record<string, Dims> = {
  S: { B: 32, T: 32, I: 32, H: 64 },
  M: { B: 32, T: 64, I: 128, H: 256 },
  L: { B: 64, T: 128, I: 256, H: 512 },
};

/** A size small enough for the CI smoke run (`--quick`). */
export const QUICK_SIZES: Record<string, Dims> = {
  Q: { B: 4, T: 6, I: 8, H: 16 },
};

/** Gate blocks per layer kind: LSTM i,f,g,o; GRU r,z,n; tanh RNN one. */
export const GATES: Record<LayerKind, number> = { LSTM: 4, GRU: 3, RNN: 1 };

/** Forward ≈ 2·B·T·G·H·(I+H) (the two GEMMs per step); a training step ≈ 3× forward. */
export function flops(layer: LayerKind, d: Dims, mode: Mode): number {
  const forward = 2 * d.B * d.T * GATES[layer] * d.H * (d.I + d.H);
  return mode === 'train' ? 3 * forward : forward;
}

/** Deterministic values in [-0.5, 0.5) (no Math.random: runs are repeatable). */
export function filledArray(len: number, seed: number, scale = 1): Float32Array {
  const a = new Float32Array(len);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32 - 0.5) * scale;
  }
  return a;
}
