import {
  type FloatDType, type Generator, SeqgradError, type Tensor, add, dropout, embedding, fmt, isTensor, linear, mul, show, sqrt, sub,
  variance, mean, div, zeros as zerosTensor,
} from '@seqgrad/autograd';
import * as init from './init.js';
import { Module } from './module.js';
import { checkBoolean, checkDtype, checkInput, checkNumber, checkOptions, checkPositiveInt } from './validate.js';

/** Options every layer with parameters takes. */
export interface LayerOptions {
  /** Parameter dtype (default float32, as PyTorch). */
  dtype?: FloatDType;
  /** Where initial weights are drawn from (default: the global seeded generator). */
  generator?: Generator;
}

/**
 * A zero parameter of the given shape (filled by an initialiser right after). With `op`, a
 * shape too large to allocate is an error naming the layer being built.
 */
export function param(shape: readonly number[], dtype: FloatDType = 'float32', op?: string): Tensor {
  try {
    return zerosTensor(shape, { dtype, requiresGrad: true });
  } catch (e) {
    if (op && e instanceof SeqgradError) throw new SeqgradError(op, `parameter ${fmt(shape)}: ${e.message.slice(e.op.length + 2)}`);
    throw e;
  }
}

/**
 * y = x Wᵀ + b, like `torch.nn.Linear`. Shapes: x (..., in) → y (..., out); weight (out, in),
 * bias (out). Default init U(−1/√in, 1/√in) for both (PyTorch's).
 *
 * @example
 * const lin = new Linear(3, 2);
 * lin.forward(randn([5, 3])).shape; // [5, 2]
 */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly dtype: FloatDType;

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LayerOptions & { bias?: boolean } = {}) {
    super();
    checkPositiveInt('Linear', 'inFeatures', inFeatures);
    checkPositiveInt('Linear', 'outFeatures', outFeatures);
    checkOptions('Linear', opts, ['bias', 'dtype', 'generator']);
    this.dtype = checkDtype('Linear', opts.dtype);
    const bias = checkBoolean('Linear', 'bias', opts.bias, true);
    this.weight = this.registerParameter('weight', param([outFeatures, inFeatures], this.dtype, 'Linear'));
    this.bias = this.registerParameter('bias', bias ? param([outFeatures], this.dtype, 'Linear') : null);
    this.resetParameters(opts.generator);
  }

  resetParameters(generator?: Generator): void {
    const k = 1 / Math.sqrt(this.inFeatures);
    init.uniform(this.weight, -k, k, { generator });
    if (this.bias) init.uniform(this.bias, -k, k, { generator });
  }

  forward(x: Tensor): Tensor {
    checkInput('Linear.forward', 'x', x, this.dtype);
    if (x.ndim === 0 || x.shape[x.ndim - 1] !== this.inFeatures) {
      throw new SeqgradError('Linear.forward', `x${fmt(x.shape)} must end in inFeatures=${this.inFeatures}`);
    }
    return linear(x, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `${this.inFeatures}, ${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

/**
 * A lookup table, like `torch.nn.Embedding`: int32 indices of any shape → (..., dim).
 * Default init N(0, 1); the `paddingIdx` row starts at zero and never receives a gradient.
 *
 * @example
 * const emb = new Embedding(10, 4, { paddingIdx: 0 });
 * emb.forward(tensor([[1, 0, 3]], { dtype: 'int32' })).shape; // [1, 3, 4]
 */
export class Embedding extends Module {
  readonly weight: Tensor;
  readonly paddingIdx: number | undefined;

  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, opts: LayerOptions & { paddingIdx?: number } = {}) {
    super();
    checkPositiveInt('Embedding', 'numEmbeddings', numEmbeddings);
    checkPositiveInt('Embedding', 'embeddingDim', embeddingDim);
    checkOptions('Embedding', opts, ['paddingIdx', 'dtype', 'generator']);
    const p = opts.paddingIdx;
    if (p !== undefined && (!Number.isInteger(p) || p < -numEmbeddings || p >= numEmbeddings)) {
      throw new SeqgradError('Embedding', `paddingIdx=${p} must be an integer in [${-numEmbeddings}, ${numEmbeddings})`);
    }
    this.paddingIdx = p === undefined ? undefined : p < 0 ? p + numEmbeddings : p;
    this.weight = this.registerParameter('weight', param([numEmbeddings, embeddingDim], checkDtype('Embedding', opts.dtype), 'Embedding'));
    this.resetParameters(opts.generator);
  }

  resetParameters(generator?: Generator): void {
    init.normal(this.weight, 0, 1, { generator });
    if (this.paddingIdx !== undefined) {
      this.weight.data.fill(0, this.paddingIdx * this.embeddingDim, (this.paddingIdx + 1) * this.embeddingDim);
      this.weight.bumpVersion();
    }
  }

  forward(indices: Tensor | readonly number[]): Tensor {
    const op = 'Embedding.forward';
    if (!Array.isArray(indices) && !isTensor(indices)) {
      throw new SeqgradError(op, `indices must be an int32 Tensor or an array of integers, got ${show(indices)}`);
    }
    if (isTensor(indices) && indices.dtype !== 'int32') {
      throw new SeqgradError(op, `indices${fmt(indices.shape)} must be int32, got ${indices.dtype}`);
    }
    // The range check names this layer (embedding() checks again, naming itself, for direct callers).
    const V = this.numEmbeddings;
    const values = isTensor(indices) ? indices.data : indices;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isInteger(v) || v < -V || v >= V) {
        throw new SeqgradError(op, `indices hold ${v} at position ${i}; indices must be integers in [${-V}, ${V}) for numEmbeddings=${V}`);
      }
    }
    return embedding(this.weight, indices, { paddingIdx: this.paddingIdx });
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx !== undefined ? `, paddingIdx=${this.paddingIdx}` : ''}`;
  }
}

/**
 * Inverted dropout, like `torch.nn.Dropout`: in training mode each element is zeroed with
 * probability p and the rest scaled by 1/(1−p); identity in eval mode.
 *
 * @example
 * const drop = new Dropout(0.1);
 * drop.eval().forward(x) === x; // true
 */
export class Dropout extends Module {
  readonly generator: Generator | undefined;
  constructor(readonly p = 0.5, opts: { generator?: Generator } = {}) {
    super();
    if (!(p >= 0 && p <= 1)) throw new SeqgradError('Dropout', `p must be in [0, 1], got ${p}`);
    checkOptions('Dropout', opts, ['generator']);
    this.generator = opts.generator;
  }
  forward(x: Tensor): Tensor {
    if (!isTensor(x)) throw new SeqgradError('Dropout.forward', `x must be a Tensor, got ${show(x)}`);
    return dropout(x, this.p, { training: this.training, generator: this.generator });
  }
  override extraRepr(): string {
    return `p=${this.p}`;
  }
}

/**
 * y = (x − mean) / √(var + eps) · γ + β over the trailing `normalizedShape` axes (biased
 * variance), like `torch.nn.LayerNorm`; composed from autograd ops. γ = 1, β = 0 at init.
 *
 * @example
 * const ln = new LayerNorm(8);
 * ln.forward(randn([2, 5, 8])).shape; // [2, 5, 8]
 */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly dtype: FloatDType;

  constructor(normalizedShape: number | readonly number[], readonly opts: { eps?: number; elementwiseAffine?: boolean; bias?: boolean; dtype?: FloatDType } = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    this.normalizedShape.forEach((d, i) => checkPositiveInt('LayerNorm', `normalizedShape[${i}]`, d));
    checkOptions('LayerNorm', opts, ['eps', 'elementwiseAffine', 'bias', 'dtype']);
    checkNumber('LayerNorm', 'eps', opts.eps, 1e-5, 0);
    this.dtype = checkDtype('LayerNorm', opts.dtype);
    const affine = checkBoolean('LayerNorm', 'elementwiseAffine', opts.elementwiseAffine, true);
    const bias = checkBoolean('LayerNorm', 'bias', opts.bias, true);
    this.weight = this.registerParameter('weight', affine ? init.ones(param(this.normalizedShape, this.dtype, 'LayerNorm')) : null);
    this.bias = this.registerParameter('bias', affine && bias ? param(this.normalizedShape, this.dtype, 'LayerNorm') : null);
  }

  get eps(): number {
    return this.opts.eps ?? 1e-5;
  }

  forward(x: Tensor): Tensor {
    checkInput('LayerNorm.forward', 'x', x, this.dtype);
    const k = this.normalizedShape.length;
    const tail = x.shape.slice(x.ndim - k);
    if (x.ndim < k || tail.some((d, i) => d !== this.normalizedShape[i])) {
      throw new SeqgradError('LayerNorm.forward', `x${fmt(x.shape)} must end in normalizedShape ${fmt(this.normalizedShape)}`);
    }
    const axes = Array.from({ length: k }, (_, i) => x.ndim - k + i);
    const centered = sub(x, mean(x, axes, true));
    let y = div(centered, sqrt(add(variance(x, axes, { keepdim: true, correction: 0 }), this.eps)));
    if (this.weight) y = mul(y, this.weight);
    if (this.bias) y = add(y, this.bias);
    return y;
  }

  override extraRepr(): string {
    return `${fmt(this.normalizedShape)}, eps=${this.eps}`;
  }
}

/** Anything with a one-tensor forward. */
export interface TensorModule extends Module {
  forward(x: Tensor): Tensor;
}

/**
 * Chains modules: forward(x) = mₙ(…m₁(x)). Children are named 0, 1, … as in PyTorch.
 *
 * @example
 * const mlp = new Sequential(new Linear(4, 8), new Dropout(0.1), new Linear(8, 2));
 * mlp.forward(randn([3, 4])).shape; // [3, 2]
 */
export class Sequential extends Module {
  readonly layers: TensorModule[];
  constructor(...layers: TensorModule[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => {
      if (!(m instanceof Module) || typeof (m as TensorModule).forward !== 'function') {
        throw new SeqgradError('Sequential', `argument ${i} must be a Module with a forward(x) method`);
      }
      this.registerModule(String(i), m);
    });
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.layers) y = m.forward(y);
    return y;
  }
}
