import type { Tensor, kernels } from '@seqgrad/autograd';
import { numberIn, Optimizer, stateBuffer, type OptionRules, type ParamGroup, type ParamState } from './optimizer.js';
import type { ParamsInput } from './params.js';

export interface AdagradOptions {
  /** Learning rate. Default 1e-2. */
  lr: number;
  /** Learning-rate decay δ: the step t uses lr / (1 + (t − 1)·δ). Default 0. */
  lrDecay: number;
  /** L2 penalty added to the gradient. Default 0. */
  weightDecay: number;
  /** Starting value of the sum of squared gradients. Default 0. */
  initialAccumulatorValue: number;
  /** Added to the denominator for stability. Default 1e-10. */
  eps: number;
  /** Maximize the objective instead of minimizing. Default false. */
  maximize: boolean;
}

const ADAGRAD_RULES: OptionRules<AdagradOptions> = {
  lr: numberIn(0), lrDecay: numberIn(0), weightDecay: numberIn(0), initialAccumulatorValue: numberIn(0), eps: numberIn(0), maximize: 'flag',
};

/**
 * Adagrad (Duchi et al. 2011), exactly as `torch.optim.Adagrad`:
 *
 *   t ← t + 1,   g ← ±∇ + λ·θ,   S ← S + g²
 *   θ ← θ − lr / (1 + (t − 1)·δ) · g / (√S + ε)
 *
 * State per parameter: `step`, `sum`.
 *
 * @example
 * const opt = new Adagrad(model.parameters(), { lr: 0.1 });
 * loss.backward(); opt.step(); opt.zeroGrad();
 */
export class Adagrad extends Optimizer<AdagradOptions> {
  protected readonly stateSchema = { step: 'step', sum: 'buffer' } as const;

  constructor(params: ParamsInput, options: Partial<AdagradOptions> = {}) {
    super(params, { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false }, options, ADAGRAD_RULES);
  }

  protected update(p: Tensor, grad: ArrayLike<number>, state: ParamState, group: ParamGroup<AdagradOptions>): void {
    const { lr, lrDecay, weightDecay, initialAccumulatorValue, eps, maximize } = group;
    if (state.step === undefined) {
      state.step = 0;
      state.sum = stateBuffer(p, initialAccumulatorValue);
    }
    const step = (state.step as number) + 1;
    state.step = step;
    const sum = state.sum as kernels.FloatArray;
    const clr = lr / (1 + (step - 1) * lrDecay);
    const theta = p.data;
    const n = theta.length;
    for (let i = 0; i < n; i++) {
      let g = maximize ? -grad[i]! : grad[i]!;
      if (weightDecay !== 0) g = g + weightDecay * theta[i]!;
      sum[i] = sum[i]! + 1 * g * g;
      const std = Math.sqrt(sum[i]!) + eps;
      theta[i] = theta[i]! + (-clr * g) / std;
    }
  }
}
