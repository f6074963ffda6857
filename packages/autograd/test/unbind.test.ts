import { grad, randn, sum, mul, unbind } from '@seqgrad/autograd';
import { expect, test } from 'vitest';

const f64 = { dtype: 'float64' as const };

test('unbind: slices along an axis; the gradient is the stacked slice gradients', () => {
  const x = randn([2, 3, 4], { ...f64, requiresGrad: true });
  const steps = unbind(x, 1);
  expect(steps.map((s) => s.shape)).toEqual([[2, 4], [2, 4], [2, 4]]);
  expect(Array.from(steps[1]!.data)).toEqual(Array.from(x.select(1, 1).data));
  // Only steps 0 and 2 are used: the gradient of step 1 is zero.
  const [g] = grad(add3(sum(mul(steps[0]!, 2)), sum(steps[2]!)), [x]);
  const want = x.select(1, 0).mul(0).add(2);
  expect(Array.from(g!.select(1, 0).data)).toEqual(Array.from(want.data));
  expect(Array.from(g!.select(1, 1).data)).toEqual(new Array(8).fill(0));
  expect(Array.from(g!.select(1, 2).data)).toEqual(new Array(8).fill(1));
  expect(() => unbind(x, 3)).toThrow('unbind: axis=3 is out of range for x[2,3,4]');
});

test('unbind: differentiable twice', () => {
  const x = randn([3, 2], { ...f64, requiresGrad: true });
  const [dx] = grad(sum(unbind(x, 0)[1]!.pow(3)), [x], { createGraph: true });
  const [ddx] = grad(sum(dx!), [x]);
  expect(Array.from(ddx!.select(0, 1).data)).toEqual(Array.from(x.select(0, 1).mul(6).data));
});

function add3(a: ReturnType<typeof sum>, b: ReturnType<typeof sum>) {
  return a.add(b);
}
