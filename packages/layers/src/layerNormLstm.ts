// The worked example of a custom cell. It uses only what @seqgrad/autograd and
// @seqgrad/layers export publicly (RecurrentCell, LayerNorm, Module helpers, init):
// nothing here reaches into another file's internals.
import { type FloatDType, type Generator, type Tensor, add, chunk, matmul, mul, sigmoid, tanh, zeros } from '@seqgrad/autograd';
import { LayerNorm } from './basic.js';
import { RecurrentCell } from './cell.js';
import * as init from './init.js';
import { checkOptions } from './validate.js';

type LSTMState = { h: Tensor; c: Tensor };

/**
 * LSTM with layer normalisation (Ba, Kiros & Hinton 2016):
 * gates = LN(W_ih x) + LN(W_hh h) + b;  i, f, g, o = σ, σ, tanh, σ (gates);
 * c' = f c + i g;  h' = o tanh(LN(c')).  Parameters: weight_ih (4H, I), weight_hh (4H, H),
 * bias (4H), and the three LayerNorms (ln_ih, ln_hh, ln_c).
 *
 * @example
 * const cell = new LayerNormLSTMCell(3, 8);
 * const out = new Recurrent(cell).forward(randn([2, 5, 3])).output; // [2, 5, 8]
 */
export class LayerNormLSTMCell extends RecurrentCell<LSTMState> {
  readonly stateSizes = { h: this.hiddenSize, c: this.hiddenSize };
  readonly weightIh: Tensor;
  readonly weightHh: Tensor;
  readonly bias: Tensor;
  readonly lnIh: LayerNorm;
  readonly lnHh: LayerNorm;
  readonly lnC: LayerNorm;

  constructor(inputSize: number, hiddenSize: number, opts: { dtype?: FloatDType; generator?: Generator } = {}) {
    super(inputSize, hiddenSize, opts);
    checkOptions('LayerNormLSTMCell', opts, ['dtype', 'generator']);
    const H = hiddenSize;
    const p = (shape: number[]) => zeros(shape, { dtype: this.dtype });
    this.weightIh = this.registerParameter('weight_ih', p([4 * H, inputSize]));
    this.weightHh = this.registerParameter('weight_hh', p([4 * H, H]));
    this.bias = this.registerParameter('bias', p([4 * H]));
    this.resetParameters(opts.generator);
    // LayerNorms without their own bias: the gate bias above plays that role.
    this.lnIh = this.registerModule('ln_ih', new LayerNorm(4 * H, { bias: false, dtype: this.dtype }));
    this.lnHh = this.registerModule('ln_hh', new LayerNorm(4 * H, { bias: false, dtype: this.dtype }));
    this.lnC = this.registerModule('ln_c', new LayerNorm(H, { dtype: this.dtype }));
  }

  /** U(−1/√H, 1/√H) for the weights and the bias, as PyTorch's LSTM (Bidirectional calls it on its copy). */
  override resetParameters(generator?: Generator): void {
    const k = 1 / Math.sqrt(this.hiddenSize);
    for (const t of [this.weightIh, this.weightHh, this.bias]) init.uniform(t, -k, k, { generator });
  }

  step(x: Tensor, { h, c }: LSTMState): LSTMState {
    const gates = add(add(this.lnIh.forward(matmul(x, this.weightIh, { transB: true })), this.lnHh.forward(matmul(h, this.weightHh, { transB: true }))), this.bias);
    const [i, f, g, o] = chunk(gates, 4, -1) as [Tensor, Tensor, Tensor, Tensor];
    const cNext = add(mul(sigmoid(f), c), mul(sigmoid(i), tanh(g)));
    return { h: mul(sigmoid(o), tanh(this.lnC.forward(cNext))), c: cNext };
  }
}
