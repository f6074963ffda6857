/**
 * Attention over encoder outputs, written only with the public API of @seqgrad/autograd and
 * @seqgrad/layers. Guide: docs/attention.md.
 *
 * Shapes: queries q (B, Tq, H) (decoder states), keys and values k (B, Ts, H) (encoder
 * outputs), sourceMask (B, Ts) with 1 at real tokens and 0 at padding.
 */
import { type FloatDType, type Generator, type Tensor, matmul, softmax, tanh, unsqueeze, where } from '@seqgrad/autograd';
import { Linear, Module } from '@seqgrad/layers';

/** What an attention module returns: the context vectors and the weights that made them. */
export interface AttentionResult {
  /** (B, Tq, H): Σ_j α_ij k_j for every query i. */
  context: Tensor;
  /** (B, Tq, Ts): α_ij, each row sums to 1 over the real source positions, 0 at padding. */
  weights: Tensor;
}

/**
 * Masked softmax over the source axis: scores at padded positions are replaced by −∞ before
 * the softmax, so their weight is exactly 0 and `where` sends them no gradient.
 * scores (B, Tq, Ts), sourceMask (B, Ts) → weights (B, Tq, Ts).
 */
export function maskedSoftmax(scores: Tensor, sourceMask: Tensor): Tensor {
  return softmax(where(unsqueeze(sourceMask, 1), scores, -Infinity), -1);
}

/** Interface shared by both scoring functions, so the model can take either. */
export interface Attention extends Module {
  forward(queries: Tensor, keys: Tensor, sourceMask: Tensor): AttentionResult;
}

/**
 * Dot-product attention (Luong et al. 2015, "dot"): score(q_i, k_j) = q_i · k_j. No parameters.
 * Unscaled: LSTM outputs lie in (−1, 1), so the scores are already bounded by H, and dividing
 * by √H (as Transformers do) made the softmax nearly uniform and learning slower here.
 */
export class DotAttention extends Module implements Attention {
  forward(queries: Tensor, keys: Tensor, sourceMask: Tensor): AttentionResult {
    const scores = matmul(queries, keys, { transB: true }); // (B, Tq, Ts)
    const weights = maskedSoftmax(scores, sourceMask);
    return { context: matmul(weights, keys), weights };
  }
}

/**
 * Additive attention (Bahdanau et al. 2015): score(q_i, k_j) = vᵀ tanh(W_q q_i + W_k k_j + b).
 * Parameters query (A, H) with the bias b, key (A, H), v (1, A); A is the attention size.
 */
export class AdditiveAttention extends Module implements Attention {
  readonly query: Linear;
  readonly key: Linear;
  readonly v: Linear;

  constructor(hiddenSize: number, attentionSize: number, opts: { dtype?: FloatDType; generator?: Generator } = {}) {
    super();
    this.query = this.registerModule('query', new Linear(hiddenSize, attentionSize, opts));
    this.key = this.registerModule('key', new Linear(hiddenSize, attentionSize, { ...opts, bias: false }));
    this.v = this.registerModule('v', new Linear(attentionSize, 1, { ...opts, bias: false }));
  }

  forward(queries: Tensor, keys: Tensor, sourceMask: Tensor): AttentionResult {
    const q = unsqueeze(this.query.forward(queries), 2); // (B, Tq, 1, A)
    const k = unsqueeze(this.key.forward(keys), 1); //      (B, 1, Ts, A)
    const scores = this.v.forward(tanh(q.add(k))).squeeze(-1); // (B, Tq, Ts, 1) → (B, Tq, Ts)
    const weights = maskedSoftmax(scores, sourceMask);
    return { context: matmul(weights, keys), weights };
  }
}
