import { SeqgradError, Tensor, checkOptions, concat, fmt, narrow, noGrad, show } from '@seqgrad/autograd';
import { Module } from './module.js';
import type { SequenceLayer } from './recurrent.js';
import { RNNBase } from './rnn.js';

export interface TruncatedBpttOptions {
  /** Steps between two backward passes (the chunk length). */
  k1: number;
  /** Steps each backward pass reaches back (default k1). */
  k2?: number;
  /** Initial state, in the layer's own format (default: zeros). */
  state?: unknown;
  /**
   * Called once per chunk with the chunk's outputs (time axis as the layer's output) and
   * its time range; returns the loss to backpropagate, or null to skip the backward.
   */
  loss: (output: Tensor, chunk: { start: number; end: number }) => Tensor | null | undefined;
  /** Called after each backward, e.g. `() => { opt.step(); opt.zeroGrad(); }`. */
  afterBackward?: (chunk: { start: number; end: number }) => void;
}

/** Throws unless `layer` is a sequence layer (a module with inputSize, outputSize and forward). */
function checkSequenceLayer(op: string, layer: unknown): void {
  const l = layer as Partial<{ forward: unknown; inputSize: unknown; outputSize: unknown }>;
  if (!(layer instanceof Module) || typeof l.forward !== 'function' || typeof l.inputSize !== 'number' || typeof l.outputSize !== 'number') {
    throw new SeqgradError(op, `layer must be a sequence layer (RNN, LSTM, GRU, Recurrent, Bidirectional, Stacked), got ${show(layer)}`);
  }
}

/** Detaches every tensor of a (possibly nested) state. */
export function detachState<S>(s: S): S {
  if (s instanceof Tensor) return s.detach() as S;
  if (Array.isArray(s)) return s.map(detachState) as S;
  if (s && typeof s === 'object') return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, detachState(v)])) as S;
  return s;
}

/**
 * Truncated backpropagation through time, TBPTT(k1, k2) (Williams & Peng 1990; Sutskever
 * 2013): the sequence is run in chunks of k1 steps; after each chunk the loss on its outputs
 * is backpropagated k2 steps back, and the state carried into the next chunk is detached.
 * With k2 > k1 the window's first k2 − k1 steps are re-run from a stored detached state;
 * with k2 < k1 the chunk's first k1 − k2 steps run without recording.
 *
 * Shapes: x (B, T, I) (or the layer's own layout); returns the final detached state and the
 * loss of every chunk.
 *
 * @example
 * const lstm = new LSTM(3, 8);
 * const { losses } = truncatedBptt(lstm, randn([2, 100, 3]), {
 *   k1: 20, loss: (out) => out.square().mean(), afterBackward: () => lstm.zeroGrad(),
 * });
 */
export function truncatedBptt(layer: SequenceLayer, x: Tensor, opts: TruncatedBpttOptions): { state: unknown; losses: number[] } {
  const op = 'truncatedBptt';
  checkSequenceLayer(op, layer);
  if (opts === null || typeof opts !== 'object') throw new SeqgradError(op, `opts must be { k1, loss, ... }, got ${show(opts)}`);
  checkOptions(op, opts, ['k1', 'k2', 'state', 'loss', 'afterBackward']);
  const { k1 } = opts;
  const k2 = opts.k2 ?? k1;
  for (const [name, v] of [['k1', k1], ['k2', k2]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new SeqgradError(op, `${name} must be a positive integer, got ${v}`);
  }
  if (!(x instanceof Tensor) || (x.ndim !== 2 && x.ndim !== 3)) {
    throw new SeqgradError(op, `x must be a (B, T, I) or (T, I) tensor, got ${x instanceof Tensor ? fmt(x.shape) : typeof x}`);
  }
  if (typeof opts.loss !== 'function') throw new SeqgradError(op, 'opts.loss must be a function (output, chunk) => loss');
  const axis = x.ndim === 2 || (layer instanceof RNNBase && !layer.batchFirst) ? 0 : 1;
  const T = x.shape[axis]!;
  const boundary = new Map<number, unknown>([[0, opts.state === undefined ? undefined : detachState(opts.state)]]);
  const losses: number[] = [];
  let state: unknown = boundary.get(0);
  for (let start = 0; start < T; start += k1) {
    const end = Math.min(start + k1, T);
    // The differentiable window: k2 − k1 steps before the chunk, or its last k2 steps.
    const windowStart = k2 >= k1 ? Math.max(0, start - (k2 - k1)) : Math.max(start, end - k2);
    // The detached state at windowStart, from the nearest stored chunk boundary before it.
    const from = Math.floor(windowStart / k1) * k1;
    let s = boundary.get(from);
    let prefix: Tensor | null = null;
    if (from < windowStart) {
      const r = noGrad(() => layer.forward(narrow(x, axis, from, windowStart - from), s));
      s = detachState(r.state);
      if (windowStart > start) prefix = narrow(r.output, axis, start - from, windowStart - start);
    }
    const r = layer.forward(narrow(x, axis, windowStart, end - windowStart), s);
    let output = windowStart < start ? narrow(r.output, axis, start - windowStart, end - start) : r.output;
    if (prefix) output = concat([prefix, output], axis);
    const loss: unknown = opts.loss(output, { start, end });
    if (loss !== null && loss !== undefined) {
      if (!(loss instanceof Tensor)) {
        throw new SeqgradError(op, `loss returned ${show(loss)} for steps [${start}, ${end}); it must return a one-element Tensor (or null to skip)`);
      }
      if (loss.size !== 1) {
        throw new SeqgradError(op, `loss returned a tensor of shape ${fmt(loss.shape)} for steps [${start}, ${end}) (output${fmt(output.shape)}); it must be one element, e.g. .mean()`);
      }
      if (!loss.requiresGrad) {
        throw new SeqgradError(op, `loss for steps [${start}, ${end}) does not require grad: it must be computed from the output it receives`);
      }
      losses.push(loss.item());
      loss.backward();
      opts.afterBackward?.({ start, end });
    }
    state = detachState(r.state);
    boundary.set(end, state);
    for (const k of boundary.keys()) if (k < end - k2 - k1) boundary.delete(k);
  }
  return { state, losses };
}
