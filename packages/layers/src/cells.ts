import { type FloatDType, type Generator, type Tensor, linear } from '@seqgrad/autograd';
import { param } from './basic.js';
import { checkBoolean, checkInitOptions, checkNonlinearity, checkOptions } from './validate.js';
import { type CellState, RecurrentCell } from './cell.js';
import { type RecurrentInitOptions, gruStep, initRecurrent, lstmStep, rnnStep } from './functional.js';

/** Options of the built-in cells. */
export interface CellOptions extends RecurrentInitOptions {
  bias?: boolean;
  dtype?: FloatDType;
  generator?: Generator;
}

/** The four parameters of a built-in cell (a layer's `DirectionParams` has the same fields). */
export interface GateParameters {
  weightIh: Tensor;
  weightHh: Tensor;
  biasIh: Tensor | null;
  biasHh: Tensor | null;
}

/**
 * The key under which `RNNBase.cell` hands a cell its layer's parameter tensors, to be used as
 * they are (shared, not copied, not re-initialised). Not exported from the package: a user
 * builds a cell with fresh parameters, or gets one over a layer's from `RNNBase.cell`.
 */
export const SHARED_PARAMETERS: unique symbol = Symbol('shared parameters');

/** The four parameters every built-in cell has, under PyTorch's cell names. */
abstract class GatedCell<S extends CellState> extends RecurrentCell<S> {
  readonly weightIh: Tensor;
  readonly weightHh: Tensor;
  readonly biasIh: Tensor | null;
  readonly biasHh: Tensor | null;

  /** Options a subclass takes beyond CellOptions (RNNCell's nonlinearity, GRUCell's resetAfter). */
  protected static readonly extraOptions: readonly string[] = [];

  constructor(inputSize: number, hiddenSize: number, readonly gates: number, opts: CellOptions & { [SHARED_PARAMETERS]?: GateParameters }) {
    super(inputSize, hiddenSize, opts);
    const op = new.target.name;
    const extra = (new.target as unknown as { extraOptions: readonly string[] }).extraOptions;
    checkOptions(op, opts, ['bias', 'dtype', 'generator', 'recurrentInit', 'forgetBias', ...extra]);
    checkInitOptions(op, opts);
    const G = gates * hiddenSize;
    const bias = checkBoolean(op, 'bias', opts.bias, true);
    const shared = opts[SHARED_PARAMETERS];
    this.weightIh = this.registerParameter('weight_ih', shared?.weightIh ?? param([G, inputSize], this.dtype, op));
    this.weightHh = this.registerParameter('weight_hh', shared?.weightHh ?? param([G, hiddenSize], this.dtype, op));
    this.biasIh = this.registerParameter('bias_ih', shared ? shared.biasIh : bias ? param([G], this.dtype, op) : null);
    this.biasHh = this.registerParameter('bias_hh', shared ? shared.biasHh : bias ? param([G], this.dtype, op) : null);
    if (!shared) this.resetParameters(opts);
  }

  /** PyTorch's U(−1/√H, 1/√H) for every parameter, then the orthogonal / forget-bias options. */
  override resetParameters(opts: RecurrentInitOptions = {}): void {
    initRecurrent(this, this.hiddenSize, this.gates, opts);
  }

  protected inputProjection(x: Tensor): Tensor {
    return linear(x, this.weightIh, this.biasIh);
  }

  override extraRepr(): string {
    return `${this.inputSize}, ${this.hiddenSize}${this.biasIh ? '' : ', bias=false'}`;
  }
}

/**
 * h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu), like `torch.nn.RNNCell`.
 * Shapes: x (B, I) or (I); h (B, H) or (H). Parameters weight_ih (H, I), weight_hh (H, H),
 * bias_ih (H), bias_hh (H).
 *
 * @example
 * const cell = new RNNCell(3, 5);
 * const { h } = cell.forward(randn([2, 3])); // h: [2, 5]
 */
export class RNNCell extends GatedCell<{ h: Tensor }> {
  protected static override readonly extraOptions = ['nonlinearity'];
  readonly nonlinearity: 'tanh' | 'relu';
  readonly stateSizes: { h: number };
  constructor(inputSize: number, hiddenSize: number, opts: CellOptions & { nonlinearity?: 'tanh' | 'relu' } = {}) {
    super(inputSize, hiddenSize, 1, opts);
    this.nonlinearity = checkNonlinearity('RNNCell', opts.nonlinearity);
    this.stateSizes = { h: hiddenSize };
  }
  step(x: Tensor, s: { h: Tensor }): { h: Tensor } {
    return { h: rnnStep(this.inputProjection(x), s.h, this.weightHh, this.biasHh, this.nonlinearity) };
  }
}

/**
 * Long short-term memory, like `torch.nn.LSTMCell` (gate order i, f, g, o):
 * i, f, g, o = σ, σ, tanh, σ (W_ih x + b_ih + W_hh h + b_hh);  c' = f c + i g;  h' = o tanh(c').
 * Shapes: x (B, I) or (I); h, c (B, H) or (H). weight_ih (4H, I), weight_hh (4H, H).
 *
 * @example
 * const cell = new LSTMCell(3, 5, { forgetBias: 1 });
 * const { h, c } = cell.forward(randn([2, 3])); // [2, 5] each
 */
export class LSTMCell extends GatedCell<{ h: Tensor; c: Tensor }> {
  readonly stateSizes: { h: number; c: number };
  constructor(inputSize: number, hiddenSize: number, opts: CellOptions = {}) {
    super(inputSize, hiddenSize, 4, opts);
    this.stateSizes = { h: hiddenSize, c: hiddenSize };
  }
  step(x: Tensor, s: { h: Tensor; c: Tensor }): { h: Tensor; c: Tensor } {
    return lstmStep(this.inputProjection(x), s.h, s.c, this.weightHh, this.biasHh);
  }
}

/**
 * Gated recurrent unit, like `torch.nn.GRUCell` (gate order r, z, n):
 * r, z = σ(W_ir x + b_ir + W_hr h + b_hr), σ(…);  n = tanh(W_in x + b_in + r (W_hn h + b_hn));
 * h' = (1 − z) n + z h. With `resetAfter: false` the reset gate is applied before the
 * matmul instead: n = tanh(W_in x + b_in + W_hn (r h) + b_hn) (Cho et al. 2014).
 *
 * @example
 * const cell = new GRUCell(3, 5);
 * const { h } = cell.forward(randn([3])); // unbatched: h is [5]
 */
export class GRUCell extends GatedCell<{ h: Tensor }> {
  protected static override readonly extraOptions = ['resetAfter'];
  readonly resetAfter: boolean;
  readonly stateSizes: { h: number };
  constructor(inputSize: number, hiddenSize: number, opts: CellOptions & { resetAfter?: boolean } = {}) {
    super(inputSize, hiddenSize, 3, opts);
    this.resetAfter = checkBoolean('GRUCell', 'resetAfter', opts.resetAfter, true);
    this.stateSizes = { h: hiddenSize };
  }
  step(x: Tensor, s: { h: Tensor }): { h: Tensor } {
    return { h: gruStep(this.inputProjection(x), s.h, this.weightHh, this.biasHh, this.resetAfter) };
  }
  override extraRepr(): string {
    return `${super.extraRepr()}${this.resetAfter ? '' : ', resetAfter=false'}`;
  }
}
