import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  type Tensor, argmax, argmin, grad, logsumexp, max, mean, min, norm, sum, sumTo, tensor, variance,
} from '@seqgrad/autograd';
import { f64, num, shapeArb, tensorArb } from './helpers.js';

const m = () => f64([[1, 2, 3], [4, 5, 6]]);

describe('sum and mean', () => {
  test('sum: all, one axis, negative axis, several axes, keepdim', () => {
    expect(sum(m())).toBeAllclose(21);
    expect(sum(m(), 0)).toBeAllclose([5, 7, 9]);
    expect(sum(m(), -1)).toBeAllclose([6, 15]);
    expect(sum(m(), 1, true)).toBeAllclose([[6], [15]]);
    const x = f64([[[1, 2], [3, 4]], [[5, 6], [7, 8]]]);
    expect(sum(x, [0, 2])).toBeAllclose([1 + 2 + 5 + 6, 3 + 4 + 7 + 8]);
    expect(sum(x, [0, 2], true).shape).toEqual([1, 2, 1]);
  });

  test('sum: backward broadcasts the gradient back', () => {
    const x = f64([[1, 2, 3], [4, 5, 6]], true);
    sum(x, 1).mul(f64([1, 10])).sum().backward();
    expect(x.grad).toBeAllclose([[1, 1, 1], [10, 10, 10]]);
  });

  test('mean: over axes; mean of an empty tensor is NaN (PyTorch)', () => {
    expect(mean(m())).toBeAllclose(3.5);
    expect(mean(m(), 0)).toBeAllclose([2.5, 3.5, 4.5]);
    expect(Number.isNaN(mean(f64([])).item())).toBe(true);
    const x = f64([[1, 2], [3, 4]], true);
    mean(x).backward();
    expect(x.grad).toBeAllclose([[0.25, 0.25], [0.25, 0.25]]);
  });

  test('variance: Bessel-corrected by default, correction 0 on request', () => {
    expect(variance(f64([1, 2, 3, 4]))).toBeAllclose(5 / 3);
    expect(variance(f64([1, 2, 3, 4]), undefined, { correction: 0 })).toBeAllclose(1.25);
    expect(variance(m(), 1, { keepdim: true })).toBeAllclose([[1], [1]]);
  });

  test('sum: an empty axis list reduces nothing (documented difference from PyTorch)', () => {
    expect(sum(m(), [])).toBeAllclose([[1, 2, 3], [4, 5, 6]]);
  });

  test('sumTo: sums leading and size-1 axes back to a shape', () => {
    expect(sumTo(f64([[1, 2], [3, 4]]), [2])).toBeAllclose([4, 6]);
    expect(sumTo(f64([[1, 2], [3, 4]]), [2, 1])).toBeAllclose([[3], [7]]);
    expect(sumTo(f64([[1, 2], [3, 4]]), [])).toBeAllclose(10);
  });
});

describe('reductions property', () => {
  /** Reduces by the definition: group elements by their index with the reduced axes dropped. */
  function reference(x: Tensor, axes: number[], op: (vals: number[]) => number): number[] {
    const groups = new Map<string, number[]>();
    const order: string[] = [];
    for (let flat = 0; flat < x.size; flat++) {
      const idx: number[] = [];
      let r = flat;
      for (let d = x.ndim - 1; d >= 0; d--) { idx[d] = r % x.shape[d]!; r = Math.floor(r / x.shape[d]!); }
      const key = idx.filter((_, d) => !axes.includes(d)).join(',');
      if (!groups.has(key)) { groups.set(key, []); order.push(key); }
      groups.get(key)!.push(x.data[flat]!);
    }
    return order.sort((p, q) => {
      const a = p.split(',').map(Number);
      const b = q.split(',').map(Number);
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
      return 0;
    }).map((k) => op(groups.get(k)!));
  }

  test('sum/max/min/logsumexp: random axis subsets of random rank-4 shapes match the definition', () => {
    fc.assert(fc.property(
      shapeArb(1, 4, 3).chain((s) => fc.tuple(tensorArb(s, -3, 3, false), fc.subarray(s.map((_, i) => i), { minLength: 1 }))),
      ([x, axes]) => {
        const checks: Array<[Tensor, (v: number[]) => number]> = [
          [sum(x, axes), (v) => v.reduce((p, q) => p + q, 0)],
          [max(x, axes), (v) => Math.max(...v)],
          [min(x, axes, true), (v) => Math.min(...v)],
          [logsumexp(x, axes), (v) => { const m = Math.max(...v); return m + Math.log(v.reduce((p, q) => p + Math.exp(q - m), 0)); }],
        ];
        for (const [got, op] of checks) {
          expect(got.data).toBeAllclose(reference(x, axes, op), { atol: 1e-12, rtol: 1e-12 });
        }
      },
    ));
  });
});

describe('max and min', () => {
  test('max/min: values over an axis and over everything', () => {
    expect(max(m(), 1)).toBeAllclose([3, 6]);
    expect(min(m(), 0)).toBeAllclose([1, 2, 3]);
    expect(max(m())).toBeAllclose(6);
    expect(min(m(), 0, true).shape).toEqual([1, 3]);
  });

  test('max: the gradient goes to the first element attaining the maximum', () => {
    const x = f64([[1, 7, 7], [2, 0, 5]], true);
    max(x, 1).sum().backward();
    expect(x.grad).toBeAllclose([[0, 1, 0], [0, 0, 1]]);
  });

  test('argmax/argmin: int32 indices along an axis or over the flattened tensor', () => {
    const x = f64([[1, 9, 3], [8, 2, 8]]);
    expect(num(argmax(x, 1))).toEqual([1, 0]);
    expect(argmax(x, 1).dtype).toBe('int32');
    expect(num(argmin(x, 0))).toEqual([0, 1, 0]);
    expect(argmax(x).item()).toBe(1);
    expect(argmax(x, 0, true).shape).toEqual([1, 3]);
  });

  test('max: NaN wins, as in PyTorch', () => {
    expect(Number.isNaN(max(f64([1, NaN, 3])).item())).toBe(true);
  });
});

describe('logsumexp and norm', () => {
  test('logsumexp: matches log Σ exp on small values and stays finite on huge ones', () => {
    expect(logsumexp(f64([1, 2, 3]))).toBeAllclose(Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)));
    expect(logsumexp(f64([[1000, 1000], [-1000, -1000]]), 1)).toBeAllclose([1000 + Math.log(2), -1000 + Math.log(2)]);
    expect(logsumexp(f64([-Infinity, -Infinity])).item()).toBe(-Infinity);
    expect(logsumexp(f64([Infinity, 0])).item()).toBe(Infinity);
  });

  test('logsumexp: gradient is softmax', () => {
    const x = f64([1, 2, 3], true);
    logsumexp(x).backward();
    const z = Math.exp(1) + Math.exp(2) + Math.exp(3);
    expect(x.grad).toBeAllclose([Math.exp(1) / z, Math.exp(2) / z, Math.exp(3) / z]);
  });

  test('norm: p = 1, 2, 3, Infinity, over an axis', () => {
    const x = f64([[3, -4], [1, 0]]);
    expect(norm(x)).toBeAllclose(Math.sqrt(26));
    expect(norm(x, 2, 1)).toBeAllclose([5, 1]);
    expect(norm(x, 1, 1)).toBeAllclose([7, 1]);
    expect(norm(x, 3, 1)).toBeAllclose([Math.cbrt(27 + 64), 1]);
    expect(norm(x, Infinity, 1)).toBeAllclose([4, 1]);
  });

  test('norm: gradient x/‖x‖, and 0 (not NaN) at the zero vector', () => {
    const x = f64([3, -4], true);
    norm(x).backward();
    expect(x.grad).toBeAllclose([0.6, -0.8]);
    const z = f64([0, 0], true);
    norm(z).backward();
    expect(num(z.grad)).toEqual([0, 0]);
  });

  test('norm: first and second derivatives stay finite for tiny values (shrunk fuzz counterexample)', () => {
    const x = f64([0, 1.351817985853457e-108, 0], true);
    const [g] = grad(norm(x, 3), [x], { createGraph: true });
    expect(g!.isFinite()).toBe(true);
    const [gg] = grad(g!.square().sum(), [x]);
    expect(gg!.isFinite()).toBe(true);
  });

  test('norm: no underflow or overflow in the powers (scaled by the largest entry)', () => {
    const y = f64([3e-200, -4e-200], true);
    expect(norm(y)).toBeAllclose(5e-200);
    norm(y).backward();
    expect(y.grad).toBeAllclose([0.6, -0.8]);
    expect(norm(tensor([3e20, 4e20]))).toBeAllclose(5e20, { rtol: 1e-6 });
    expect(norm(tensor([3e-25, 4e-25]), 3)).toBeAllclose(Math.cbrt(27 + 64) * 1e-25, { rtol: 1e-6 });
    expect(norm(f64([Infinity, 1])).item()).toBe(Infinity);
    expect(Number.isNaN(norm(f64([NaN, 1])).item())).toBe(true);
    expect(norm(f64([[0, 0], [3, 4]]), 2, 1)).toBeAllclose([0, 5]);
  });

  test('norm: p must be positive', () => {
    expect(() => norm(f64([1]), 0)).toThrow(/^norm: p must be a positive number or Infinity, got 0$/);
  });
});

describe('0-d tensors (shrunk fuzz counterexamples)', () => {
  test('mean/sum/softmax: axis 0 or −1 of a 0-d tensor names the tensor itself (mean was NaN)', () => {
    expect(mean(f64(3), 0)).toBeAllclose(3);
    expect(sum(f64(3), -1)).toBeAllclose(3);
    expect(logsumexp(f64(3), 0)).toBeAllclose(3);
    expect(() => sum(f64(3), 1)).toThrow(/^sum: axis=1 is out of range for a tensor of rank 0$/);
  });
});

describe('reduction errors', () => {
  test('sum/mean/max: an axis out of range names the op, the axis and the rank', () => {
    expect(() => sum(m(), 2)).toThrow(/^sum: axis=2 is out of range for a tensor of rank 2$/);
    expect(() => mean(m(), -3)).toThrow(/^mean: axis=-3 is out of range for a tensor of rank 2$/);
    expect(() => max(m(), [0, 0])).toThrow(/^max: axes \[0,0\] repeat an axis$/);
    expect(() => logsumexp(m(), 5)).toThrow(/^logsumexp: axis=5/);
  });

  test('max/min/argmax: an empty tensor is refused with its shape', () => {
    expect(() => max(f64([]))).toThrow(/^max: cannot reduce an empty tensor \[0\]$/);
    expect(() => argmin(tensor([]))).toThrow(/^argmin: cannot reduce an empty tensor \[0\]$/);
  });

  test('sum: int32 is refused', () => {
    expect(() => sum(tensor([1, 2], { dtype: 'int32' }))).toThrow(/^sum: x\[2\] has dtype int32/);
  });
});
