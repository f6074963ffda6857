import {
  type ScanOptions, type ScanResult, type ScanState, type ScanStep, SeqgradError, Tensor, fmt, grad, isTensor, jvp, noGrad, reshape, scan, zeros,
} from '@seqgrad/autograd';
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

export interface HiddenGradients {
  /** dL/dh_t at every step, (B, T, H): the total derivative, through every later step. */
  grads: Tensor;
  /** norms[t] = ‖dL/dh_t‖, the Frobenius norm over batch and hidden units, (T). */
  norms: Float64Array;
  /** The loss the gradients are of. */
  loss: Tensor;
}

/**
 * dL/dh_t for every step t of any recurrent step run by `scan` (a built-in cell, a custom one,
 * a plain function), and its norm per step: how much of the loss's gradient reaches each step,
 * the direct part and all that flows back through h_{t+1}, …. scan adds a zero probe p_t to
 * every new h (`probe` option), so dL/dp_t = dL/dh_t; the values are unchanged, and the step
 * runs compiled when it traces, op by op otherwise, with every scan option (lengths, reverse,
 * dropout, checkpoint). `loss` maps scan's result to a scalar.
 *
 * Shapes: x (B, T, I); init entries (B, n); grads (B, T, H); norms (T).
 *
 * @example
 * const cell = new LSTMCell(3, 8);
 * const { norms } = hiddenGradients(cell, randn([4, 50, 3]), cell.initialState(4), (r) => sum(r.state.h));
 * norms[0] / norms[49]; // below 1: the gradient fades going back in time
 */
export function hiddenGradients<S extends ScanState>(
  step: ScanStep<S>, x: Tensor, init: S, loss: (result: ScanResult<S>) => Tensor, opts: ScanOptions = {},
): HiddenGradients {
  const fn = 'hiddenGradients';
  if (!isTensor(x) || x.ndim !== 3) throw new SeqgradError(fn, `x must be a (B, T, I) tensor, got ${isTensor(x) ? fmt(x.shape) : typeof x}`);
  if (init === null || typeof init !== 'object' || !isTensor(init.h)) throw new SeqgradError(fn, 'init must be a state object with at least an h tensor, e.g. { h }');
  if (typeof loss !== 'function') throw new SeqgradError(fn, 'loss must be a function (scan result) => scalar tensor');
  if (opts.probe !== undefined) throw new SeqgradError(fn, 'opts.probe is set by hiddenGradients itself; leave it out');
  const [B, T] = x.shape as [number, number];
  const H = init.h.shape[1]!;
  const dtype = x.dtype === 'float64' ? 'float64' : 'float32';
  const probe = zeros([B, T, H], { dtype, requiresGrad: true });
  const L = loss(scan(step, x, init, { ...opts, probe }));
  if (!isTensor(L) || L.size !== 1) throw new SeqgradError(fn, `loss must return a scalar tensor, got ${isTensor(L) ? fmt(L.shape) : typeof L}`);
  const [g] = L.requiresGrad ? grad([L], [probe], { allowUnused: true }) : [null];
  const grads = g ?? zeros([B, T, H], { dtype });
  return { grads, norms: stepNorms(grads.data as FloatArray, B, T, H), loss: L };
}

export interface StateJacobian {
  /** J = ∂h_T/∂h_0, (H, H) in float64: J[i][j] = ∂h_T[i] / ∂h_0[j]. */
  jacobian: Tensor;
  /**
   * The singular values of J, largest first. Those far below 1 are directions of h_0 whose
   * influence on h_T vanishes over the T steps; those above 1 are directions that explode.
   */
  singularValues: Float64Array;
  /** h_T itself, (H). */
  final: Tensor;
}

/**
 * The Jacobian ∂h_T/∂h_0 of a recurrent step applied over a sequence, and its singular
 * values: how a perturbation of the initial state reaches the last one. Computed in forward
 * mode (one `jvp` per unit of h_0, each carrying the tangent e_j through the T steps), so
 * `step` can be any function written with seqgrad's ops: a built-in cell, a custom one.
 *
 * Shapes: x (T, I) one sequence, h0 (H); `step(x_t, h)` maps x_t (I) and h (H) to the next
 * h (H). For a linear RNN h' = W h + U x, J = W^T; the product of the step Jacobians in
 * general, with singular values ∏ of the contraction or expansion along each direction.
 *
 * @example
 * const cell = new RNNCell(4, 8, { dtype: 'float64' });
 * const { singularValues } = stateJacobian((xt, h) => cell.forward(xt, { h }).h, x, h0);
 * singularValues[0]; // the largest gain from h_0 to h_T
 */
export function stateJacobian(step: (xt: Tensor, h: Tensor) => Tensor, x: Tensor, h0: Tensor): StateJacobian {
  const fn = 'stateJacobian';
  if (typeof step !== 'function') throw new SeqgradError(fn, 'step must be a function (x_t, h) => next h');
  if (!isTensor(x) || x.ndim !== 2) throw new SeqgradError(fn, `x must be a (T, I) tensor, got ${isTensor(x) ? fmt(x.shape) : typeof x}`);
  if (!isTensor(h0) || h0.ndim !== 1) throw new SeqgradError(fn, `h0 must be a (H) tensor, got ${isTensor(h0) ? fmt(h0.shape) : typeof h0}`);
  if (x.dtype !== h0.dtype) throw new SeqgradError(fn, `x${fmt(x.shape)} is ${x.dtype} but h0${fmt(h0.shape)} is ${h0.dtype}; give both the same dtype`);
  const [T, I] = x.shape as [number, number];
  const H = h0.shape[0]!;
  // The user's step on unbatched (I) and (H), run by scan as a batch of one; op by op, so that
  // forward mode (jvp) sees the primitives.
  const batched = (xt: Tensor, s: { h: Tensor }): { h: Tensor } => {
    const next = step(reshape(xt, [I]), reshape(s.h, [H]));
    if (!isTensor(next) || next.ndim !== 1 || next.shape[0] !== H) {
      throw new SeqgradError(fn, `step must return the next h of shape ${fmt([H])}, got ${isTensor(next) ? fmt(next.shape) : typeof next}`);
    }
    return { h: reshape(next, [1, H]) };
  };
  const xs = reshape(x, [1, T, I]);
  const run = (h: Tensor): Tensor => reshape(scan(batched, xs, { h: reshape(h, [1, H]) }, { compile: false }).state.h, [H]);
  const J = new Float64Array(H * H);
  let final: Tensor | null = null;
  noGrad(() => {
    for (let j = 0; j < H; j++) {
      const e = new Tensor(new (h0.data.constructor as Float64ArrayConstructor)(H), [H]);
      e.data[j] = 1;
      const [hT, column] = jvp(run, [h0], [e]);
      final ??= hT;
      for (let i = 0; i < H; i++) J[i * H + j] = column.data[i]!;
    }
  });
  return { jacobian: new Tensor(J, [H, H]), singularValues: singularValues(J, H), final: final ?? run(h0) };
}

/**
 * The singular values of the n×n row-major matrix `a`, largest first: the square roots of the
 * eigenvalues of aᵀa, found by cyclic Jacobi rotations (exact to rounding for the small
 * hidden sizes this tool is for).
 */
function singularValues(a: Float64Array, n: number): Float64Array {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[k * n + i]! * a[k * n + j]!;
      m[i * n + j] = s;
    }
  }
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q]! * m[p * n + q]!;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q]!;
        if (apq === 0) continue;
        const theta = (m[q * n + q]! - m[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k * n + p]!;
          const mkq = m[k * n + q]!;
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p * n + k]!;
          const mqk = m[q * n + k]!;
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
      }
    }
  }
  const values = Float64Array.from({ length: n }, (_, i) => Math.sqrt(Math.max(0, m[i * n + i]!)));
  return values.sort().reverse();
}
