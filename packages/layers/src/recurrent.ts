import {
  type FloatDType, type Generator, type ScanExplanation, SeqgradError, Tensor, add, concat, dropout, explainScan, fmt, mul, reshape, scan, show,
} from '@seqgrad/autograd';
import { checkBatch, checkBoolean, checkInput, checkNumber, checkOptions, checkRate } from './validate.js';
import { type CellState, RecurrentCell, mapState } from './cell.js';
import { Module, cloneModule } from './module.js';

/** Sequence lengths: one per batch element, each in [1, T]. */
export type Lengths = Int32Array | readonly number[] | Tensor;

export interface SequenceOptions {
  /**
   * Valid length of each sequence, 1..T (PyTorch's packed-sequence semantics): outputs at
   * t ≥ length are zero and the final state is the one at the last valid step; the reverse
   * direction starts at step length − 1.
   */
  lengths?: Lengths;
}

/**
 * Validates `lengths` against batch B and time T. Returns them as an Int32Array, or null
 * when every sequence is full length (no masking needed).
 */
export function normalizeLengths(op: string, lengths: Lengths | undefined, B: number, T: number): Int32Array | null {
  if (lengths === undefined || lengths === null) return null;
  let src: ArrayLike<number>;
  if (lengths instanceof Tensor) {
    if (lengths.ndim !== 1) throw new SeqgradError(op, `lengths must be 1-D (B=${B}), got shape ${fmt(lengths.shape)}`);
    src = lengths.data;
  } else if (Array.isArray(lengths) || lengths instanceof Int32Array) src = lengths as ArrayLike<number>;
  else throw new SeqgradError(op, `lengths must be an Int32Array, an array of integers or a 1-D Tensor`);
  if (src.length !== B) throw new SeqgradError(op, `lengths has ${src.length} entries but the batch has B=${B}`);
  const out = new Int32Array(B);
  let full = true;
  for (let b = 0; b < B; b++) {
    const v = src[b]!;
    if (!Number.isInteger(v) || v < 1 || v > T) {
      throw new SeqgradError(op, `lengths[${b}]=${v} is out of range: lengths must be integers in [1, T=${T}]`);
    }
    out[b] = v;
    if (v !== T) full = false;
  }
  return full ? null : out;
}

/**
 * What every sequence layer returns (`Recurrent`, `Bidirectional`, `Stacked`, `RNN`, `LSTM`,
 * `GRU`): the output sequence and the final state, in the form the same layer accepts back as
 * its initial state.
 *
 * @example
 * const lstm = new LSTM(3, 8);
 * const { output, state } = lstm.forward(randn([2, 5, 3])); // state.h, state.c: [1, 2, 8]
 * lstm.forward(randn([2, 5, 3]), state);                     // continues from there
 */
export interface SequenceResult<S> {
  /** (B, T, H) (or (T, H) unbatched); the final h instead when returnSequences is false. */
  output: Tensor;
  /** The final state: `{ h }`, `{ h, c }`, a cell's own entries, `{ forward, backward }` or one per layer. */
  state: S;
  /** Every step of further state entries, present only when asked for (LSTM's `returnAllStates`: `{ c }`). */
  sequences?: Readonly<Record<string, Tensor>>;
}

/** A layer that maps a sequence and a state to a sequence and a state (stackable). */
export interface SequenceLayer<S = unknown> extends Module {
  readonly inputSize: number;
  readonly outputSize: number;
  forward(x: Tensor, state?: S, opts?: SequenceOptions): SequenceResult<S>;
}

/**
 * Scans any cell over time: x (B, T, I) (or unbatched (T, I)) → output (B, T, H) and the
 * final state. Works with every `RecurrentCell`, built-in or user-written, whose gradients
 * come from the engine. It runs `scan` from @seqgrad/autograd: the cell's step is compiled
 * when it can be traced (`explain` says whether it was, and why not), op by op otherwise.
 *
 * @example
 * const rnn = new Recurrent(new GRUCell(3, 8), { reverse: true });
 * const { output, state } = rnn.forward(randn([2, 5, 3]), undefined, { lengths: [5, 3] });
 * output.shape; // [2, 5, 8]; state.h: [2, 8]
 */
export class Recurrent<S extends CellState = CellState> extends Module implements SequenceLayer<S> {
  readonly reverse: boolean;
  readonly returnSequences: boolean;
  /** Run the cell through scan's compiled plan when it can be traced (default true); false runs it op by op. */
  compile: boolean;
  /** Variational dropout on the inputs, one mask per sequence (Keras's `dropout`); training only. */
  readonly inputDropout: number;
  /** Variational dropout on the recurrent h, one mask per sequence (Keras's `recurrent_dropout`); training only. */
  readonly recurrentDropout: number;
  /** Zoneout rate for every state entry, or per entry; in eval mode the expectation is used. */
  readonly zoneout: number | Readonly<Record<string, number>>;
  /** Where the dropout and zoneout masks come from (default the global generator). */
  readonly generator: Generator | undefined;
  /** Memory-light BPTT: keep the state every k steps (true: every ⌈√T⌉) and recompute the rest in backward. */
  checkpoint: number | boolean;

  constructor(readonly cell: RecurrentCell<S>, opts: RecurrentOptions = {}) {
    super();
    if (!(cell instanceof RecurrentCell)) throw new SeqgradError('Recurrent', `cell must be a RecurrentCell, got ${show(cell)}`);
    checkOptions('Recurrent', opts, ['reverse', 'returnSequences', 'compile', 'inputDropout', 'recurrentDropout', 'zoneout', 'generator', 'checkpoint']);
    cell.checkStateSizes('Recurrent');
    this.reverse = checkBoolean('Recurrent', 'reverse', opts.reverse, false);
    this.returnSequences = checkBoolean('Recurrent', 'returnSequences', opts.returnSequences, true);
    this.compile = checkBoolean('Recurrent', 'compile', opts.compile, true);
    this.inputDropout = checkRate('Recurrent', 'inputDropout', opts.inputDropout);
    this.recurrentDropout = checkRate('Recurrent', 'recurrentDropout', opts.recurrentDropout);
    const z = opts.zoneout ?? 0;
    if (typeof z === 'number') checkRate('Recurrent', 'zoneout', z);
    else if (z === null || typeof z !== 'object' || Array.isArray(z)) {
      throw new SeqgradError('Recurrent', `zoneout must be a number or an object of rates per state entry, got ${show(z)}`);
    } else {
      for (const [k, p] of Object.entries(z)) {
        if (!(k in cell.stateSizes)) throw new SeqgradError('Recurrent', `zoneout names '${k}', which is not a state entry of ${cell.constructor.name} (${Object.keys(cell.stateSizes).join(', ')})`);
        checkRate('Recurrent', `zoneout.${k}`, p);
      }
    }
    this.zoneout = z;
    this.generator = opts.generator;
    const c = opts.checkpoint ?? false;
    if (typeof c !== 'boolean' && !(Number.isInteger(c) && c >= 1)) {
      throw new SeqgradError('Recurrent', `checkpoint must be a boolean or a positive integer number of steps, got ${show(c)}`);
    }
    this.checkpoint = c;
    this.registerModule('cell', cell);
  }

  /** The scan options of dropout, zoneout and checkpointing for the current mode. */
  private scanOptions(): Record<string, unknown> {
    return {
      inputDropout: this.inputDropout, recurrentDropout: this.recurrentDropout, zoneout: this.zoneout,
      training: this.training, generator: this.generator, checkpoint: this.checkpoint,
    };
  }

  get inputSize(): number {
    return this.cell.inputSize;
  }
  get outputSize(): number {
    return this.cell.outputSize;
  }

  /** Checks x and the state; returns x as (B, T, I), the state as (B, n) entries and the lengths. */
  private prepare(op: string, x: Tensor, state: S | undefined, opts: SequenceOptions): { x3: Tensor; s: S; lengths: Int32Array | null; unbatched: boolean } {
    const cell = this.cell;
    checkInput(op, 'x', x, cell.dtype);
    if ((x.ndim !== 2 && x.ndim !== 3) || x.shape[x.ndim - 1] !== cell.inputSize) {
      throw new SeqgradError(op, `x${fmt(x.shape)} must be (B, T, ${cell.inputSize}) or unbatched (T, ${cell.inputSize})`);
    }
    const unbatched = x.ndim === 2;
    const x3 = unbatched ? reshape(x, [1, ...x.shape]) : x;
    const [B, T] = x3.shape as [number, number, number];
    checkOptions(op, opts, ['lengths']);
    checkBatch(op, x, B);
    if (unbatched && opts.lengths !== undefined) throw new SeqgradError(op, 'lengths need a batched input (B, T, I)');
    const lengths = normalizeLengths(op, opts.lengths, B, T);
    let s: S;
    if (state) {
      cell.checkState(op, state, unbatched ? null : B);
      s = unbatched ? mapState(state, (t) => reshape(t, [1, t.shape[0]!])) : state;
    } else s = cell.initialState(B);
    return { x3, s, lengths, unbatched };
  }

  forward(x: Tensor, state?: S, opts: SequenceOptions = {}): SequenceResult<S> {
    const op = `Recurrent(${this.cell.constructor.name}).forward`;
    const { x3, s, lengths, unbatched } = this.prepare(op, x, state, opts);
    const B = x3.shape[0]!;
    const check = (next: unknown) => this.cell.checkStepResult(op, next, B);
    const r = scan(this.cell, x3, s, { ...this.scanOptions(), reverse: this.reverse, lengths, compile: this.compile, check });
    const final = unbatched ? mapState(r.state, (t) => reshape(t, [t.shape[1]!])) : r.state;
    if (!this.returnSequences) return { output: final.h, state: final };
    return { output: unbatched ? reshape(r.output, r.output.shape.slice(1)) : r.output, state: final };
  }

  /**
   * Whether `forward(x, state, opts)` runs the cell compiled, and if not, why (see `explainScan`).
   *
   * @example
   * const layer = new Recurrent(new LSTMCell(3, 8));
   * layer.explain(randn([2, 5, 3])).text; // "compiled: … ops, …"
   */
  explain(x: Tensor, state?: S, opts: SequenceOptions = {}): ScanExplanation {
    const { x3, s, lengths } = this.prepare(`Recurrent(${this.cell.constructor.name}).explain`, x, state, opts);
    return explainScan(this.cell, x3, s, { ...this.scanOptions(), reverse: this.reverse, lengths, compile: this.compile });
  }

  override extraRepr(): string {
    const z = this.zoneout;
    const zone = typeof z === 'number' ? (z > 0 ? `zoneout=${z}` : '') : Object.keys(z).length ? `zoneout=${JSON.stringify(z)}` : '';
    return [
      this.reverse && 'reverse', !this.returnSequences && 'returnSequences=false',
      this.inputDropout > 0 && `inputDropout=${this.inputDropout}`, this.recurrentDropout > 0 && `recurrentDropout=${this.recurrentDropout}`,
      zone, this.checkpoint !== false && `checkpoint=${this.checkpoint}`,
    ].filter(Boolean).join(', ');
  }
}

export interface RecurrentOptions {
  reverse?: boolean;
  returnSequences?: boolean;
  compile?: boolean;
  /** Fraction of input features dropped, one mask per sequence for all steps (Keras's `dropout`). */
  inputDropout?: number;
  /** Fraction of the recurrent h dropped, one mask per sequence for all steps (Keras's `recurrent_dropout`). */
  recurrentDropout?: number;
  /** Zoneout (Krueger et al. 2017): a rate for every state entry, or per entry, e.g. `{ h: 0.05, c: 0.5 }`. */
  zoneout?: number | Readonly<Record<string, number>>;
  /** Where the masks are drawn from (default the global generator). */
  generator?: Generator;
  /** Recompute activations in backward, keeping the state every k steps (true: every ⌈√T⌉). */
  checkpoint?: number | boolean;
}

export type MergeMode = 'concat' | 'sum' | 'mul' | 'ave';

/**
 * Runs one cell forward and another backward in time over the same input and merges their
 * outputs (concat on the last axis, sum, mul or ave). The state is `{ forward, backward }`.
 * Without a backward cell, a copy of the forward cell is made and re-initialised with its
 * `resetParameters()` (a cell that does not override it keeps the forward's weights, copied, not shared).
 *
 * @example
 * const bi = new Bidirectional(new LSTMCell(3, 8));
 * bi.forward(randn([2, 5, 3])).output.shape; // [2, 5, 16]
 */
export class Bidirectional<S extends CellState = CellState> extends Module implements SequenceLayer<{ forward: S; backward: S }> {
  readonly forwardLayer: Recurrent<S>;
  readonly backwardLayer: Recurrent<S>;
  readonly mergeMode: MergeMode;

  constructor(
    forward: RecurrentCell<S> | Recurrent<S>, backward?: RecurrentCell<S> | Recurrent<S>,
    opts: { mergeMode?: MergeMode } & Pick<RecurrentOptions, 'inputDropout' | 'recurrentDropout' | 'zoneout' | 'generator' | 'checkpoint'> = {},
  ) {
    super();
    const fwdCell = forward instanceof Recurrent ? forward.cell : forward;
    let bwdCell: RecurrentCell<S>;
    if (backward) bwdCell = backward instanceof Recurrent ? backward.cell : backward;
    else {
      bwdCell = cloneModule(fwdCell);
      bwdCell.resetParameters();
    }
    if (!(fwdCell instanceof RecurrentCell) || !(bwdCell instanceof RecurrentCell)) {
      throw new SeqgradError('Bidirectional', 'forward and backward must be RecurrentCells or Recurrent layers');
    }
    if (fwdCell.inputSize !== bwdCell.inputSize || fwdCell.outputSize !== bwdCell.outputSize || fwdCell.dtype !== bwdCell.dtype) {
      throw new SeqgradError(
        'Bidirectional',
        `forward (${fwdCell.inputSize} → ${fwdCell.outputSize}, ${fwdCell.dtype}) and backward (${bwdCell.inputSize} → ${bwdCell.outputSize}, ${bwdCell.dtype}) cells must have the same sizes and dtype`,
      );
    }
    const { mergeMode: _m, ...regularize } = opts;
    checkOptions('Bidirectional', opts, ['mergeMode', 'inputDropout', 'recurrentDropout', 'zoneout', 'generator', 'checkpoint']);
    const mode = opts.mergeMode ?? 'concat';
    if (!['concat', 'sum', 'mul', 'ave'].includes(mode)) {
      throw new SeqgradError('Bidirectional', `mergeMode must be 'concat', 'sum', 'mul' or 'ave', got '${String(mode)}'`);
    }
    this.mergeMode = mode;
    this.forwardLayer = this.registerModule('forward_layer', new Recurrent(fwdCell, regularize));
    this.backwardLayer = this.registerModule('backward_layer', new Recurrent(bwdCell, { ...regularize, reverse: true }));
  }

  get inputSize(): number {
    return this.forwardLayer.inputSize;
  }
  get outputSize(): number {
    return this.mergeMode === 'concat' ? 2 * this.forwardLayer.outputSize : this.forwardLayer.outputSize;
  }

  forward(x: Tensor, state?: { forward?: S; backward?: S }, opts: SequenceOptions = {}): SequenceResult<{ forward: S; backward: S }> {
    if (state !== undefined) {
      if (state === null || typeof state !== 'object' || Array.isArray(state) || state instanceof Tensor) {
        throw new SeqgradError('Bidirectional.forward', `state must be an object { forward, backward } of the two cells' states, got ${show(state)}`);
      }
      for (const k of Object.keys(state)) {
        if (k !== 'forward' && k !== 'backward') {
          throw new SeqgradError('Bidirectional.forward', `state has an unexpected key '${k}'; expected { forward, backward } of the two cells' states`);
        }
      }
    }
    const f = this.forwardLayer.forward(x, state?.forward, opts);
    const b = this.backwardLayer.forward(x, state?.backward, opts);
    let output: Tensor;
    if (this.mergeMode === 'concat') output = concat([f.output, b.output], -1);
    else if (this.mergeMode === 'sum') output = add(f.output, b.output);
    else if (this.mergeMode === 'mul') output = mul(f.output, b.output);
    else output = mul(add(f.output, b.output), 0.5);
    return { output, state: { forward: f.state, backward: b.state } };
  }

  override extraRepr(): string {
    return `mergeMode=${this.mergeMode}`;
  }
}

/**
 * Stacks sequence layers: each layer's output sequence is the next one's input, with
 * dropout between layers in training mode (not after the last). The state is an array with
 * one entry per layer.
 *
 * @example
 * const net = new Stacked([new Recurrent(new LSTMCell(3, 8)), new Recurrent(new LSTMCell(8, 8))], { dropout: 0.1 });
 * net.forward(randn([2, 5, 3])).output.shape; // [2, 5, 8]
 */
export class Stacked extends Module implements SequenceLayer<unknown[]> {
  readonly layers: SequenceLayer[];
  readonly dropout: number;
  readonly generator: Generator | undefined;

  constructor(layers: SequenceLayer[], opts: { dropout?: number; generator?: Generator } = {}) {
    super();
    if (!Array.isArray(layers) || layers.length === 0) throw new SeqgradError('Stacked', `layers must be a non-empty array of sequence layers, got ${show(layers)}`);
    checkOptions('Stacked', opts, ['dropout', 'generator']);
    layers.forEach((l, i) => {
      if (i > 0 && l.inputSize !== layers[i - 1]!.outputSize) {
        throw new SeqgradError('Stacked', `layer ${i} expects inputSize ${l.inputSize} but layer ${i - 1} outputs ${layers[i - 1]!.outputSize}`);
      }
      this.registerModule(String(i), l);
    });
    this.layers = layers;
    this.dropout = checkNumber('Stacked', 'dropout', opts.dropout, 0, 0, 1);
    this.generator = opts.generator;
  }

  get inputSize(): number {
    return this.layers[0]!.inputSize;
  }
  get outputSize(): number {
    return this.layers[this.layers.length - 1]!.outputSize;
  }

  forward(x: Tensor, state?: unknown[], opts: SequenceOptions = {}): SequenceResult<unknown[]> {
    if (state !== undefined && (!Array.isArray(state) || state.length !== this.layers.length)) {
      throw new SeqgradError('Stacked.forward', `state must be an array of ${this.layers.length} layer states (one per layer), got ${show(state)}`);
    }
    const states: unknown[] = [];
    let y = x;
    this.layers.forEach((layer, i) => {
      if (i > 0) y = dropout(y, this.dropout, { training: this.training, generator: this.generator });
      const r = layer.forward(y, state?.[i], opts);
      y = r.output;
      states.push(r.state);
    });
    return { output: y, state: states };
  }
}
