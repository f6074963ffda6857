import { checkOptions, SeqgradError, show, type Tensor, type TypedArray } from '@seqgrad/autograd';
import { flattenParams, type ParamsInput } from './params.js';

export interface ClipGradNormOptions {
  /** Order p of the norm: any number (2, 1, 0.5, 3, ...), `Infinity` for the largest |g|. Default 2. */
  normType?: number;
  /** Throw when the total norm is NaN or infinite instead of scaling by it. Default false. */
  errorIfNonfinite?: boolean;
}

/**
 * The p-norm of a flat array: (Σ |x|^p)^(1/p); `Infinity` gives max |x|, `-Infinity`
 * min |x|, and p = 0 counts the non-zero entries (as `torch.linalg.vector_norm`).
 *
 * @example
 * vectorNorm([3, -4]);           // 5
 * vectorNorm([3, -4], 1);        // 7
 * vectorNorm([3, -4], Infinity); // 4
 */
export function vectorNorm(x: ArrayLike<number>, p = 2): number {
  const n = x.length;
  if (p === Infinity || p === -Infinity) {
    if (n === 0) return p === Infinity ? 0 : Infinity;
    let m = Math.abs(x[0]!);
    for (let i = 1; i < n; i++) {
      const a = Math.abs(x[i]!);
      if (Number.isNaN(a)) return NaN;
      if (p === Infinity ? a > m : a < m) m = a;
    }
    return m;
  }
  if (p === 0) {
    let count = 0;
    for (let i = 0; i < n; i++) if (x[i] !== 0) count += x[i] !== x[i] ? NaN : 1;
    return count;
  }
  let s = 0;
  if (p === 2) {
    for (let i = 0; i < n; i++) s += x[i]! * x[i]!;
    return Math.sqrt(s);
  }
  if (p === 1) {
    for (let i = 0; i < n; i++) s += Math.abs(x[i]!);
    return s;
  }
  for (let i = 0; i < n; i++) s += Math.abs(x[i]!) ** p;
  return s ** (1 / p);
}

/**
 * Rescales the gradients of `params` so that their total p-norm is at most `maxNorm`,
 * in place, with PyTorch's formula (`torch.nn.utils.clip_grad_norm_`):
 *
 *   total = ‖(‖g₁‖_p, ‖g₂‖_p, …)‖_p          (the norm of all gradients as one vector)
 *   g ← g · min(1, maxNorm / (total + 1e-6))
 *
 * Tensors whose `.grad` is null are skipped. Returns the total norm before clipping.
 * The 1e-6 keeps the division finite and leaves the clipped norm a hair below maxNorm;
 * TensorFlow and optax use maxNorm / max(total, maxNorm) instead (see docs/optim.md).
 *
 * Non-finite norms: with `errorIfNonfinite` a NaN or ±Infinity total throws. Without it,
 * as in PyTorch, the gradients are multiplied anyway: a NaN total turns every gradient
 * into NaN; an infinite total multiplies by 0, so finite entries become 0 and infinite
 * ones NaN. Either way the next `step()` would poison the parameters: check the result.
 *
 * @example
 * loss.backward();
 * const norm = clipGradNorm(model.parameters(), 1.0);
 * optimizer.step();
 */
export function clipGradNorm(params: ParamsInput, maxNorm: number, opts: ClipGradNormOptions = {}): number {
  checkOptions('clipGradNorm', opts, ['normType', 'errorIfNonfinite']);
  const normType = opts.normType ?? 2;
  // PyTorch accepts maxNorm <= 0: a negative one flips every gradient (descent becomes ascent)
  // and 0 zeroes them. Neither is clipping, so both are refused here.
  if (typeof maxNorm !== 'number' || !(maxNorm > 0)) {
    throw new SeqgradError('clipGradNorm', `maxNorm must be a positive number (or Infinity), got ${show(maxNorm)}`);
  }
  checkNormType('clipGradNorm', normType);
  const withGrad = paramsWithGrad('clipGradNorm', params);
  if (withGrad.length === 0) return 0;
  const grads = withGrad.map((p) => p.grad!.data);
  const total = totalNorm(grads, normType);
  if (opts.errorIfNonfinite && !Number.isFinite(total)) {
    throw new SeqgradError(
      'clipGradNorm',
      `the total norm of order ${normType} of the gradients is ${total}, so they cannot be clipped; ` +
        'to scale the gradients by the non-finite norm anyway, set errorIfNonfinite: false',
    );
  }
  const coef = maxNorm / (total + 1e-6);
  // Math.min(NaN, 1) is NaN, like torch.clamp(NaN, max=1): a NaN norm spreads to every gradient.
  const scale = Number.isNaN(coef) ? NaN : Math.min(coef, 1);
  if (scale !== 1) {
    for (const p of withGrad) {
      const g = p.grad!.data;
      for (let i = 0; i < g.length; i++) g[i] = g[i]! * scale;
      p.grad!.bumpVersion();
    }
  }
  return total;
}

/**
 * Clamps every gradient entry of `params` into [-value, value], in place
 * (`torch.nn.utils.clip_grad_value_`). NaN entries stay NaN.
 *
 * @example
 * loss.backward();
 * clipGradValue(model.parameters(), 0.5);
 * optimizer.step();
 */
export function clipGradValue(params: ParamsInput, value: number): void {
  if (typeof value !== 'number' || !(value >= 0)) {
    throw new SeqgradError('clipGradValue', `value must be a non-negative number, got ${show(value)}`);
  }
  for (const p of paramsWithGrad('clipGradValue', params)) {
    const g = p.grad!.data;
    for (let i = 0; i < g.length; i++) {
      const x = g[i]!;
      g[i] = x > value ? value : x < -value ? -value : x;
    }
    p.grad!.bumpVersion();
  }
}

/** The order of a norm: any number but NaN, or ±Infinity. */
function checkNormType(op: string, normType: unknown): void {
  if (typeof normType !== 'number' || Number.isNaN(normType)) {
    throw new SeqgradError(op, `normType must be a number or Infinity, got ${show(normType)}`);
  }
}

/** ‖(‖g₁‖_p, ‖g₂‖_p, …)‖_p: the p-norm of all gradients taken as one vector. */
function totalNorm(grads: readonly TypedArray[], normType: number): number {
  return vectorNorm(Float64Array.from(grads, (g) => vectorNorm(g, normType)), normType);
}

/** The tensors of `params` that have a gradient (read once: `params` may be a one-shot iterator). */
function paramsWithGrad(op: string, params: ParamsInput): Tensor[] {
  return flattenParams(op, params).filter((p) => p.grad !== null);
}

/**
 * The total p-norm of the gradients of `params`, computed as clipGradNorm does but without
 * changing them (for logging the gradient norm, e.g. to spot explosions).
 *
 * @example
 * loss.backward();
 * console.log(gradNorm(model.parameters())); // before clipping
 */
export function gradNorm(params: ParamsInput, normType = 2): number {
  checkNormType('gradNorm', normType);
  const grads = paramsWithGrad('gradNorm', params).map((p) => p.grad!.data);
  if (grads.length === 0) return 0;
  return totalNorm(grads, normType);
}
