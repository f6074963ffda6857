import { SeqgradError } from '@seqgrad/autograd';
import { alloc, checkOptional } from './common.js';
import { gruBackward, gruForward } from './gru.js';
import { type LstmSeqGrads, lstmBackward, lstmForward } from './lstm.js';
import { rnnBackward, rnnForward } from './rnn.js';
import type { CellParams, FloatArray, Nonlinearity, SeqDims, SeqGrads, SeqOptions } from './types.js';

export type RecurrentMode = 'rnn' | 'lstm' | 'gru';

export interface GradientFlowOptions extends SeqOptions {
  nonlinearity?: Nonlinearity;
  resetAfter?: boolean;
  /** Upstream gradient of the top layer's output (B, T, S); default none. */
  dOutput?: FloatArray | null;
  /**
   * Upstream gradient of the top layer's final state (B, S). When neither this nor dOutput is
   * given, it is all ones: L = Σ h_T, the many-to-one case.
   */
  dhT?: FloatArray | null;
}

export interface GradientFlow {
  /** hidden[l][t] = ‖dL/dh_t‖ of layer l (0 = bottom), the Frobenius norm over batch and hidden units. */
  hidden: Float64Array[];
  /** LSTM only: cell[l][t] = ‖dL/dc_t‖, the gradient on the memory highway. */
  cell?: Float64Array[];
  /** ‖dL/dh_{−1}‖ (the initial state) per layer. */
  initial: number[];
  /** hidden[top][0] / hidden[top][T−1]: below 1 the gradient vanishes going back in time, above 1 it explodes. */
  ratio: number;
}

/**
 * Gradient-flow diagnostics for a (stacked) recurrent layer: runs the hand forward and
 * backward and returns ‖dL/dh_t‖ for every step t and every layer, so vanishing and
 * exploding gradients can be seen. Layer l > 0 takes layer l−1's output as input.
 *
 * Shapes: x (B, T, I); layers[l] in PyTorch layout (see CellParams); dims.I is layer 0's
 * input size, dims.H (and dims.P for an LSTM with projection) is shared by every layer.
 *
 * @example
 * const flow = gradientFlow('rnn', [p], x, { B: 1, T: 50, I: 4, H: 8 });
 * flow.ratio;        // ‖dL/dh_0‖ / ‖dL/dh_49‖, e.g. 1e-30 for a tanh RNN with small W_hh
 * flow.hidden[0][t]; // ‖dL/dh_t‖
 */
export function gradientFlow(
  mode: RecurrentMode, layers: readonly CellParams[], x: FloatArray, dims: SeqDims, opts: GradientFlowOptions = {},
): GradientFlow {
  const fn = 'gradientFlow';
  if (mode !== 'rnn' && mode !== 'lstm' && mode !== 'gru') throw new SeqgradError(fn, `mode must be 'rnn', 'lstm' or 'gru', got '${String(mode)}'`);
  if (!Array.isArray(layers) || layers.length === 0) throw new SeqgradError(fn, 'layers must hold the parameters of at least one layer');
  const { B, T, H } = dims;
  const S = dims.P || H;
  checkOptional(fn, 'opts.dOutput', opts.dOutput, [B, T, S]);
  checkOptional(fn, 'opts.dhT', opts.dhT, [B, S]);
  const seq = { lengths: opts.lengths, reverse: opts.reverse };
  // forward, bottom to top
  const caches: unknown[] = [];
  let input = x;
  layers.forEach((p, l) => {
    const d: SeqDims = { ...dims, I: l === 0 ? dims.I : S };
    if (mode === 'rnn') {
      const r = rnnForward(p, input, null, d, { ...seq, nonlinearity: opts.nonlinearity });
      caches.push(r.cache);
      input = r.output;
    } else if (mode === 'lstm') {
      const r = lstmForward(p, input, null, null, d, seq);
      caches.push(r.cache);
      input = r.output;
    } else {
      const r = gruForward(p, input, null, d, { ...seq, resetAfter: opts.resetAfter });
      caches.push(r.cache);
      input = r.output;
    }
  });
  // backward, top to bottom
  let dOutput: FloatArray | null = opts.dOutput ?? null;
  let dhT: FloatArray | null = opts.dhT ?? null;
  if (!dOutput && !dhT) dhT = alloc(x, B * S).fill(1);
  const hidden: Float64Array[] = new Array(layers.length);
  const cell: Float64Array[] | undefined = mode === 'lstm' ? new Array(layers.length) : undefined;
  const initial: number[] = new Array(layers.length);
  for (let l = layers.length - 1; l >= 0; l--) {
    const p = layers[l]!;
    const keep = { keepStateGrads: true };
    let g: SeqGrads;
    if (mode === 'rnn') g = rnnBackward(p, caches[l] as never, dOutput, dhT, keep);
    else if (mode === 'lstm') g = lstmBackward(p, caches[l] as never, dOutput, dhT, null, keep);
    else g = gruBackward(p, caches[l] as never, dOutput, dhT, keep);
    hidden[l] = stepNorms(g.dHidden!, B, T, S);
    if (cell) cell[l] = stepNorms((g as LstmSeqGrads).dCell!, B, T, H);
    let s0 = 0;
    for (const v of g.dh0) s0 += v * v;
    initial[l] = Math.sqrt(s0);
    dOutput = g.dx;
    dhT = null;
  }
  const top = hidden[layers.length - 1]!;
  const flow: GradientFlow = { hidden, initial, ratio: top[0]! / top[T - 1]! };
  if (cell) flow.cell = cell;
  return flow;
}

/** norms[t] = ‖a[:, t, :]‖ for a (B, T, K). */
function stepNorms(a: FloatArray, B: number, T: number, K: number): Float64Array {
  const norms = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const o = (b * T + t) * K;
      let s = 0;
      for (let j = 0; j < K; j++) s += a[o + j]! * a[o + j]!;
      norms[t] += s;
    }
  }
  for (let t = 0; t < T; t++) norms[t] = Math.sqrt(norms[t]!);
  return norms;
}
