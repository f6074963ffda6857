import { SeqgradError, type Tensor, logSoftmax, relu, sigmoid, softmax, tanh } from '@seqgrad/autograd';
import { Module } from '@seqgrad/layers';

export type ActivationKind = 'tanh' | 'relu' | 'sigmoid' | 'softmax' | 'logSoftmax';
const KINDS: readonly ActivationKind[] = ['tanh', 'relu', 'sigmoid', 'softmax', 'logSoftmax'];

/**
 * An activation as a module, so it can sit in a `Sequential` and be exported to ONNX (`Tanh`,
 * `Relu`, `Sigmoid`, `Softmax`, `LogSoftmax`). `axis` applies to softmax and logSoftmax
 * (default −1, the last axis, as `torch.nn.Softmax(dim=-1)`).
 *
 * @example
 * const mlp = new Sequential(new Linear(4, 8), new Activation('tanh'), new Linear(8, 3), new Activation('softmax'));
 * mlp.forward(randn([2, 4])).shape; // [2, 3]
 */
export class Activation extends Module {
  constructor(readonly kind: ActivationKind, readonly axis = -1) {
    super();
    if (!KINDS.includes(kind)) throw new SeqgradError('Activation', `kind must be one of ${KINDS.join(', ')}, got '${String(kind)}'`);
    if (!Number.isInteger(axis)) throw new SeqgradError('Activation', `axis must be an integer, got ${axis}`);
  }

  forward(x: Tensor): Tensor {
    switch (this.kind) {
      case 'tanh': return tanh(x);
      case 'relu': return relu(x);
      case 'sigmoid': return sigmoid(x);
      case 'softmax': return softmax(x, this.axis);
      case 'logSoftmax': return logSoftmax(x, this.axis);
    }
  }

  override extraRepr(): string {
    return this.kind === 'softmax' || this.kind === 'logSoftmax' ? `${this.kind}, axis=${this.axis}` : this.kind;
  }
}
