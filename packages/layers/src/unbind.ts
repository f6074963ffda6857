import { type FunctionCtx, SeqgradError, Tensor, arrayFor, defineFunction, fmt, stack } from '@seqgrad/autograd';

// One recorded function for all slices (see unbind).
const unbindFn = defineFunction({
  name: 'unbind',
  forward(ctx: FunctionCtx, x: Tensor, axis: number): Tensor[] {
    ctx.axis = axis;
    const n = x.shape[axis]!;
    const outer = x.shape.slice(0, axis).reduce((a, b) => a * b, 1);
    const inner = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const shape = [...x.shape.slice(0, axis), ...x.shape.slice(axis + 1)];
    const outs: Tensor[] = [];
    for (let k = 0; k < n; k++) {
      const out = arrayFor(x.dtype, outer * inner);
      for (let o = 0; o < outer; o++) {
        const s = (o * n + k) * inner;
        out.set(x.data.subarray(s, s + inner), o * inner);
      }
      outs.push(new Tensor(out, shape));
    }
    return outs;
  },
  // d unbind(x) = stack(dy₀, …, dy_{n−1}) along the axis
  backward(ctx: FunctionCtx, ...grads: Tensor[]) {
    return [stack(grads, ctx.axis as number), null];
  },
});

/**
 * Splits x along `axis` into its slices, with that axis removed (like `torch.unbind`), as
 * ONE recorded function: its backward stacks the T slice gradients once, O(size of x).
 * Taking the steps of a sequence with `select` instead costs a full-size gradient per step,
 * O(T · size of x) in backward. The backward is made of ops (`stack`), so it can be
 * differentiated again.
 *
 * @example
 * const steps = unbind(randn([2, 5, 3]), 1); // 5 tensors of shape [2, 3]
 */
export function unbind(x: Tensor, axis = 0): Tensor[] {
  if (!(x instanceof Tensor)) throw new SeqgradError('unbind', 'x must be a Tensor');
  const a = axis < 0 ? axis + x.ndim : axis;
  if (!Number.isInteger(a) || a < 0 || a >= x.ndim) throw new SeqgradError('unbind', `axis=${axis} is out of range for x${fmt(x.shape)}`);
  if (x.shape[a] === 0) return [];
  return unbindFn(x, a);
}
