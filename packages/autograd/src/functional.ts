import { runBackward, setGradEnabled } from './engine.js';
import { SeqgradError, fmt, sameShape, show } from './errors.js';
import { onesLike, zerosLike } from './creation.js';
import { Tensor, isTensor } from './tensor.js';

// Function transforms: gradients of outputs with respect to inputs, without touching `.grad`.

export interface GradOptions {
  gradOutputs?: readonly (Tensor | null)[] | Tensor;
  retainGraph?: boolean;
  createGraph?: boolean;
  allowUnused?: boolean;
}

/**
 * Gradients of `outputs` with respect to `inputs`, returned without touching `.grad`
 * (like `torch.autograd.grad`). With `createGraph` the results are differentiable.
 *
 * @example
 * const x = tensor([2], { dtype: 'float64', requiresGrad: true });
 * const [dx] = grad(x.pow(3).sum(), [x], { createGraph: true }); // 3x² = 12
 * const [ddx] = grad(dx!.sum(), [x]);                             // 6x = 12
 */
export function grad(outputs: Tensor | readonly Tensor[], inputs: Tensor | readonly Tensor[], opts: GradOptions = {}): (Tensor | null)[] {
  const outs = isTensor(outputs) ? [outputs] : [...outputs];
  const ins = isTensor(inputs) ? [inputs] : [...inputs];
  const gos = opts.gradOutputs === undefined ? [] : isTensor(opts.gradOutputs) ? [opts.gradOutputs] : [...opts.gradOutputs];
  ins.forEach((t, i) => {
    if (!t.requiresGrad) throw new SeqgradError('grad', `input ${i} (shape ${fmt(t.shape)}) does not require grad`);
  });
  const rootGrads = outs.map((o, i) => {
    if (!o.requiresGrad) throw new SeqgradError('grad', `output ${i} (shape ${fmt(o.shape)}) does not require grad`);
    const g = gos[i] ?? null;
    if (g === null) {
      if (o.size !== 1) {
        throw new SeqgradError('grad', `output ${i} has shape ${fmt(o.shape)}: grad can be implicitly created only for one-element outputs; pass gradOutputs`);
      }
      return onesLike(o);
    }
    if (!sameShape(g.shape, o.shape)) throw new SeqgradError('grad', `gradOutputs[${i}]${fmt(g.shape)} does not match output ${i}${fmt(o.shape)}`);
    return g;
  });
  return runBackward(outs, rootGrads, { ...opts, inputs: ins })!;
}

/**
 * Wraps `fn(...args)` (returning a one-element tensor) into a function that returns its
 * value and the gradients with respect to the tensor arguments at `argnums` (default 0),
 * like `jax.value_and_grad`. Arguments are not modified; their `.grad` is untouched.
 *
 * @example
 * const f = valueAndGrad((x: Tensor) => x.square().sum());
 * const [value, [dx]] = f(tensor([1, 2, 3])); // 14, [2, 4, 6]
 */
export function valueAndGrad<Args extends unknown[]>(
  fn: (...args: Args) => Tensor,
  opts: { argnums?: number | readonly number[]; createGraph?: boolean } = {},
): (...args: Args) => [Tensor, Tensor[]] {
  const argnums = typeof opts.argnums === 'number' ? [opts.argnums] : [...(opts.argnums ?? [0])];
  return (...args: Args) => {
    const wrapped = [...args] as unknown[];
    const inputs = argnums.map((i) => {
      const a = args[i];
      if (!isTensor(a)) throw new SeqgradError('valueAndGrad', `argument ${i} is not a tensor`);
      const leaf = opts.createGraph && a.requiresGrad ? a : new Tensor(a.data, a.shape, true);
      wrapped[i] = leaf;
      return leaf;
    });
    const value = setGradEnabled(true, () => fn(...(wrapped as Args)));
    if (!(value instanceof Tensor)) throw new SeqgradError('valueAndGrad', `fn must return a one-element tensor, got ${show(value)}`);
    if (value.size !== 1) throw new SeqgradError('valueAndGrad', `fn must return a one-element tensor, got shape ${fmt(value.shape)}`);
    const grads = grad(value, inputs, { allowUnused: true, createGraph: opts.createGraph }).map(
      (g, i) => g ?? zerosLike(inputs[i]!),
    );
    return [opts.createGraph ? value : value.detach(), grads];
  };
}


