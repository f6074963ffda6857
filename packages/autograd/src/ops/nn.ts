import { SeqgradError, checkOptions, fmt } from '../errors.js';
import { normAxis, sameShape } from '../shapes.js';
import { Generator, defaultGenerator } from '../random.js';
import { Tensor, arrayFor } from '../tensor.js';
import { abs, add, div, exp, log, mul, neg, relu, sub, where } from './elementwise.js';
import { matmul } from './matmul.js';
import { assertFloat } from './op.js';
import { maxShift, mean, sum } from './reduce.js';
import { permute, reshape } from './shape.js';
import { gather } from './indexing.js';

export type Reduction = 'mean' | 'sum' | 'none';

/** Validates `reduction` at a loss's entry (default 'mean'), so a typo fails before any work. */
function checkReduction(op: string, reduction: Reduction | undefined): Reduction {
  const r = reduction ?? 'mean';
  if (r !== 'mean' && r !== 'sum' && r !== 'none') {
    throw new SeqgradError(op, `reduction must be 'mean', 'sum' or 'none', got '${String(r)}'`);
  }
  return r;
}

function reduceLoss(loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'mean') return mean(loss);
  if (reduction === 'sum') return sum(loss);
  return loss;
}

/**
 * softmax(x)ᵢ = exp(xᵢ − m) / Σⱼ exp(xⱼ − m) along `axis`, with m = max(x) a constant
 * (composed; no overflow for large |x|, and no cancellation against a large logsumexp).
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  assertFloat('softmax', 'x', x);
  const a = normAxis('softmax', axis, x.ndim);
  const e = exp(sub(x, maxShift(x, [a])));
  return div(e, sum(e, a, true));
}

/**
 * log softmax(x) = (x − m) − log Σ exp(x − m) along `axis`, m = max(x) a constant (composed;
 * exact to rounding even in float32 for |x| ~ 1e4, where x − logsumexp(x) would cancel).
 */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  assertFloat('logSoftmax', 'x', x);
  const a = normAxis('logSoftmax', axis, x.ndim);
  const shifted = sub(x, maxShift(x, [a]));
  return sub(shifted, log(sum(exp(shifted), a, true)));
}

/**
 * y = x Wᵀ + b for x (..., in), weight (out, in), bias (out), like `torch.nn.functional.linear`.
 * The transpose is read in place by the GEMM, never copied.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  assertFloat('linear', 'x', x);
  assertFloat('linear', 'weight', weight);
  if (weight.ndim !== 2) throw new SeqgradError('linear', `weight must be 2-D (out, in), got ${fmt(weight.shape)}`);
  if (x.shape[x.ndim - 1] !== weight.shape[1]) {
    throw new SeqgradError('linear', `x${fmt(x.shape)} has ${x.shape[x.ndim - 1]} features but weight${fmt(weight.shape)} expects ${weight.shape[1]}`);
  }
  const y = matmul(x, weight, { transB: true });
  if (bias === undefined || bias === null) return y;
  if (bias.ndim !== 1 || bias.shape[0] !== weight.shape[0]) {
    throw new SeqgradError('linear', `bias${fmt(bias.shape)} must be 1-D of size ${weight.shape[0]} to match weight${fmt(weight.shape)}`);
  }
  return add(y, bias);
}

export interface CrossEntropyOptions {
  reduction?: Reduction;
  /** Targets equal to this contribute nothing and are left out of the mean (default −100). */
  ignoreIndex?: number;
}

/**
 * Cross entropy between logits and integer class targets, computed from logSoftmax (stable
 * for logits up to ±1e4). Shapes as PyTorch: logits (N, C) with targets (N), (C) with a
 * 0-d target, or (N, C, d₁, …) with targets (N, d₁, …).
 *
 * @example
 * crossEntropy(logits, tensor([2, 0], { dtype: 'int32' })); // mean over the batch
 */
export function crossEntropy(logits: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  assertFloat('crossEntropy', 'logits', logits);
  if (!(target instanceof Tensor)) throw new SeqgradError('crossEntropy', 'target must be an integer Tensor');
  checkOptions('crossEntropy', opts, ['reduction', 'ignoreIndex']);
  const reduction = checkReduction('crossEntropy', opts.reduction);
  const ignoreIndex = opts.ignoreIndex ?? -100;
  if (logits.ndim === 0) throw new SeqgradError('crossEntropy', 'logits must have at least one dimension (classes)');
  const C = logits.ndim === 1 ? logits.shape[0]! : logits.shape[1]!;
  const expected = logits.ndim === 1 ? [] : [logits.shape[0]!, ...logits.shape.slice(2)];
  if (!sameShape(target.shape, expected)) {
    throw new SeqgradError(
      'crossEntropy',
      `target${fmt(target.shape)} does not match logits${fmt(logits.shape)}: expected target shape ${fmt(expected)}`,
    );
  }
  // Bring classes to the last axis and flatten to (M, C).
  let x2 = logits.ndim === 1 ? reshape(logits, [1, C]) : logits;
  if (x2.ndim > 2) {
    const perm = [0, ...Array.from({ length: x2.ndim - 2 }, (_, i) => i + 2), 1];
    x2 = reshape(permute(x2, perm), [-1, C]);
  }
  const M = target.size;
  const safe = new Int32Array(M);
  const valid = arrayFor(logits.dtype, M);
  let count = 0;
  for (let i = 0; i < M; i++) {
    const t = target.data[i]!;
    if (t === ignoreIndex) continue;
    if (!Number.isInteger(t) || t < 0 || t >= C) {
      throw new SeqgradError('crossEntropy', `target holds ${t} at position ${i}; classes are 0..${C - 1} (logits${fmt(logits.shape)})`);
    }
    safe[i] = t;
    valid[i] = 1;
    count++;
  }
  const picked = reshape(gather(logSoftmax(x2, 1), 1, new Tensor(safe, [M, 1])), [M]);
  // where, not a product with the mask: an ignored row may hold −Infinity, and 0 · ∞ is NaN.
  const loss = where(new Tensor(valid, [M]), neg(picked), 0);
  if (reduction === 'none') return reshape(loss, target.shape);
  if (reduction === 'sum') return sum(loss);
  // Mean over the targets that are not ignored (NaN when all are, as in PyTorch).
  return mul(sum(loss), 1 / count);
}

/** Mean squared error; input and target must have the same shape. */
export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  assertFloat('mseLoss', 'input', input);
  assertFloat('mseLoss', 'target', target);
  checkOptions('mseLoss', opts, ['reduction']);
  const reduction = checkReduction('mseLoss', opts.reduction);
  if (!sameShape(input.shape, target.shape)) {
    throw new SeqgradError('mseLoss', `input${fmt(input.shape)} and target${fmt(target.shape)} must have the same shape`);
  }
  const d = sub(input, target);
  return reduceLoss(mul(d, d), reduction);
}

/**
 * Binary cross entropy on logits, in the stable form
 * (1 − y) x + (1 + (w − 1) y) (log(1 + e^(−|x|)) + max(−x, 0)), w = posWeight (default 1).
 */
export function binaryCrossEntropyWithLogits(
  input: Tensor, target: Tensor, opts: { reduction?: Reduction; posWeight?: Tensor | number } = {},
): Tensor {
  assertFloat('binaryCrossEntropyWithLogits', 'input', input);
  assertFloat('binaryCrossEntropyWithLogits', 'target', target);
  const reduction = checkReduction('binaryCrossEntropyWithLogits', opts.reduction);
  if (!sameShape(input.shape, target.shape)) {
    throw new SeqgradError('binaryCrossEntropyWithLogits', `input${fmt(input.shape)} and target${fmt(target.shape)} must have the same shape`);
  }
  const softplusNeg = add(log(add(exp(neg(abs(input))), 1)), relu(neg(input)));
  const w = opts.posWeight ?? 1;
  const coef = w === 1 ? null : add(mul(target, typeof w === 'number' ? w - 1 : sub(w, 1)), 1);
  const loss = add(mul(sub(1, target), input), coef ? mul(coef, softplusNeg) : softplusNeg);
  return reduceLoss(loss, reduction);
}

/**
 * Zeroes each element with probability p and scales the rest by 1/(1 − p) (inverted dropout),
 * drawing the mask from the seeded generator. Identity when `training` is false.
 */
export function dropout(x: Tensor, p = 0.5, opts: { training?: boolean; generator?: Generator } = {}): Tensor {
  assertFloat('dropout', 'x', x);
  if (!(p >= 0 && p <= 1)) throw new SeqgradError('dropout', `p must be in [0, 1], got ${p}`);
  if (opts.training === false || p === 0) return x;
  const g = opts.generator ?? defaultGenerator;
  const mask = arrayFor(x.dtype, x.size);
  const scale = p === 1 ? 0 : 1 / (1 - p);
  for (let i = 0; i < mask.length; i++) mask[i] = g.uniform() < p ? 0 : scale;
  return mul(x, new Tensor(mask, x.shape));
}

