import { SeqgradError, type Tensor, type kernels } from '@seqgrad/autograd';
import { numberIn, Optimizer, stateBuffer, type OptionRules, type ParamGroup, type ParamState } from './optimizer.js';
import type { ParamsInput } from './params.js';

export interface SGDOptions {
  /** Learning rate. Required, as in PyTorch. */
  lr: number;
  /** Momentum factor μ. Default 0. */
  momentum: number;
  /** Dampening τ of the momentum. Default 0. */
  dampening: number;
  /** L2 penalty λ added to the gradient. Default 0. */
  weightDecay: number;
  /** Nesterov momentum (needs momentum > 0 and dampening = 0). Default false. */
  nesterov: boolean;
  /** Maximize the objective instead of minimizing. Default false. */
  maximize: boolean;
}

const SGD_RULES: OptionRules<SGDOptions> = {
  lr: numberIn(0), momentum: numberIn(0), dampening: numberIn(-Infinity), weightDecay: numberIn(0), nesterov: 'flag', maximize: 'flag',
};

/**
 * Stochastic gradient descent with momentum, exactly as `torch.optim.SGD`:
 *
 *   g ← ±∇ + λ·θ
 *   b ← g (first step),  b ← μ·b + (1 − τ)·g (after)
 *   g ← g + μ·b (Nesterov)  or  g ← b
 *   θ ← θ − lr·g
 *
 * State per parameter: `momentumBuffer` (null while momentum is 0).
 *
 * @example
 * const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 * loss.backward(); opt.step(); opt.zeroGrad();
 */
export class SGD extends Optimizer<SGDOptions> {
  protected readonly stateSchema = { momentumBuffer: 'buffer|null' } as const;

  constructor(params: ParamsInput, options: Partial<SGDOptions> & { lr: number }) {
    super(params, { lr: options.lr, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false }, options, SGD_RULES);
  }

  /** The option rules, then nesterov's requirement of momentum > 0 and dampening = 0. */
  protected override validate(o: SGDOptions): void {
    super.validate(o);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
      throw new SeqgradError('SGD', `nesterov momentum requires momentum > 0 and dampening = 0, got momentum ${o.momentum}, dampening ${o.dampening}`);
    }
  }

  protected update(p: Tensor, grad: ArrayLike<number>, state: ParamState, group: ParamGroup<SGDOptions>): void {
    const { lr, momentum, dampening, weightDecay, nesterov, maximize } = group;
    const theta = p.data;
    const n = theta.length;
    let buf = (state.momentumBuffer as kernels.FloatArray | null | undefined) ?? null;
    const first = momentum !== 0 && buf === null;
    if (first) state.momentumBuffer = buf = stateBuffer(p);
    else if (state.momentumBuffer === undefined) state.momentumBuffer = null;
    for (let i = 0; i < n; i++) {
      let g = maximize ? -grad[i]! : grad[i]!;
      if (weightDecay !== 0) g = g + weightDecay * theta[i]!;
      if (momentum !== 0) {
        const b = first ? g : buf![i]! * momentum + (1 - dampening) * g;
        buf![i] = b;
        g = nesterov ? g + momentum * buf![i]! : buf![i]!;
      }
      theta[i] = theta[i]! + -lr * g;
    }
  }
}
