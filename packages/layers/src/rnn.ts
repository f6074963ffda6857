import {
  type FloatDType, type Generator, type ScanExplanation, SeqgradError, Tensor, concat, dropout, explainScan, fmt, linear, permute, reshape, scan, select, show,
  stack, zeros,
} from '@seqgrad/autograd';
import { param } from './basic.js';
import { checkBatch, checkBoolean, checkDtype, checkInitOptions, checkInput, checkNonlinearity, checkOptions, checkPositiveInt, checkRate, checkStateObject } from './validate.js';
import { type RecurrentInitOptions, gruStep, initRecurrent, lstmStep, rnnStep } from './functional.js';
import { Module } from './module.js';
import { type Lengths, type SequenceLayer, type SequenceResult, normalizeLengths } from './recurrent.js';
import type { HiddenState, LSTMState } from './cell.js';
import { fusedDirection } from './fused.js';
import { GRUCell, LSTMCell, RNNCell, SHARED_PARAMETERS } from './cells.js';

export type RNNMode = 'RNN_TANH' | 'RNN_RELU' | 'LSTM' | 'GRU';

/** Options shared by RNN, LSTM and GRU (PyTorch's, except batchFirst's default). */
export interface RNNBaseOptions extends RecurrentInitOptions {
  numLayers?: number;
  bias?: boolean;
  /**
   * Input and output are (B, T, ·) when true (the default here) and (T, B, ·) when false.
   * PyTorch's default is false. States are (numLayers·D, B, H) either way, as in PyTorch.
   */
  batchFirst?: boolean;
  /** Dropout on the outputs of every layer but the last, in training mode. */
  dropout?: number;
  bidirectional?: boolean;
  dtype?: FloatDType;
  /** 'fused': hand-derived BPTT, one autograd function per layer and direction; 'composed': cell ops. */
  impl?: 'fused' | 'composed';
  /** With impl 'composed': run the cell ops through scan's compiled plan (default true), or op by op (false). */
  compile?: boolean;
  /** Where the initial weights and every dropout and zoneout mask are drawn from. */
  generator?: Generator;
  /**
   * Variational dropout on each layer's input (Keras's `dropout`): one (B, I) mask per
   * sequence, the same at every step, in [0, 1). Training mode only.
   */
  inputDropout?: number;
  /**
   * Variational dropout on the recurrent h (Keras's `recurrent_dropout`): one (B, H) mask per
   * sequence, applied to h_{t−1} where the step reads it, in [0, 1). The LSTM's c is not masked.
   */
  recurrentDropout?: number;
  /**
   * Zoneout (Krueger et al. 2017): each unit keeps its previous value with probability p, a
   * fresh mask per step; one rate for every state entry or one per entry (`{ h, c }` for LSTM).
   * In eval mode the step uses the expectation p·previous + (1 − p)·new.
   */
  zoneout?: number | { h?: number; c?: number };
}

/** The parameters of one layer and direction. */
export interface DirectionParams {
  weightIh: Tensor;
  weightHh: Tensor;
  biasIh: Tensor | null;
  biasHh: Tensor | null;
  weightHr: Tensor | null;
}

export interface RNNForwardOptions {
  /** Valid length of each sequence (packed-sequence semantics); see `Recurrent`. */
  lengths?: Lengths;
  /**
   * LSTM: also return `sequences.c`, the last layer's cell state at every step (zero past
   * each length), laid out like `output` (D·H features). RNN and GRU need no such option:
   * their `output` already is h_t at every step. Fused and composed give the same values
   * and gradients.
   */
  returnAllStates?: boolean;
}

/** The state of RNN, LSTM or GRU: h, and c for the LSTM. */
export type RNNState = { h: Tensor; c?: Tensor };

/** What one layer and direction runs on: x (B, T, I), its initial state, parameters, direction and lengths. */
export interface DirectionArgs {
  x: Tensor;
  h0: Tensor;
  c0: Tensor | null;
  p: DirectionParams;
  reverse: boolean;
  lengths: Int32Array | null;
  /** LSTM: also return c at every step, (B, T, H), as `sequences.c`. */
  allCells: boolean;
}

/** One layer and direction's run: output (B, T, Hout), the final h (B, Hout) and c (B, H), and `sequences.c` when asked. */
export type DirectionResult = SequenceResult<RNNState>;

const GATES: Record<RNNMode, number> = { RNN_TANH: 1, RNN_RELU: 1, LSTM: 4, GRU: 3 };

/** The options every RNN, LSTM and GRU takes, and those of one mode only. */
const RNN_OPTIONS = [
  'numLayers', 'bias', 'batchFirst', 'dropout', 'bidirectional', 'dtype', 'impl', 'compile', 'generator', 'recurrentInit', 'forgetBias',
  'inputDropout', 'recurrentDropout', 'zoneout',
];
const MODE_OPTIONS: Record<RNNMode, readonly string[]> = {
  RNN_TANH: ['nonlinearity'], RNN_RELU: ['nonlinearity'], LSTM: ['projSize'], GRU: ['resetAfter'],
};

/**
 * The shared machinery of RNN, LSTM and GRU: parameters under PyTorch's names, input and
 * state checks, layers, directions, dropout, lengths, and the two implementations.
 */
export abstract class RNNBase extends Module implements SequenceLayer<RNNState> {
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  readonly projSize: number;
  readonly dtype: FloatDType;
  impl: 'fused' | 'composed';
  readonly resetAfter: boolean;
  readonly generator: Generator | undefined;
  /** Dropout on each layer's input, one mask per sequence; training mode only. */
  readonly inputDropout: number;
  /** Dropout on the recurrent h the step reads, one mask per sequence; training mode only. */
  readonly recurrentDropout: number;
  /** Zoneout rate of each state entry (h, and c for LSTM); 0 when off. */
  readonly zoneout: Readonly<{ h: number; c?: number }>;
  /** params[layer][direction] */
  readonly params: DirectionParams[][] = [];
  /** The composed path through scan's compiled plan (default true); false runs it op by op. */
  compile: boolean;
  private readonly steps = new WeakMap<DirectionParams, (gi: Tensor, s: RNNState) => RNNState>();
  private readonly fullSteps = new WeakMap<DirectionParams, (x: Tensor, s: RNNState) => RNNState>();
  protected readonly initOptions: RecurrentInitOptions;

  constructor(
    readonly mode: RNNMode,
    readonly inputSize: number,
    readonly hiddenSize: number,
    opts: RNNBaseOptions & { projSize?: number; resetAfter?: boolean },
  ) {
    super();
    const name = new.target.name;
    checkPositiveInt(name, 'inputSize', inputSize);
    checkPositiveInt(name, 'hiddenSize', hiddenSize);
    checkOptions(name, opts, [...RNN_OPTIONS, ...MODE_OPTIONS[mode]]);
    checkInitOptions(name, opts);
    this.numLayers = opts.numLayers ?? 1;
    checkPositiveInt(name, 'numLayers', this.numLayers);
    this.bias = checkBoolean(name, 'bias', opts.bias, true);
    this.batchFirst = checkBoolean(name, 'batchFirst', opts.batchFirst, true);
    this.dropout = opts.dropout ?? 0;
    if (!(this.dropout >= 0 && this.dropout <= 1)) throw new SeqgradError(name, `dropout must be in [0, 1], got ${opts.dropout}`);
    this.bidirectional = checkBoolean(name, 'bidirectional', opts.bidirectional, false);
    this.projSize = opts.projSize ?? 0;
    if (!Number.isInteger(this.projSize) || this.projSize < 0) throw new SeqgradError(name, `projSize must be a non-negative integer, got ${opts.projSize}`);
    if (this.projSize >= hiddenSize && this.projSize > 0) {
      throw new SeqgradError(name, `projSize=${this.projSize} must be smaller than hiddenSize=${hiddenSize}`);
    }
    this.dtype = checkDtype(name, opts.dtype);
    this.impl = opts.impl ?? 'fused';
    if (this.impl !== 'fused' && this.impl !== 'composed') throw new SeqgradError(name, `impl must be 'fused' or 'composed', got '${String(this.impl)}'`);
    this.resetAfter = checkBoolean(name, 'resetAfter', opts.resetAfter, true);
    this.compile = checkBoolean(name, 'compile', opts.compile, true);
    this.generator = opts.generator;
    this.inputDropout = checkRate(name, 'inputDropout', opts.inputDropout);
    this.recurrentDropout = checkRate(name, 'recurrentDropout', opts.recurrentDropout);
    this.zoneout = checkZoneout(name, opts.zoneout, mode === 'LSTM');
    this.initOptions = { generator: opts.generator, recurrentInit: opts.recurrentInit, forgetBias: opts.forgetBias };

    const G = GATES[mode] * hiddenSize;
    const D = this.numDirections;
    const hOut = this.outputHiddenSize;
    for (let l = 0; l < this.numLayers; l++) {
      const layerInput = l === 0 ? inputSize : hOut * D;
      const dirs: DirectionParams[] = [];
      for (let d = 0; d < D; d++) {
        const sfx = `_l${l}${d === 1 ? '_reverse' : ''}`;
        const p = (shape: number[]) => param(shape, this.dtype, name);
        dirs.push({
          weightIh: this.registerParameter(`weight_ih${sfx}`, p([G, layerInput])),
          weightHh: this.registerParameter(`weight_hh${sfx}`, p([G, hOut])),
          biasIh: this.bias ? this.registerParameter(`bias_ih${sfx}`, p([G])) : null,
          biasHh: this.bias ? this.registerParameter(`bias_hh${sfx}`, p([G])) : null,
          weightHr: this.projSize > 0 ? this.registerParameter(`weight_hr${sfx}`, p([this.projSize, hiddenSize])) : null,
        });
      }
      this.params.push(dirs);
    }
    this.resetParameters();
  }

  get numDirections(): number {
    return this.bidirectional ? 2 : 1;
  }
  /** Size of h (projSize when projecting, else hiddenSize). */
  get outputHiddenSize(): number {
    return this.projSize > 0 ? this.projSize : this.hiddenSize;
  }
  /** Features per output step: D · outputHiddenSize. */
  get outputSize(): number {
    return this.numDirections * this.outputHiddenSize;
  }

  /**
   * x (B, T, I) with batchFirst, (T, B, I) otherwise, or unbatched (T, I) → `{ output, state }`,
   * state `{ h }` (`{ h, c }` for the LSTM), each (numLayers·D, B, ·).
   */
  abstract forward(x: Tensor, state?: Tensor | RNNState, opts?: RNNForwardOptions): SequenceResult<RNNState>;

  /**
   * Whether a forward pass now draws dropout or zoneout masks (training mode with a rate > 0)
   * or uses zoneout's expectation (eval mode): then every layer runs the composed cell ops
   * through `scan`, whose options implement the masks, whatever `impl` says.
   */
  get regularized(): boolean {
    const z = this.zoneout.h > 0 || (this.zoneout.c ?? 0) > 0;
    return z || (this.training && (this.inputDropout > 0 || this.recurrentDropout > 0));
  }

  /** PyTorch's U(−1/√H, 1/√H) for every parameter, then the orthogonal / forget-bias options. */
  resetParameters(opts: RecurrentInitOptions = this.initOptions): void {
    for (const dirs of this.params) for (const p of dirs) initRecurrent(p, this.hiddenSize, GATES[this.mode], opts);
  }

  /**
   * The cell of one layer and direction (`RNNCell`, `LSTMCell` or `GRUCell`) over this layer's
   * own parameter tensors, shared, not copied: `weight_ih_l{layer}[_reverse]` is the cell's
   * `weight_ih`, and likewise `weight_hh`, `bias_ih`, `bias_hh`, so a step of the cell is a
   * step of that layer and gradients reach the layer's parameters. `new Recurrent(rnn.cell())`
   * computes what a one-layer `rnn` computes. An LSTM with projSize has no cell equivalent.
   *
   * @example
   * const lstm = new LSTM(3, 8, { numLayers: 2 });
   * const cell = lstm.cell(1);  // LSTMCell(8, 8): cell.weightIh === lstm.params[1][0].weightIh
   * cell.forward(randn([2, 8])); // { h, c }, each [2, 8]
   */
  cell(layer = 0, direction = 0): RNNCell | LSTMCell | GRUCell {
    const op = `${this.constructor.name}.cell`;
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.numLayers) {
      throw new SeqgradError(op, `layer must be an integer in [0, ${this.numLayers - 1}] (numLayers=${this.numLayers}), got ${String(layer)}`);
    }
    if (!Number.isInteger(direction) || direction < 0 || direction >= this.numDirections) {
      throw new SeqgradError(op, `direction must be ${this.bidirectional ? '0 (forward) or 1 (reverse)' : '0 (the layer is not bidirectional)'}, got ${String(direction)}`);
    }
    if (this.projSize > 0) throw new SeqgradError(op, `an LSTM with projSize=${this.projSize} has no cell equivalent (LSTMCell has no projection)`);
    const p = this.params[layer]![direction]!;
    const inputSize = p.weightIh.shape[1]!;
    const opts = Object.assign({ dtype: this.dtype }, { [SHARED_PARAMETERS]: p });
    if (this.mode === 'LSTM') return new LSTMCell(inputSize, this.hiddenSize, opts);
    if (this.mode === 'GRU') return new GRUCell(inputSize, this.hiddenSize, { ...opts, resetAfter: this.resetAfter });
    return new RNNCell(inputSize, this.hiddenSize, { ...opts, nonlinearity: this.mode === 'RNN_RELU' ? 'relu' : 'tanh' });
  }

  protected runLayers(x: Tensor, state: Partial<LSTMState> | undefined, opts: RNNForwardOptions): SequenceResult<RNNState> {
    const op = `${this.constructor.name}.forward`;
    const isLSTM = this.mode === 'LSTM';
    checkInput(op, 'x', x, this.dtype);
    const layout = this.batchFirst ? '(B, T, I)' : '(T, B, I)';
    if ((x.ndim !== 2 && x.ndim !== 3) || x.shape[x.ndim - 1] !== this.inputSize) {
      throw new SeqgradError(op, `x${fmt(x.shape)} must be ${layout.replace('I', String(this.inputSize))} or unbatched (T, ${this.inputSize})`);
    }
    const unbatched = x.ndim === 2;
    // Internally always (B, T, I).
    const x3 = unbatched ? reshape(x, [1, ...x.shape]) : this.batchFirst ? x : permute(x, [1, 0, 2]);
    const [B, T] = x3.shape as [number, number, number];
    checkOptions(op, opts, ['lengths', 'returnAllStates']);
    checkBatch(op, x, B);
    if (T === 0) throw new SeqgradError(op, `x${fmt(x.shape)} has no time steps`);
    if (unbatched && opts.lengths !== undefined) throw new SeqgradError(op, 'lengths need a batched input');
    const lengths = normalizeLengths(op, opts.lengths, B, T);

    const D = this.numDirections;
    const LD = this.numLayers * D;
    const hOut = this.outputHiddenSize;
    // A state is all of { h } ({ h, c } for LSTM) with (numLayers·D, B, H) shapes, or absent (zeros).
    const want: Record<string, number[]> = { h: unbatched ? [LD, hOut] : [LD, B, hOut] };
    if (isLSTM) want.c = unbatched ? [LD, this.hiddenSize] : [LD, B, this.hiddenSize];
    if (state !== undefined) checkStateObject(op, state, want, this.dtype);
    const asBatch = (t: Tensor) => (unbatched ? reshape(t, [LD, 1, t.shape[1]!]) : t);
    const h0 = state?.h ? asBatch(state.h) : null;
    const c0 = isLSTM && state?.c ? asBatch(state.c) : null;

    const useFused = this.impl === 'fused' && !this.regularized;
    const hs: Tensor[] = [];
    const cs: Tensor[] = [];
    let layerInput = x3;
    let cells: Tensor | null = null;
    for (let l = 0; l < this.numLayers; l++) {
      if (l > 0 && this.dropout > 0 && this.training) {
        layerInput = dropout(layerInput, this.dropout, { training: true, generator: this.generator });
      }
      const outs: Tensor[] = [];
      const cellsByDirection: Tensor[] = [];
      for (let d = 0; d < D; d++) {
        const k = l * D + d;
        const hInit = h0 ? select(h0, 0, k) : zeros([B, hOut], { dtype: this.dtype });
        const cInit = isLSTM ? (c0 ? select(c0, 0, k) : zeros([B, this.hiddenSize], { dtype: this.dtype })) : null;
        const allCells = Boolean(opts.returnAllStates) && l === this.numLayers - 1;
        const args = { x: layerInput, h0: hInit, c0: cInit, p: this.params[l]![d]!, reverse: d === 1, lengths, allCells };
        const r = useFused ? fusedDirection(this.mode, this.resetAfter, args) : this.composedDirection(args);
        outs.push(r.output);
        hs.push(r.state.h);
        if (r.state.c) cs.push(r.state.c);
        if (r.sequences?.c) cellsByDirection.push(r.sequences.c);
      }
      layerInput = D === 1 ? outs[0]! : concat(outs, -1);
      if (l === this.numLayers - 1 && cellsByDirection.length) cells = D === 1 ? cellsByDirection[0]! : concat(cellsByDirection, -1);
    }

    const back = (t: Tensor) => (unbatched ? reshape(t, t.shape.slice(1)) : this.batchFirst ? t : permute(t, [1, 0, 2]));
    const finalState = (list: Tensor[]) => {
      const s = stack(list, 0);
      return unbatched ? reshape(s, [LD, s.shape[2]!]) : s;
    };
    const output = back(layerInput);
    const h = finalState(hs);
    if (!isLSTM) return { output, state: { h } };
    return { output, state: { h, c: finalState(cs) }, ...(opts.returnAllStates && cells ? { sequences: { c: back(cells) } } : {}) };
  }

  /**
   * Which path `forward(x)` takes. impl 'fused' runs the hand-derived kernels, one autograd
   * function per layer and direction, unless dropout or zoneout is active (`regularized`): the
   * fused kernels implement no masks, so the composed cell ops then run through `scan`, whose
   * explanation of the first layer's forward step (compiled or not, the masks and how they
   * are drawn) this returns.
   *
   * @example
   * const lstm = new LSTM(3, 8, { recurrentDropout: 0.25 });
   * lstm.explain(randn([4, 10, 3])).text; // "runs the composed cell ops through scan …; compiled: …"
   * lstm.eval();
   * lstm.explain(randn([4, 10, 3])).compiled; // false: the fused kernels run
   */
  explain(x: Tensor, opts: Pick<RNNForwardOptions, 'lengths'> = {}): ScanExplanation {
    const op = `${this.constructor.name}.explain`;
    checkInput(op, 'x', x, this.dtype);
    if ((x.ndim !== 2 && x.ndim !== 3) || x.shape[x.ndim - 1] !== this.inputSize) {
      throw new SeqgradError(op, `x${fmt(x.shape)} must be ${this.batchFirst ? '(B, T, I)' : '(T, B, I)'} with I=${this.inputSize}, or unbatched (T, ${this.inputSize})`);
    }
    checkOptions(op, opts, ['lengths']);
    const x3 = x.ndim === 2 ? reshape(x, [1, ...x.shape]) : this.batchFirst ? x : permute(x, [1, 0, 2]);
    const [B, T] = x3.shape as [number, number, number];
    const lengths = normalizeLengths(op, opts.lengths, B, T);
    if (this.impl === 'fused' && !this.regularized) {
      const text = 'runs the fused kernels (hand-derived BPTT, one autograd function per layer and direction), not scan';
      return { compiled: false, reason: "impl is 'fused'", plan: null, checkpoint: null, regularization: null, text };
    }
    const p = this.params[0]![0]!;
    const init = this.mode === 'LSTM'
      ? { h: zeros([B, this.outputHiddenSize], { dtype: this.dtype }), c: zeros([B, this.hiddenSize], { dtype: this.dtype }) }
      : { h: zeros([B, this.outputHiddenSize], { dtype: this.dtype }) };
    const e = this.regularized
      ? explainScan(this.directionStep(p, true), x3, init, { lengths, compile: this.compile, ...this.regularizeOptions() })
      : explainScan(this.directionStep(p, false), linear(x3, p.weightIh, p.biasIh), init, { lengths, compile: this.compile });
    const why = this.impl === 'fused'
      ? `runs the composed cell ops through scan, not the fused kernels, because ${this.training ? 'dropout or zoneout is on in training mode' : 'zoneout is on (its expectation in eval mode)'} and the fused kernels implement no masks`
      : "runs the composed cell ops through scan (impl 'composed')";
    return { ...e, text: `${why}; ${e.text}` };
  }

  /**
   * One layer and direction from the cell ops, run by `scan`: the input projection of every
   * step in one GEMM, then the recurrent part of the step over time (compiled when `compile`
   * is on, op by op otherwise).
   */
  protected composedDirection(a: DirectionArgs): DirectionResult {
    const { p } = a;
    const init = a.c0 ? { h: a.h0, c: a.c0 } : { h: a.h0 };
    const scanOpts = { reverse: a.reverse, lengths: a.lengths, compile: this.compile, collect: a.allCells && a.c0 ? ['c'] : [] };
    const r = this.regularized
      // The input dropout mask must reach x before W_ih, so the step takes x itself; scan's
      // compiler still hoists the input GEMM out of the loop.
      ? scan(this.directionStep(p, true), a.x, init, { ...scanOpts, ...this.regularizeOptions() })
      : scan(this.directionStep(p, false), linear(a.x, p.weightIh, p.biasIh), init, scanOpts);
    return { output: r.output, state: r.state, ...(a.allCells && a.c0 ? { sequences: { c: r.sequences.c! } } : {}) };
  }

  /** scan's dropout and zoneout options for the current mode, masks from `generator`. */
  private regularizeOptions(): { inputDropout: number; recurrentDropout: number; zoneout: { h: number; c?: number }; training: boolean; generator?: Generator } {
    return {
      inputDropout: this.inputDropout, recurrentDropout: this.recurrentDropout, zoneout: { ...this.zoneout },
      training: this.training, ...(this.generator ? { generator: this.generator } : {}),
    };
  }

  /**
   * One step for one layer and direction, kept per parameter set so scan keeps its plan:
   * the recurrent part fed with the input projection gi (`withInput` false), or the whole
   * step from x_t (`withInput` true, for input dropout).
   */
  private directionStep(p: DirectionParams, withInput: boolean): (x: Tensor, s: RNNState) => RNNState {
    const cache = withInput ? this.fullSteps : this.steps;
    let step = cache.get(p);
    if (!step) {
      const mode = this.mode;
      const resetAfter = this.resetAfter;
      const input = withInput ? (x: Tensor) => linear(x, p.weightIh, p.biasIh) : (gi: Tensor) => gi;
      if (mode === 'LSTM') step = (x, s) => lstmStep(input(x), s.h, s.c!, p.weightHh, p.biasHh, p.weightHr);
      else if (mode === 'GRU') step = (x, s) => ({ h: gruStep(input(x), s.h, p.weightHh, p.biasHh, resetAfter) });
      else step = (x, s) => ({ h: rnnStep(input(x), s.h, p.weightHh, p.biasHh, mode === 'RNN_RELU' ? 'relu' : 'tanh') });
      cache.set(p, step);
    }
    return step;
  }

  override extraRepr(): string {
    const parts = [`${this.inputSize}, ${this.hiddenSize}`];
    if (this.numLayers !== 1) parts.push(`numLayers=${this.numLayers}`);
    if (this.mode === 'RNN_RELU') parts.push(`nonlinearity=relu`);
    if (!this.bias) parts.push('bias=false');
    if (!this.batchFirst) parts.push('batchFirst=false');
    if (this.dropout) parts.push(`dropout=${this.dropout}`);
    if (this.inputDropout) parts.push(`inputDropout=${this.inputDropout}`);
    if (this.recurrentDropout) parts.push(`recurrentDropout=${this.recurrentDropout}`);
    if (this.zoneout.h || this.zoneout.c) parts.push(`zoneout=${this.mode === 'LSTM' ? JSON.stringify(this.zoneout) : this.zoneout.h}`);
    if (this.bidirectional) parts.push('bidirectional');
    if (this.projSize) parts.push(`projSize=${this.projSize}`);
    if (this.mode === 'GRU' && !this.resetAfter) parts.push('resetAfter=false');
    if (this.dtype !== 'float32') parts.push(this.dtype);
    parts.push(`impl=${this.impl}`);
    return parts.join(', ');
  }
}

/** zoneout as one rate or `{ h, c }` → a rate per state entry. */
function checkZoneout(op: string, z: unknown, isLSTM: boolean): { h: number; c?: number } {
  const entries = isLSTM ? ['h', 'c'] : ['h'];
  if (z === undefined || typeof z === 'number') {
    const p = checkRate(op, 'zoneout', z);
    return isLSTM ? { h: p, c: p } : { h: p };
  }
  if (z === null || typeof z !== 'object' || Array.isArray(z)) {
    throw new SeqgradError(op, `zoneout must be a number or an object of rates per state entry { ${entries.join(', ')} }, got ${show(z)}`);
  }
  const out: { h: number; c?: number } = { h: 0 };
  if (isLSTM) out.c = 0;
  for (const [k, p] of Object.entries(z)) {
    if (!entries.includes(k)) throw new SeqgradError(op, `zoneout names '${k}', which is not a state entry of ${op} (${entries.join(', ')})`);
    out[k as 'h' | 'c'] = checkRate(op, `zoneout.${k}`, p);
  }
  return out;
}

/** RNN's and GRU's initial state: `{ h }`, or h alone as PyTorch passes it (`rnn(x, h0)`). */
function stateArg(op: string, s: Tensor | HiddenState | undefined): HiddenState | undefined {
  if (s === undefined || s === null) return undefined;
  if (s instanceof Tensor) return { h: s };
  if (typeof s !== 'object') throw new SeqgradError(op, `state must be a Tensor or { h }, got ${typeof s}`);
  return s;
}

/**
 * Elman RNN, like `torch.nn.RNN`: h_t = act(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh) per layer
 * and direction, act = tanh or relu.
 *
 * Returns `{ output, state: { h } }`; the initial state is `{ h }` or h alone (PyTorch's h_0).
 * Shapes (batchFirst, the default): x (B, T, I) → output (B, T, D·H); state.h (numLayers·D, B, H).
 * Unbatched: x (T, I), output (T, D·H), state.h (numLayers·D, H). Parameters weight_ih_l{k}
 * (H, I or D·H), weight_hh_l{k} (H, H), bias_ih_l{k}, bias_hh_l{k} (H), with `_reverse`.
 *
 * @example
 * const rnn = new RNN(3, 8, { numLayers: 2, nonlinearity: 'relu' });
 * const { output, state } = rnn.forward(randn([4, 10, 3])); // [4, 10, 8]; state.h: [2, 4, 8]
 */
export class RNN extends RNNBase implements SequenceLayer<HiddenState> {
  constructor(inputSize: number, hiddenSize: number, opts: RNNBaseOptions & { nonlinearity?: 'tanh' | 'relu' } = {}) {
    const nl = checkNonlinearity('RNN', opts.nonlinearity);
    super(nl === 'relu' ? 'RNN_RELU' : 'RNN_TANH', inputSize, hiddenSize, opts);
  }
  get nonlinearity(): 'tanh' | 'relu' {
    return this.mode === 'RNN_RELU' ? 'relu' : 'tanh';
  }
  forward(x: Tensor, state?: Tensor | HiddenState, opts: RNNForwardOptions = {}): SequenceResult<HiddenState> {
    const { output, state: s } = this.runLayers(x, stateArg('RNN.forward', state), opts);
    return { output, state: { h: s.h } };
  }
}

/**
 * Long short-term memory, like `torch.nn.LSTM` (gates i, f, g, o; optional projection
 * h_t = W_hr (o ⊙ tanh c_t) with projSize, as in Sak et al. 2014).
 *
 * Returns `{ output, state: { h, c } }` where PyTorch returns `(output, (h_n, c_n))`; the
 * initial state is `{ h, c }` in the same shapes.
 * Shapes (batchFirst): x (B, T, I) → output (B, T, D·P), state.h (numLayers·D, B, P),
 * state.c (numLayers·D, B, H), with P = projSize or H. Parameters as PyTorch's, plus
 * weight_hr_l{k} (P, H) when projecting.
 *
 * @example
 * const lstm = new LSTM(3, 8, { bidirectional: true });
 * const { output, state } = lstm.forward(randn([4, 10, 3]), undefined, { lengths: [10, 7, 3, 1] });
 * output.shape; // [4, 10, 16]; state.h and state.c: [2, 4, 8]
 */
export class LSTM extends RNNBase implements SequenceLayer<LSTMState> {
  constructor(inputSize: number, hiddenSize: number, opts: RNNBaseOptions & { projSize?: number } = {}) {
    super('LSTM', inputSize, hiddenSize, opts);
  }
  forward(x: Tensor, state?: LSTMState, opts: RNNForwardOptions = {}): SequenceResult<LSTMState> {
    return this.runLayers(x, state, opts) as SequenceResult<LSTMState>;
  }
}

/**
 * Gated recurrent unit, like `torch.nn.GRU` (gates r, z, n; the reset gate applied after
 * the hidden matmul, h' = (1 − z) n + z h). `resetAfter: false` is Cho et al.'s variant,
 * n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn), with the same parameters.
 *
 * Returns `{ output, state: { h } }`, as `RNN`; shapes as `RNN` with weight_ih_l{k} (3H, ·),
 * weight_hh_l{k} (3H, H).
 *
 * @example
 * const gru = new GRU(3, 8, { batchFirst: false });
 * const { output, state } = gru.forward(randn([10, 4, 3])); // [10, 4, 8]; state.h: [1, 4, 8]
 */
export class GRU extends RNNBase implements SequenceLayer<HiddenState> {
  constructor(inputSize: number, hiddenSize: number, opts: RNNBaseOptions & { resetAfter?: boolean } = {}) {
    super('GRU', inputSize, hiddenSize, opts);
  }
  forward(x: Tensor, state?: Tensor | HiddenState, opts: RNNForwardOptions = {}): SequenceResult<HiddenState> {
    const { output, state: s } = this.runLayers(x, stateArg('GRU.forward', state), opts);
    return { output, state: { h: s.h } };
  }
}
