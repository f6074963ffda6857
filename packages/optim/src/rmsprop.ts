import type { Tensor, kernels } from '@seqgrad/autograd';
import { numberIn, Optimizer, stateBuffer, type OptionRules, type ParamGroup, type ParamState } from './optimizer.js';
import type { ParamsInput } from './params.js';

export interface RMSpropOptions {
  /** Learning rate. Default 1e-2. */
  lr: number;
  /** Smoothing constant α of the squared-gradient average. Default 0.99. */
  alpha: number;
  /** Added to the denominator for stability. Default 1e-8. */
  eps: number;
  /** L2 penalty added to the gradient. Default 0. */
  weightDecay: number;
  /** Momentum factor μ. Default 0. */
  momentum: number;
  /** Normalize by an estimate of the variance instead of the raw second moment. Default false. */
  centered: boolean;
  /** Maximize the objective instead of minimizing. Default false. */
  maximize: boolean;
}

const RMSPROP_RULES: OptionRules<RMSpropOptions> = {
  lr: numberIn(0), eps: numberIn(0), momentum: numberIn(0), weightDecay: numberIn(0), alpha: numberIn(0), centered: 'flag', maximize: 'flag',
};

/**
 * RMSprop (Hinton's lecture 6e), exactly as `torch.optim.RMSprop`:
 *
 *   g ← ±∇ + λ·θ,   s ← α·s + (1 − α)·g²
 *   a ← √(s − ḡ²) + ε with ḡ ← α·ḡ + (1 − α)·g (centered),  else a ← √s + ε
 *   b ← μ·b + g/a, θ ← θ − lr·b (momentum > 0),  else θ ← θ − lr·g/a
 *
 * State per parameter: `step`, `squareAvg` (and `momentumBuffer`, `gradAvg`).
 *
 * @example
 * const opt = new RMSprop(model.parameters(), { lr: 1e-3 });
 * loss.backward(); opt.step(); opt.zeroGrad();
 */
export class RMSprop extends Optimizer<RMSpropOptions> {
  protected readonly stateSchema = { step: 'step', squareAvg: 'buffer', momentumBuffer: 'buffer?', gradAvg: 'buffer?' } as const;

  constructor(params: ParamsInput, options: Partial<RMSpropOptions> = {}) {
    super(params, { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false }, options, RMSPROP_RULES);
  }

  protected update(p: Tensor, grad: ArrayLike<number>, state: ParamState, group: ParamGroup<RMSpropOptions>): void {
    const { lr, alpha, eps, weightDecay, momentum, centered, maximize } = group;
    if (state.step === undefined) {
      state.step = 0;
      state.squareAvg = stateBuffer(p);
    }
    if (momentum > 0 && !state.momentumBuffer) state.momentumBuffer = stateBuffer(p);
    if (centered && !state.gradAvg) state.gradAvg = stateBuffer(p);
    state.step = (state.step as number) + 1;
    const s = state.squareAvg as kernels.FloatArray;
    const gAvg = state.gradAvg as kernels.FloatArray | undefined;
    const buf = state.momentumBuffer as kernels.FloatArray | undefined;
    const theta = p.data;
    const n = theta.length;
    for (let i = 0; i < n; i++) {
      let g = maximize ? -grad[i]! : grad[i]!;
      if (weightDecay !== 0) g = g + weightDecay * theta[i]!;
      s[i] = s[i]! * alpha + (1 - alpha) * g * g;
      let avg: number;
      if (centered) {
        gAvg![i] = gAvg![i]! * alpha + (1 - alpha) * g;
        avg = Math.sqrt(s[i]! + -1 * gAvg![i]! * gAvg![i]!);
      } else {
        avg = Math.sqrt(s[i]!);
      }
      avg = avg + eps;
      if (momentum > 0) {
        buf![i] = buf![i]! * momentum + g / avg;
        theta[i] = theta[i]! + -lr * buf![i]!;
      } else {
        theta[i] = theta[i]! + (-lr * g) / avg;
      }
    }
  }
}
