import type { kernels } from '@seqgrad/autograd';

/**
 * Shared types of the hand-derived BPTT functions (raw typed arrays, PyTorch layout).
 *
 * Shapes in comments use B (batch), T (time), I (input), H (hidden), P (LSTM projection),
 * G (gates per cell: RNN 1, LSTM 4, GRU 3). Every array is flat and row-major.
 */
export type FloatArray = kernels.FloatArray;

/**
 * The parameters of one recurrent layer and direction, in PyTorch's layout:
 * weightIh (G·H, I), weightHh (G·H, H) — or (G·H, P) when the LSTM has a projection —,
 * biasIh and biasHh (G·H) or null, weightHr (P, H) for the LSTM projection.
 * Gate blocks are stacked by rows: LSTM i, f, g, o; GRU r, z, n.
 */
export interface CellParams {
  weightIh: FloatArray;
  weightHh: FloatArray;
  biasIh: FloatArray | null;
  biasHh: FloatArray | null;
  /** LSTM projection (P, H): h = (o ⊙ tanh c) W_hrᵀ (PyTorch `proj_size`). */
  weightHr?: FloatArray | null;
}

/** Sizes of a sequence call. `P` is the LSTM projection size: then h has size P. */
export interface SeqDims {
  B: number;
  T: number;
  I: number;
  H: number;
  P?: number;
}

/** Sizes of a single-step (cell) call: x (B, I), states (B, H) (h is (B, P) with a projection). */
export interface CellDims {
  B: number;
  I: number;
  H: number;
  P?: number;
}

export interface SeqOptions {
  /**
   * Valid length of each sequence of the batch (1..T). Steps t ≥ len keep the state and
   * produce output 0, as PyTorch's packed sequences do; hT is the state after step len−1.
   */
  lengths?: Int32Array;
  /** Scan t = len−1 … 0 within each sequence's valid length (the backward direction of a bidirectional layer). */
  reverse?: boolean;
}

export type Nonlinearity = 'tanh' | 'relu';

export interface RnnOptions extends SeqOptions {
  /** Default 'tanh'. */
  nonlinearity?: Nonlinearity;
}

export interface GruOptions extends SeqOptions {
  /**
   * true (default, PyTorch and cuDNN): n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn)).
   * false (Cho et al. 2014 v3): n = tanh(x W_inᵀ + b_in + (r ⊙ h) W_hnᵀ + b_hn).
   */
  resetAfter?: boolean;
}

/** Options of every sequence backward. */
export interface BackwardOptions {
  /**
   * Also return `dHidden` (B, T, H or P): the total gradient dL/dh_t reaching every step's
   * hidden state (upstream output gradient plus what flows back from step t+1). Zero at
   * padded steps (the LSTM also returns `dCell`, dL/dc_t). Used by the gradient-flow diagnostics.
   */
  keepStateGrads?: boolean;
}

/** `lstmBackward`'s options. */
export interface LstmBackwardOptions extends BackwardOptions {
  /**
   * (B, T, H): upstream gradient of every step's cell state c_t, for when the cell states
   * themselves are outputs (`lstmCells`, the layers' `returnAllStates`). Entries at padded
   * steps are ignored.
   */
  dCells?: FloatArray | null;
}

/** What every sequence backward returns (gradients have the layout of what they differentiate). */
export interface SeqGrads {
  /** (B, T, I). */
  dx: FloatArray;
  /** (B, H), or (B, P) with a projection. */
  dh0: FloatArray;
  /** (G·H, I). */
  dWeightIh: FloatArray;
  /** (G·H, H) or (G·H, P). */
  dWeightHh: FloatArray;
  /** (G·H), null when the layer has no bias. */
  dBiasIh: FloatArray | null;
  dBiasHh: FloatArray | null;
  /**
   * (B, T, G·H): gradient of the loss with respect to the gate pre-activations on the input
   * side, x W_ihᵀ + b_ih (for the GRU's n block with resetAfter, the whole n pre-activation).
   * Zero at padded steps. What checkBptt compares gate by gate.
   */
  dGates: FloatArray;
  /** (B, T, H or P) when `keepStateGrads` was set: dL/dh_t. */
  dHidden?: FloatArray;
}
