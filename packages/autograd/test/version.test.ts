import { type Tensor, defineFunction, ones, randn, reshape, tensor } from '@seqgrad/autograd';
import { describe, expect, test } from 'vitest';

describe('version counter', () => {
  test('Tensor.bumpVersion: counts in-place writes, shared by views of one buffer', () => {
    const x = randn([2, 3]);
    const view = reshape(x, [6]);
    expect(x.version).toBe(0);
    x.bumpVersion().bumpVersion();
    expect(x.version).toBe(2);
    expect(view.version).toBe(2);
    expect(x.detach().version).toBe(2);
    expect(x.clone().version).toBe(0);
  });

  test('backward: a saved input changed in place is an error naming the op', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([3, 4], { requiresGrad: true });
    const y = a.mul(b).sum();
    b.data[0] = 10;
    b.bumpVersion();
    expect(() => y.backward()).toThrow(
      /^mul: a tensor needed for gradient computation has been modified by an inplace operation: saved tensor 1\[2\] \(float32\) is at version 1; it was at version 0/,
    );
  });

  test('backward: a saved output changed in place is an error naming the op', () => {
    const x = tensor([0.5, -0.5], { requiresGrad: true });
    const y = x.tanh();
    const loss = y.sum();
    y.data.fill(0);
    y.bumpVersion();
    expect(() => loss.backward()).toThrow(/^tanh: a tensor needed for gradient computation has been modified/);
  });

  test('backward: without the write the gradient is the right one', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([3, 4], { requiresGrad: true });
    a.mul(b).sum().backward();
    expect(Array.from(a.grad!.data)).toEqual([3, 4]);
  });

  test('backward: a change to a tensor no op saved is allowed', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([3, 4]);
    const y = a.add(b).sum(); // add saves nothing: its gradient does not depend on b's values
    b.bumpVersion();
    y.backward();
    expect(Array.from(a.grad!.data)).toEqual([1, 1]);
  });

  test('backward: the second backward of a retained graph checks again', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const y = a.mul(a).sum();
    y.backward(undefined, { retainGraph: true });
    a.bumpVersion();
    expect(() => y.backward()).toThrow(/^mul: a tensor needed for gradient computation has been modified/);
  });

  test('defineFunction: a user op names itself when its saved tensor changed', () => {
    const cube = defineFunction({
      name: 'cube',
      forward: (ctx, x: Tensor) => {
        ctx.saveForBackward(x);
        return x.pow(3);
      },
      backward: (ctx, g) => g.mul(ctx.savedTensors[0]!.pow(2)).mul(3),
    });
    const x = ones([3], { requiresGrad: true });
    const y = cube(x).sum();
    x.bumpVersion();
    expect(() => y.backward()).toThrow(/^cube: a tensor needed for gradient computation has been modified/);
  });
});
