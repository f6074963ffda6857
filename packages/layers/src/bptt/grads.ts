/**
 * What the backward passes of all three fused cells (RNN, LSTM, GRU) share: the GEMMs over all
 * steps after the time loop, and the result type of the single-step backward.
 */
import { kernels } from '@seqgrad/autograd';
import { alloc, columnSums } from './common.js';
import { give, take } from './pool.js';
import type { CellParams, FloatArray, SeqDims, SeqGrads } from './types.js';

/**
 * The GEMMs after the time loop, over all steps at once: dx = dGi W_ih, dW_ih = dGiᵀ x,
 * dW_hh = dGhᵀ h_prev, biases = column sums. dGi/dGh are the pre-activation gradients on
 * the input and hidden side (equal except for the GRU's n block).
 */
export function finishGrads(
  p: CellParams, x: FloatArray, hPrev: FloatArray, dGi: FloatArray, dGh: FloatArray,
  dims: SeqDims, G: number, S: number, dh0: FloatArray, dHidden: FloatArray | undefined,
): SeqGrads {
  const { B, T, I, H } = dims;
  const N = B * T;
  const GH = G * H;
  const dx = alloc(x, N * I);
  kernels.gemm(false, false, N, I, GH, 1, dGi, 0, GH, p.weightIh, 0, I, 0, dx, 0, I);
  // The weight gradients as their transposes, dW_ihᵀ = xᵀ dGi and dW_hhᵀ = h_prevᵀ dGh, then
  // transposed: the kernel then packs the narrow x and h_prev transposed instead of the wide
  // gate gradients (an element-by-element gather), 5% of the LSTM step at S.
  // The two transposes are temporaries: from the pool and back (the GEMMs overwrite them, beta = 0).
  const dWeightIhT = take(x, I * GH);
  kernels.gemm(true, false, I, GH, N, 1, x, 0, I, dGi, 0, GH, 0, dWeightIhT, 0, GH);
  const dWeightHhT = take(x, S * GH);
  kernels.gemm(true, false, S, GH, N, 1, hPrev, 0, S, dGh, 0, GH, 0, dWeightHhT, 0, GH);
  const dWeightIh = alloc(x, GH * I);
  kernels.permuteCopy(dWeightIh, dWeightIhT, [I, GH], [1, 0]);
  const dWeightHh = alloc(x, GH * S);
  kernels.permuteCopy(dWeightHh, dWeightHhT, [S, GH], [1, 0]);
  give(dWeightIhT, dWeightHhT);
  const hasBias = p.biasIh !== null && p.biasIh !== undefined;
  const dBiasIh = hasBias ? columnSums(dGi, N, GH) : null;
  // db_hh = db_ih wherever the two pre-activation gradients are one array (all but the GRU).
  const dBiasHh = dBiasIh && (dGh === dGi ? dBiasIh.slice() : columnSums(dGh, N, GH));
  const out: SeqGrads = { dx, dh0, dWeightIh, dWeightHh, dBiasIh, dBiasHh, dGates: dGi };
  if (dHidden) out.dHidden = dHidden;
  return out;
}

/** Results of the single-step backward of every cell. */
export interface CellGrads {
  /** (B, I). */
  dx: FloatArray;
  /** (B, H) (or (B, P) with an LSTM projection): gradient for the state that entered the step. */
  dhPrev: FloatArray;
  dWeightIh: FloatArray;
  dWeightHh: FloatArray;
  dBiasIh: FloatArray | null;
  dBiasHh: FloatArray | null;
  /** (B, G·H): gradients of the gate pre-activations (see SeqGrads.dGates). */
  dGates: FloatArray;
}
