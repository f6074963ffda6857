import type { Tensor, kernels } from '@seqgrad/autograd';
import { numberIn, Optimizer, pairIn, stateBuffer, type OptionRules, type ParamGroup, type ParamState } from './optimizer.js';
import type { ParamsInput } from './params.js';

export interface AdamOptions {
  /** Learning rate. Default 1e-3. */
  lr: number;
  /** Decay rates (β₁, β₂) of the first and second moment averages. Default [0.9, 0.999]. */
  betas: readonly [number, number];
  /** Added to the denominator for stability. Default 1e-8. */
  eps: number;
  /** Adam: L2 penalty added to the gradient (default 0). AdamW: decoupled decay (default 1e-2). */
  weightDecay: number;
  /** Use the running maximum of the second moment (AMSGrad). Default false. */
  amsgrad: boolean;
  /** Maximize the objective instead of minimizing. Default false. */
  maximize: boolean;
}

const ADAM_RULES: OptionRules<AdamOptions> = {
  lr: numberIn(0), eps: numberIn(0), betas: pairIn(0, 1), weightDecay: numberIn(0), amsgrad: 'flag', maximize: 'flag',
};

/**
 * Adam (Kingma & Ba 2015), exactly as `torch.optim.Adam`, including the order in which
 * the bias corrections are applied:
 *
 *   t ← t + 1,   g ← ±∇ + λ·θ
 *   m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²      (v̂ ← max(v̂, v) with AMSGrad)
 *   denom ← √v / √(1 − β₂ᵗ) + ε
 *   θ ← θ − (lr / (1 − β₁ᵗ)) · m / denom
 *
 * State per parameter: `step`, `expAvg`, `expAvgSq` (and `maxExpAvgSq` with AMSGrad).
 *
 * @example
 * const opt = new Adam(model.parameters(), { lr: 1e-3 });
 * loss.backward(); opt.step(); opt.zeroGrad();
 */
export class Adam extends Optimizer<AdamOptions> {
  /** True in AdamW: decay θ by (1 − lr·λ) instead of adding λ·θ to the gradient. */
  protected readonly decoupled: boolean = false;
  protected readonly stateSchema = { step: 'step', expAvg: 'buffer', expAvgSq: 'buffer', maxExpAvgSq: 'buffer?' } as const;

  constructor(params: ParamsInput, options: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false }, options, ADAM_RULES);
  }

  protected update(p: Tensor, grad: ArrayLike<number>, state: ParamState, group: ParamGroup<AdamOptions>): void {
    const { lr, eps, weightDecay, amsgrad, maximize } = group;
    const beta1 = group.betas[0];
    const beta2 = group.betas[1];
    if (state.step === undefined) {
      state.step = 0;
      state.expAvg = stateBuffer(p);
      state.expAvgSq = stateBuffer(p);
    }
    // Also when amsgrad is switched on for a group that already has state.
    if (amsgrad && !state.maxExpAvgSq) state.maxExpAvgSq = stateBuffer(p);
    const step = (state.step as number) + 1;
    state.step = step;
    const m = state.expAvg as kernels.FloatArray;
    const v = state.expAvgSq as kernels.FloatArray;
    const vMax = state.maxExpAvgSq as kernels.FloatArray | undefined;
    const theta = p.data;
    const n = theta.length;
    const decoupled = this.decoupled;
    const l2 = decoupled ? 0 : weightDecay;
    // The scalars are computed once per step in the same order as PyTorch.
    const bias1 = 1 - beta1 ** step;
    const bias2 = 1 - beta2 ** step;
    const stepSize = lr / bias1;
    const bias2Sqrt = Math.sqrt(bias2);
    const decay = 1 - lr * weightDecay;
    for (let i = 0; i < n; i++) {
      if (decoupled) theta[i] = theta[i]! * decay;
      let g = maximize ? -grad[i]! : grad[i]!;
      if (l2 !== 0) g = g + l2 * theta[i]!;
      m[i] = m[i]! * beta1 + (1 - beta1) * g;
      v[i] = v[i]! * beta2 + (1 - beta2) * g * g;
      let second = v[i]!;
      if (amsgrad) {
        const mx = Math.max(vMax![i]!, second);
        vMax![i] = mx;
        second = vMax![i]!;
      }
      const denom = Math.sqrt(second) / bias2Sqrt + eps;
      theta[i] = theta[i]! + (-stepSize * m[i]!) / denom;
    }
  }
}

/**
 * AdamW (Loshchilov & Hutter 2019), exactly as `torch.optim.AdamW`: Adam whose weight
 * decay is decoupled from the gradient, θ ← θ·(1 − lr·λ) before the Adam update.
 * Default weightDecay 1e-2.
 *
 * @example
 * const opt = new AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.01 });
 * loss.backward(); opt.step(); opt.zeroGrad();
 */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;

  constructor(params: ParamsInput, options: Partial<AdamOptions> = {}) {
    super(params, { weightDecay: 1e-2, ...options });
  }
}
