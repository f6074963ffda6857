import { type FloatDType, SeqgradError, type Tensor, fmt, reshape, zeros } from '@seqgrad/autograd';
import { checkInput, checkPositiveInt } from './basic.js';
import { Module } from './module.js';

/**
 * The state a cell carries from one step to the next: named tensors, one of which is `h`,
 * the step's output. `{ h }` for RNN and GRU, `{ h, c }` for LSTM; a custom cell may add more.
 */
export type CellState = { readonly h: Tensor } & { readonly [name: string]: Tensor };

/**
 * The public interface of a recurrent cell (Flax-like: one signature, (x, state) → state).
 * A new cell declares the size of each state entry and writes `step` for a batch; it then
 * gets validation, unbatched input, zero initial states, `Recurrent`, `Bidirectional`,
 * variable lengths and stacking for free.
 *
 * Shapes in `step`: x (B, inputSize), every state entry (B, stateSizes[name]).
 *
 * @example
 * class MinimalCell extends RecurrentCell<{ h: Tensor }> {
 *   readonly stateSizes = { h: this.hiddenSize };
 *   step(x: Tensor, s: { h: Tensor }) { return { h: tanh(add(x, s.h)) }; }
 * }
 */
export abstract class RecurrentCell<S extends CellState = CellState> extends Module {
  readonly dtype: FloatDType;

  constructor(readonly inputSize: number, readonly hiddenSize: number, opts: { dtype?: FloatDType } = {}) {
    super();
    checkPositiveInt(new.target.name, 'inputSize', inputSize);
    checkPositiveInt(new.target.name, 'hiddenSize', hiddenSize);
    this.dtype = opts.dtype ?? 'float32';
  }

  /** The last-axis size of every state entry, e.g. `{ h: H, c: H }`. */
  abstract readonly stateSizes: { readonly [K in keyof S]: number };

  /** One step on a batch: x (B, I) and state → next state. No validation needed here. */
  abstract step(x: Tensor, state: S): S;

  /**
   * Re-initialises the parameters (a no-op here; cells with parameters override it, e.g.
   * `override resetParameters(generator?: Generator): void`). `Bidirectional` calls it on the
   * copy it makes for the backward direction, so the two directions do not start equal.
   */
  resetParameters(_options?: unknown): void {}

  /** Size of the per-step output (`h`). */
  get outputSize(): number {
    return this.stateSizes.h;
  }

  /** A zero state for a batch of `batchSize`, or unbatched (1-D entries) when omitted. */
  initialState(batchSize?: number): S {
    const s: Record<string, Tensor> = {};
    for (const [k, n] of Object.entries(this.stateSizes) as [string, number][]) {
      s[k] = zeros(batchSize === undefined ? [n] : [batchSize, n], { dtype: this.dtype });
    }
    return s as S;
  }

  /**
   * One step with checks: x (B, I) or unbatched (I); state entries (B, n) or (n), zero
   * when the state is omitted. Returns the next state in the same layout.
   */
  forward(x: Tensor, state?: S): S {
    const op = `${this.constructor.name}.forward`;
    checkInput(op, 'x', x, this.dtype);
    if ((x.ndim !== 1 && x.ndim !== 2) || x.shape[x.ndim - 1] !== this.inputSize) {
      throw new SeqgradError(op, `x${fmt(x.shape)} must be (B, ${this.inputSize}) or unbatched (${this.inputSize})`);
    }
    const unbatched = x.ndim === 1;
    const B = unbatched ? 1 : x.shape[0]!;
    const s = state ? this.checkState(op, state, unbatched ? null : B) : this.initialState(unbatched ? undefined : B);
    const x2 = unbatched ? reshape(x, [1, this.inputSize]) : x;
    const s2 = unbatched ? mapState(s, (t) => reshape(t, [1, t.shape[0]!])) : s;
    const next = this.step(x2, s2);
    return unbatched ? mapState(next, (t) => reshape(t, [t.shape[1]!])) : next;
  }

  /** Checks every entry of `state` against stateSizes for batch B (null = unbatched). */
  checkState(op: string, state: S, B: number | null): S {
    if (state === null || typeof state !== 'object') throw new SeqgradError(op, `state must be an object like { h }, got ${String(state)}`);
    for (const [k, n] of Object.entries(this.stateSizes) as [string, number][]) {
      const t = (state as Record<string, Tensor>)[k];
      const want = B === null ? [n] : [B, n];
      if (t === undefined) throw new SeqgradError(op, `state.${k} is missing (expected shape ${fmt(want)})`);
      checkInput(op, `state.${k}`, t, this.dtype);
      if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
        throw new SeqgradError(op, `state.${k}${fmt(t.shape)} must have shape ${fmt(want)}`);
      }
    }
    return state;
  }

  override extraRepr(): string {
    return `${this.inputSize}, ${this.hiddenSize}`;
  }
}

/** Applies `fn` to every tensor of a state, keeping its keys. */
export function mapState<S extends CellState>(s: S, fn: (t: Tensor, key: string) => Tensor): S {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(s)) out[k] = fn(v, k);
  return out as S;
}
