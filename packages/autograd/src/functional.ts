import { runBackward, setGradEnabled } from './engine.js';
import { SeqgradError, fmt, show } from './errors.js';
import { sameShape } from './shapes.js';
import { withForwardLevel } from './forward.js';
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


// ---------------------------------------------------------------------------------------
// Forward mode, and its compositions with reverse mode
// ---------------------------------------------------------------------------------------

/** One tensor or several, as functions given to jvp/vjp/hvp take and return them. */
type Tensors = Tensor | readonly Tensor[];

function asList(op: string, what: string, x: Tensors): Tensor[] {
  const list = isTensor(x) ? [x] : Array.isArray(x) ? [...x] : null;
  if (list === null) throw new SeqgradError(op, `${what} must be a Tensor or an array of Tensors, got ${show(x)}`);
  list.forEach((t, i) => {
    if (!isTensor(t)) throw new SeqgradError(op, `${what}[${i}] must be a Tensor, got ${show(t)}`);
    if (t.dtype === 'int32') throw new SeqgradError(op, `${what}[${i}]${fmt(t.shape)} is int32; derivatives need float32 or float64`);
  });
  return list;
}

/** Checks that `tangents` pairs one tensor of the same shape with each primal, in the primal's dtype. */
function pairTangents(op: string, primals: Tensor[], given: Tensors, what: string): Tensor[] {
  const tangents = asList(op, what, given);
  if (tangents.length !== primals.length) {
    throw new SeqgradError(op, `got ${primals.length} primals but ${tangents.length} ${what}`);
  }
  return tangents.map((t, i) => {
    const p = primals[i]!;
    if (!sameShape(t.shape, p.shape)) throw new SeqgradError(op, `${what}[${i}]${fmt(t.shape)} does not match primals[${i}]${fmt(p.shape)}`);
    return t.dtype === p.dtype ? t : t.to(p.dtype);
  });
}

function outputsOf(op: string, out: unknown): Tensor[] {
  if (isTensor(out)) return [out];
  if (Array.isArray(out) && out.every(isTensor)) return out;
  throw new SeqgradError(op, `fn must return a Tensor or an array of Tensors, got ${show(out)}`);
}

/**
 * Forward-mode derivative: evaluates `fn(...primals)` and the directional derivative J·v of
 * its output along `tangents` (one per primal, of its shape), in one forward pass, like
 * `torch.func.jvp` and `jax.jvp`. Each primitive pushes the tangent through its own forward
 * rule, written with differentiable ops: the tangents can be differentiated again (reverse
 * mode through them, as {@link hvp} does the other way round).
 *
 * Returns `[output, outputTangent]` (arrays when `fn` returns an array).
 *
 * @example
 * const x = tensor([1, 2], { dtype: 'float64' });
 * const [y, dy] = jvp((a) => a.mul(a).sum(), [x], [tensor([1, 0], { dtype: 'float64' })]);
 * // y = 5, dy = 2·1·1 + 2·2·0 = 2
 */
export function jvp<Out extends Tensor | Tensor[]>(fn: (...primals: Tensor[]) => Out, primals: Tensors, tangents: Tensors): [Out, Out] {
  if (typeof fn !== 'function') throw new SeqgradError('jvp', `fn must be a function, got ${show(fn)}`);
  const ps = asList('jvp', 'primals', primals);
  const ts = pairTangents('jvp', ps, tangents, 'tangents');
  return withForwardLevel((level) => {
    ps.forEach((p, i) => level.tangents.set(p, ts[i]!));
    const out = fn(...ps);
    const outs = outputsOf('jvp', out);
    const touts = outs.map((o) => level.tangents.get(o) ?? zerosLike(o));
    return [out, (Array.isArray(out) ? touts : touts[0]!) as Out];
  });
}

/**
 * Reverse-mode derivative as a function: evaluates `fn(...primals)` and returns it with a
 * function that maps cotangents u (one per output, of its shape) to uᵀJ, one gradient per
 * primal, like `torch.func.vjp` and `jax.vjp`. The function can be called more than once.
 *
 * @example
 * const [y, pullback] = vjp((a) => a.tanh(), [tensor([0, 1], { dtype: 'float64' })]);
 * const [dx] = pullback(onesLike(y)); // 1 − tanh²(x)
 */
export function vjp<Out extends Tensor | Tensor[]>(
  fn: (...primals: Tensor[]) => Out, primals: Tensors,
): [Out, (cotangents: Tensors) => Tensor[]] {
  if (typeof fn !== 'function') throw new SeqgradError('vjp', `fn must be a function, got ${show(fn)}`);
  const ps = asList('vjp', 'primals', primals);
  const leaves = ps.map((p) => (p.requiresGrad ? p : new Tensor(p.data, p.shape, true)));
  const out = setGradEnabled(true, () => fn(...leaves));
  const outs = outputsOf('vjp', out);
  const pullback = (cotangents: Tensors): Tensor[] => {
    const us = pairTangents('vjp', outs, cotangents, 'cotangents');
    const live = outs.map((o, i) => ({ o, u: us[i]! })).filter(({ o }) => o.requiresGrad);
    if (live.length === 0) return leaves.map((l) => zerosLike(l));
    const gs = grad(live.map(({ o }) => o), leaves, { gradOutputs: live.map(({ u }) => u), retainGraph: true, allowUnused: true });
    return gs.map((g, i) => g ?? zerosLike(leaves[i]!));
  };
  return [out, pullback];
}

/**
 * Hessian-vector product of a scalar function, forward over reverse: the jvp, along `v`, of
 * the gradient of `fn` at `primals`. Costs about one forward and two backward passes, never
 * builds the Hessian. Returns `[value, gradients, hessianTimesV]` (one per primal).
 *
 * The gradient is taken with respect to fresh leaves sharing the primals' values, so the
 * results do not depend on the primals' `requiresGrad` and carry no graph back to them.
 *
 * @example
 * const x = tensor([1, 2], { dtype: 'float64' });
 * const [, [g], [hv]] = hvp((a) => a.pow(3).sum(), [x], [tensor([1, 1], { dtype: 'float64' })]);
 * // g = 3x² = [3, 12], H v = 6x ⊙ v = [6, 12]
 */
export function hvp(fn: (...primals: Tensor[]) => Tensor, primals: Tensors, v: Tensors): [Tensor, Tensor[], Tensor[]] {
  if (typeof fn !== 'function') throw new SeqgradError('hvp', `fn must be a function, got ${show(fn)}`);
  const ps = asList('hvp', 'primals', primals);
  const vs = pairTangents('hvp', ps, v, 'v');
  const leaves = ps.map((p) => new Tensor(p.data, p.shape, true));
  return withForwardLevel((level) => {
    leaves.forEach((l, i) => level.tangents.set(l, vs[i]!));
    const value = setGradEnabled(true, () => fn(...leaves));
    if (!isTensor(value) || value.size !== 1) {
      throw new SeqgradError('hvp', `fn must return a one-element tensor, got ${isTensor(value) ? `shape ${fmt(value.shape)}` : show(value)}`);
    }
    const gs = grad(value, leaves, { allowUnused: true }).map((g, i) => g ?? zerosLike(leaves[i]!));
    const hv = gs.map((g) => level.tangents.get(g) ?? zerosLike(g));
    return [value.detach(), gs.map((g) => g.detach()), hv];
  });
}
