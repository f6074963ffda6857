import { type FloatDType, SeqgradError, type Tensor, fmt, reshape, show, zeros } from '@seqgrad/autograd';
import { checkBatch, checkDtype, checkInput, checkPositiveInt, checkStateObject } from './validate.js';
import { Module } from './module.js';

/**
 * The state a cell carries from one step to the next: named tensors, one of which is `h`,
 * the step's output. `{ h }` for RNN and GRU, `{ h, c }` for LSTM; a custom cell may add more.
 */
export type CellState = { readonly h: Tensor } & { readonly [name: string]: Tensor };

/** The state of RNN and GRU cells and layers: `{ h }`. */
export type HiddenState = { h: Tensor };

/** The state of LSTM cells and layers: `{ h, c }` (h is the output, c the cell). */
export type LSTMState = { h: Tensor; c: Tensor };

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
    this.dtype = checkDtype(new.target.name, opts.dtype);
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
    checkBatch(op, x, B);
    this.checkStateSizes(op);
    const s = state ? this.checkState(op, state, unbatched ? null : B) : this.initialState(unbatched ? undefined : B);
    const x2 = unbatched ? reshape(x, [1, this.inputSize]) : x;
    const s2 = unbatched ? mapState(s, (t) => reshape(t, [1, t.shape[0]!])) : s;
    const next = this.checkStepResult(op, this.step(x2, s2), B);
    return unbatched ? mapState(next, (t) => reshape(t, [t.shape[1]!])) : next;
  }

  /** Checks every entry of `state` against stateSizes for batch B (null = unbatched). */
  checkState(op: string, state: S, B: number | null): S {
    checkStateObject(op, state, this.stateShapes(B), this.dtype);
    return state;
  }

  /** The shape of every state entry for batch B (null = unbatched): `{ h: [B, H], c: [B, H] }`. */
  stateShapes(B: number | null): Record<string, number[]> {
    const shapes: Record<string, number[]> = {};
    for (const [k, n] of Object.entries(this.stateSizes) as [string, number][]) shapes[k] = B === null ? [n] : [B, n];
    return shapes;
  }

  /** Checks that `stateSizes` names `h` and gives every entry a positive integer size. */
  checkStateSizes(op: string): void {
    const sizes: unknown = this.stateSizes;
    if (sizes === null || typeof sizes !== 'object') throw new SeqgradError(op, `${this.constructor.name}.stateSizes must be an object like { h: ${this.hiddenSize} }, got ${show(sizes)}`);
    if (!('h' in sizes)) {
      throw new SeqgradError(op, `${this.constructor.name}.stateSizes ${JSON.stringify(sizes)} must include h, the step's output`);
    }
    for (const [k, n] of Object.entries(sizes)) checkPositiveInt(op, `${this.constructor.name}.stateSizes.${k}`, n);
  }

  /**
   * Checks the state a `step` returned against `stateSizes` for batch B: a custom cell that
   * returns H+1 columns, drops or adds a key, or changes dtype fails here, naming the cell,
   * rather than later inside another layer.
   */
  checkStepResult(op: string, next: unknown, B: number): S {
    const keys = Object.keys(this.stateSizes);
    if (next === null || typeof next !== 'object' || Array.isArray(next) || 'shape' in next) {
      throw new SeqgradError(op, `${this.constructor.name}.step must return the next state as an object { ${keys.join(', ')} }, got ${show(next)}`);
    }
    checkStateObject(op, next, this.stateShapes(B), this.dtype, `the state returned by ${this.constructor.name}.step`);
    return next as S;
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
