import { describe, expect, test } from 'vitest';
import * as ag from '@seqgrad/autograd';
import {
  Tensor, arange, eye, full, fullLike, isTensor, ones, onesLike, tensor, zeros, zerosLike,
} from '@seqgrad/autograd';
import { f64 } from './helpers.js';

describe('creation', () => {
  test('tensor: nested arrays, numbers, booleans; float32 by default', () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(tensor(3).shape).toEqual([]);
    expect(tensor(3).item()).toBe(3);
    expect(Array.from(tensor([true, false]).data)).toEqual([1, 0]);
    expect(tensor([]).shape).toEqual([0]);
    expect(tensor([[]]).shape).toEqual([1, 0]);
  });

  test('tensor: typed arrays keep their dtype and are copied; shape option', () => {
    const src = new Float64Array([1, 2, 3, 4]);
    const t = tensor(src, { shape: [2, 2] });
    expect(t.dtype).toBe('float64');
    expect(t.data).not.toBe(src);
    expect(tensor(new Int32Array([1, 2])).dtype).toBe('int32');
    expect(tensor(new Int32Array([1, 2]), { dtype: 'float32' }).dtype).toBe('float32');
    expect(tensor([1, 2, 3, 4], { shape: [2, 2] }).toArray()).toEqual([[1, 2], [3, 4]]);
  });

  test('tensor: errors name the shapes', () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(/^tensor: ragged nested array: expected 2 elements at depth 1, got 1$/);
    expect(() => tensor([1, 2], { shape: [3] })).toThrow(/^tensor: shape \[3\] does not fit 2 values$/);
    expect(() => tensor(new Float32Array(4), { shape: [3] })).toThrow(/^tensor: shape \[3\] holds 3 elements but data has 4$/);
    expect(() => tensor([1], { dtype: 'float16' as 'float32' })).toThrow(/^tensor: unknown dtype 'float16'/);
  });

  test('zeros/ones/full/arange/eye and the *Like variants', () => {
    expect(zeros([2]).toArray()).toEqual([0, 0]);
    expect(ones([1, 2], { dtype: 'float64' }).dtype).toBe('float64');
    expect(full([2], 7).toArray()).toEqual([7, 7]);
    expect(Array.from(full([2], 1.7, { dtype: 'int32' }).data)).toEqual([1, 1]);
    expect(arange(3).toArray()).toEqual([0, 1, 2]);
    expect(arange(1, 2, 0.25).toArray()).toEqual([1, 1.25, 1.5, 1.75]);
    expect(arange(5, 0, -2).toArray()).toEqual([5, 3, 1]);
    expect(eye(2, 3).toArray()).toEqual([[1, 0, 0], [0, 1, 0]]);
    const x = f64([[1, 2]]);
    expect(zerosLike(x).dtype).toBe('float64');
    expect(onesLike(x).toArray()).toEqual([[1, 1]]);
    expect(fullLike(x, 3, { dtype: 'float32' }).dtype).toBe('float32');
    expect(() => arange(0, 1, 0)).toThrow(/^arange: step must be a non-zero finite number, got the number 0$/);
    expect(() => zeros([2, 1.5])).toThrow(/^zeros: shape \[2,1.5\] must hold non-negative integers$/);
  });

  test('requiresGrad option makes a leaf', () => {
    const x = ones([2], { requiresGrad: true });
    expect(x.requiresGrad).toBe(true);
    expect(x.isLeaf).toBe(true);
    expect(x.grad).toBeNull();
    expect(x.mul(2).isLeaf).toBe(false);
  });
});

describe('Tensor', () => {
  test('item: only one-element tensors', () => {
    expect(tensor([[5]]).item()).toBe(5);
    expect(() => tensor([1, 2]).item()).toThrow(/^item: only one-element tensors can be converted to a number, got shape \[2\]$/);
  });

  test('toString shows shape, dtype, gradFn and the first values', () => {
    expect(tensor([1, 2]).toString()).toBe('Tensor(shape=[2], dtype=float32, [1, 2])');
    expect(f64([1, 2, 3, 4, 5, 6, 7]).toString()).toBe('Tensor(shape=[7], dtype=float64, [1, 2, 3, 4, 5, 6, …])');
    expect(ones([1], { requiresGrad: true }).toString()).toMatch(/requiresGrad=true/);
    expect(ones([1], { requiresGrad: true }).mul(2).toString()).toMatch(/gradFn=mul/);
  });

  test('to/float/double convert dtype; methods mirror the functions', () => {
    const x = tensor([1.5, -2.5]);
    expect(x.double().dtype).toBe('float64');
    expect(x.double().float().dtype).toBe('float32');
    expect(Array.from(x.to('int32').data)).toEqual([1, -2]);
    expect(x.ndim).toBe(1);
    expect(x.size).toBe(2);
    expect(isTensor(x)).toBe(true);
    expect(isTensor([1])).toBe(false);
    expect(x instanceof Tensor).toBe(true);
  });

  test('grad is settable, as in PyTorch', () => {
    const x = ones([2], { requiresGrad: true });
    x.grad = tensor([1, 1]);
    x.mul(3).sum().backward();
    expect(x.grad!.toArray()).toEqual([4, 4]);
  });

  test('grad: an assigned gradient of the wrong shape or dtype is refused', () => {
    const x = ones([2, 3], { requiresGrad: true });
    expect(() => { x.grad = tensor([1, 2, 3]); }).toThrow(/^grad: assigned gradient\[3\] does not match the tensor's shape \[2,3\]$/);
    expect(() => { x.grad = tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64' }); }).toThrow(/^grad: assigned gradient\[2,3\] is float64 but the tensor is float32$/);
    x.grad = null;
    expect(x.grad).toBeNull();
  });

  test('clone copies the buffer and stays differentiable; detach shares it', () => {
    const x = f64([1, 2], true);
    const c = x.clone();
    expect(c.data).not.toBe(x.data);
    expect(c.requiresGrad).toBe(true);
    c.mul(c).sum().backward();
    expect(x.grad!.toArray()).toEqual([2, 4]);
    expect(x.detach().data).toBe(x.data);
  });
});

describe('methods', () => {
  test('every op method gives the same result as its function', () => {
    const x = f64([[0.5, -1, 2], [1.5, 0.25, -0.75]]);
    const y = f64([[1, 2, 3], [4, 5, 6]]);
    const pos = f64([[1, 2, 3], [4, 5, 6]]);
    const idx = tensor([[1, 0, 2], [0, 0, 1]], { dtype: 'int32' });
    const pairs: Array<[string, Tensor | Tensor[], Tensor | Tensor[]]> = [
      ['add', x.add(y), ag.add(x, y)], ['sub', x.sub(2), ag.sub(x, 2)], ['mul', x.mul(y), ag.mul(x, y)], ['div', x.div(y), ag.div(x, y)],
      ['neg', x.neg(), ag.neg(x)], ['pow', pos.pow(0.5), ag.pow(pos, 0.5)], ['square', x.square(), ag.square(x)], ['exp', x.exp(), ag.exp(x)],
      ['log', pos.log(), ag.log(pos)], ['sqrt', pos.sqrt(), ag.sqrt(pos)], ['abs', x.abs(), ag.abs(x)], ['tanh', x.tanh(), ag.tanh(x)],
      ['sigmoid', x.sigmoid(), ag.sigmoid(x)], ['relu', x.relu(), ag.relu(x)], ['clamp', x.clamp(0, 1), ag.clamp(x, 0, 1)],
      ['maximum', x.maximum(0), ag.maximum(x, 0)], ['minimum', x.minimum(y), ag.minimum(x, y)],
      ['eq', x.eq(2), ag.eq(x, 2)], ['ne', x.ne(2), ag.ne(x, 2)], ['lt', x.lt(y), ag.lt(x, y)], ['le', x.le(0.5), ag.le(x, 0.5)],
      ['gt', x.gt(0), ag.gt(x, 0)], ['ge', x.ge(0), ag.ge(x, 0)],
      ['sum', x.sum(1, true), ag.sum(x, 1, true)], ['mean', x.mean(0), ag.mean(x, 0)], ['max', x.max(1), ag.max(x, 1)], ['min', x.min(), ag.min(x)],
      ['argmax', x.argmax(1), ag.argmax(x, 1)], ['argmin', x.argmin(), ag.argmin(x)], ['logsumexp', x.logsumexp(1), ag.logsumexp(x, 1)],
      ['norm', x.norm(2, 1), ag.norm(x, 2, 1)], ['var', x.var(1), ag.variance(x, 1)],
      ['matmul', x.matmul(y.T), ag.matmul(x, ag.transpose(y))],
      ['reshape', x.reshape(3, 2), ag.reshape(x, [3, 2])], ['view', x.view([6]), ag.reshape(x, [6])], ['flatten', x.flatten(), ag.flatten(x)],
      ['squeeze', x.unsqueeze(0).squeeze(0), x], ['expand', x.sum(0, true).expand(4, 3), ag.expand(ag.sum(x, 0, true), [4, 3])],
      ['permute', x.permute(1, 0), ag.permute(x, [1, 0])], ['transpose', x.transpose(0, 1), ag.transpose(x, 0, 1)],
      ['narrow', x.narrow(1, 1, 2), ag.narrow(x, 1, 1, 2)], ['slice', x.slice(1, -1), ag.slice(x, 1, -1)], ['select', x.select(0, 1), ag.select(x, 0, 1)],
      ['split', x.split(2, 1), ag.split(x, 2, 1)], ['chunk', x.chunk(2, 1), ag.chunk(x, 2, 1)], ['flip', x.flip(1), ag.flip(x, 1)],
      ['indexSelect', x.indexSelect(1, [2, 0]), ag.indexSelect(x, 1, [2, 0])], ['gather', x.gather(1, idx), ag.gather(x, 1, idx)],
      ['softmax', x.softmax(0), ag.softmax(x, 0)], ['logSoftmax', x.logSoftmax(), ag.logSoftmax(x)],
    ];
    for (const [name, viaMethod, viaFunction] of pairs) {
      const ms = Array.isArray(viaMethod) ? viaMethod : [viaMethod];
      const fs = Array.isArray(viaFunction) ? viaFunction : [viaFunction];
      expect(ms.length, name).toBe(fs.length);
      ms.forEach((m, i) => expect(m, name).toBeAllclose(fs[i]!, { atol: 0, rtol: 0 }));
    }
  });
});
