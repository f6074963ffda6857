import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  SeqgradError, Tensor,
  abs, add, clamp, div, eq, exp, ge, gt, le, log, lt, maximum, minimum, mul, ne, neg, pow, relu, sigmoid, sqrt, square, sub, tanh, tensor, where,
} from '@seqgrad/autograd';
import { broadcastPairArb, f64, num, numelOf, tensorArb } from './helpers.js';


describe('broadcasting', () => {
  test('add: [2,3] + [3] adds the row to every row', () => {
    expect(add(f64([[1, 2, 3], [4, 5, 6]]), f64([10, 20, 30]))).toBeAllclose([[11, 22, 33], [14, 25, 36]]);
  });

  test('mul: column [2,1] times row [3] gives the outer product [2,3]', () => {
    expect(mul(f64([[1], [2]]), f64([1, 10, 100]))).toBeAllclose([[1, 10, 100], [2, 20, 200]]);
  });

  test('sub: [2,1,2] − [3,1] broadcasts to [2,3,2]', () => {
    const a = f64([[[1, 2]], [[3, 4]]]);
    const b = f64([[0], [10], [20]]);
    expect(sub(a, b)).toBeAllclose([
      [[1, 2], [-9, -8], [-19, -18]],
      [[3, 4], [-7, -6], [-17, -16]],
    ]);
  });

  test('add: a 0-d tensor broadcasts against anything', () => {
    expect(add(f64(5), f64([[1, 2]]))).toBeAllclose([[6, 7]]);
  });

  test('mul: backward sums the gradient back to each input shape', () => {
    const a = f64([[1], [2]], true); // [2,1]
    const b = f64([1, 10, 100], true); // [3]
    mul(a, b).sum().backward();
    expect(a.grad).toBeAllclose([[111], [111]]);
    expect(b.grad).toBeAllclose([3, 3, 3]);
  });

  test('add: backward over a 0-d tensor sums everything', () => {
    const s = f64(2, true);
    add(f64([[1, 2], [3, 4]]), s).mul(f64([1, 2])).sum().backward();
    expect(s.grad).toBeAllclose(6);
  });

  test('add: incompatible shapes name the op and both shapes', () => {
    expect(() => add(f64([[1, 2, 3]]), f64([1, 2]))).toThrow(/^add: a\[1,3\] and b\[2\] cannot be broadcast: dimension -1 is 3 vs 2$/);
    expect(() => mul(f64([[1, 2], [3, 4]]), f64([[1, 2, 3]]))).toThrow(SeqgradError);
    expect(() => sub(f64([1, 2]), f64([1, 2, 3]))).toThrow(/^sub: a\[2\] and b\[3\]/);
  });
});

describe('broadcasting property', () => {
  /** out[idx] = a[idx mod a.shape] op b[idx mod b.shape], right-aligned, by the definition. */
  function reference(a: Tensor, b: Tensor, op: (x: number, y: number) => number): number[] {
    const rank = Math.max(a.ndim, b.ndim);
    const shape = Array.from({ length: rank }, (_, d) => Math.max(a.shape[d - rank + a.ndim] ?? 1, b.shape[d - rank + b.ndim] ?? 1));
    const at = (t: Tensor, idx: number[]) => {
      let off = 0;
      for (let d = 0; d < t.ndim; d++) off = off * t.shape[d]! + (t.shape[d] === 1 ? 0 : idx[d - t.ndim + rank]!);
      return t.data[off]!;
    };
    const out: number[] = [];
    for (let flat = 0; flat < numelOf(shape); flat++) {
      const idx: number[] = [];
      let r = flat;
      for (let d = rank - 1; d >= 0; d--) { idx[d] = r % shape[d]!; r = Math.floor(r / shape[d]!); }
      out.push(op(at(a, idx), at(b, idx)));
    }
    return out;
  }

  test('add/mul/maximum/gt: broadcast results match the definition on random shapes', () => {
    fc.assert(fc.property(
      broadcastPairArb(4, 3).chain(([sa, sb]) => fc.tuple(tensorArb(sa, -2, 2, false), tensorArb(sb, -2, 2, false))),
      ([a, b]) => {
        for (const [f, op] of [[add, (x: number, y: number) => x + y], [mul, (x: number, y: number) => x * y], [maximum, Math.max], [gt, (x: number, y: number) => (x > y ? 1 : 0)]] as const) {
          expect(f(a, b).data, f.name).toBeAllclose(reference(a, b, op), { atol: 0, rtol: 0 });
        }
      },
    ));
  });
});

describe('numbers as operands', () => {
  test('add/sub/mul/div: a number on either side, result keeps the tensor dtype', () => {
    const x = tensor([1, 2]);
    expect(num(add(x, 1))).toEqual([2, 3]);
    expect(num(sub(1, x))).toEqual([0, -1]);
    expect(num(mul(3, x))).toEqual([3, 6]);
    expect(num(div(x, 2))).toEqual([0.5, 1]);
    expect(num(div(2, x))).toEqual([2, 1]);
    expect(add(x, 1).dtype).toBe('float32');
  });

  test('pow: number exponent, number base, tensor exponent', () => {
    expect(pow(f64([2, 3]), 2)).toBeAllclose([4, 9]);
    expect(pow(2, f64([3, -1]))).toBeAllclose([8, 0.5]);
    expect(pow(f64([4]), f64([0.5]))).toBeAllclose([2]);
  });

  test('pow: gradient with respect to the exponent is a^b ln a, and 0 at a = 0', () => {
    const a = f64([2, 0], true);
    const b = f64([3, 2], true);
    pow(a, b).sum().backward();
    expect(a.grad).toBeAllclose([12, 0]);
    expect(b.grad).toBeAllclose([8 * Math.log(2), 0]);
  });

  test('pow: x⁰ has gradient 0 also at x = 0 (was NaN from 0 · 0⁻¹)', () => {
    const x = f64([0, 2], true);
    pow(x, 0).sum().backward();
    expect(num(x.grad)).toEqual([0, 0]);
    const y = f64([0, 3], true);
    pow(y, 2).sum().backward();
    expect(num(y.grad)).toEqual([0, 6]);
  });

  test('div: the gradient for a tiny float32 denominator does not go through b² (shrunk fuzz counterexample)', () => {
    const a = tensor([1e-30], { requiresGrad: true });
    const b = tensor([1e-30], { requiresGrad: true });
    div(a, b).sum().backward();
    expect(b.grad!.data[0]! / -1e30).toBeCloseTo(1, 5); // −a/b² = −1e30 (b² = 1e-60 underflows in float32)
    expect(a.grad!.data[0]! / 1e30).toBeCloseTo(1, 5);
  });

  test('mixed float32 and float64 promote to float64, gradients come back in each dtype', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const b = f64([0.5, 0.25], true);
    const y = mul(a, b);
    expect(y.dtype).toBe('float64');
    y.sum().backward();
    expect(a.grad!.dtype).toBe('float32');
    expect(b.grad!.dtype).toBe('float64');
  });

  test('add: two numbers or a non-tensor are refused, naming the op', () => {
    expect(() => add(1, 2)).toThrow(/^add: at least one argument must be a Tensor, got number and number$/);
    expect(() => mul(f64([1]), 'x' as unknown as number)).toThrow(/^mul: b must be a Tensor or a number, got string$/);
  });

  test('add: int32 tensors are refused with a hint', () => {
    expect(() => add(tensor([1, 2], { dtype: 'int32' }), 1)).toThrow(/^add: a\[2\] has dtype int32; this op needs float32 or float64/);
  });
});

describe('unary ops', () => {
  const xs = [-2, -0.5, 0.5, 3];
  const cases: Array<[string, (x: Tensor) => Tensor, (v: number) => number, (v: number) => number]> = [
    ['neg', neg, (v) => -v, () => -1],
    ['exp', exp, Math.exp, Math.exp],
    ['tanh', tanh, Math.tanh, (v) => 1 - Math.tanh(v) ** 2],
    ['sigmoid', sigmoid, (v) => 1 / (1 + Math.exp(-v)), (v) => Math.exp(-v) / (1 + Math.exp(-v)) ** 2],
    ['relu', relu, (v) => Math.max(v, 0), (v) => (v > 0 ? 1 : 0)],
    ['abs', abs, Math.abs, Math.sign],
    ['square', square, (v) => v * v, (v) => 2 * v],
  ];
  for (const [name, f, value, derivative] of cases) {
    test(`${name}: values and gradient`, () => {
      const x = f64(xs, true);
      const y = f(x);
      expect(y).toBeAllclose(xs.map(value), { rtol: 1e-12 });
      y.sum().backward();
      expect(x.grad).toBeAllclose(xs.map(derivative), { rtol: 1e-12 });
    });
  }

  test('log/sqrt: values and gradients on positive inputs', () => {
    const x = f64([0.25, 4], true);
    log(x).add(sqrt(x)).sum().backward();
    expect(x.grad).toBeAllclose([1 / 0.25 + 1 / (2 * 0.5), 1 / 4 + 1 / (2 * 2)]);
  });

  test('relu/abs: gradient at exactly 0 is 0 (PyTorch)', () => {
    const x = f64([0, 0], true);
    relu(x).add(abs(x)).sum().backward();
    expect(num(x.grad)).toEqual([0, 0]);
  });

  test('unary ops refuse int32 and non-tensors with the op name', () => {
    expect(() => exp(tensor([1], { dtype: 'int32' }))).toThrow(/^exp: x\[1\] has dtype int32/);
    expect(() => tanh([1, 2] as unknown as Tensor)).toThrow(/^tanh: x must be a Tensor, got an array$/);
  });
});

describe('clamp, maximum, minimum, where', () => {
  test('clamp: values, one-sided bounds, gradient 1 inside [min, max] and 0 outside', () => {
    const x = f64([-2, -0.5, 0.5, 2], true);
    const y = clamp(x, -1, 1);
    expect(y).toBeAllclose([-1, -0.5, 0.5, 1]);
    y.sum().backward();
    expect(num(x.grad)).toEqual([0, 1, 1, 0]);
    expect(clamp(f64([-2, 2]), null, 0)).toBeAllclose([-2, 0]);
    expect(clamp(f64([-2, 2]), 0)).toBeAllclose([0, 2]);
  });

  test('clamp: min > max gives max everywhere (as torch.clamp)', () => {
    expect(clamp(f64([-5, 0, 5]), 2, 1)).toBeAllclose([1, 1, 1]);
  });

  test('clamp: no bound or a NaN bound is refused', () => {
    expect(() => clamp(f64([1]))).toThrow(/^clamp: at least one of min and max must be given$/);
    expect(() => clamp(f64([1]), NaN, 1)).toThrow(/^clamp: bounds must not be NaN/);
  });

  test('maximum/minimum: broadcast values; ties split the gradient in half', () => {
    const a = f64([1, 5, 3], true);
    const b = f64([3], true);
    const y = maximum(a, b);
    expect(y).toBeAllclose([3, 5, 3]);
    y.sum().backward();
    expect(num(a.grad)).toEqual([0, 1, 0.5]);
    expect(num(b.grad)).toEqual([1 + 0.5]);
    expect(minimum(f64([1, 5]), 2)).toBeAllclose([1, 2]);
  });

  test('maximum: NaN propagates', () => {
    expect(num(maximum(f64([NaN, 1]), f64([0, NaN]))).every(Number.isNaN)).toBe(true);
  });

  test('where: picks by a broadcast condition, gradient goes to the chosen side', () => {
    const cond = f64([[1], [0]]);
    const a = f64([1, 2], true);
    const b = f64([[10, 20], [30, 40]], true);
    const y = where(cond, a, b);
    expect(y).toBeAllclose([[1, 2], [30, 40]]);
    y.sum().backward();
    expect(num(a.grad)).toEqual([1, 1]);
    expect(b.grad).toBeAllclose([[0, 0], [1, 1]]);
  });

  test('where: numbers for both branches take the condition float dtype', () => {
    expect(where(f64([1, 0, 1]), 1, -1)).toBeAllclose([1, -1, 1]);
  });

  test('where: shapes that do not broadcast name all three', () => {
    expect(() => where(f64([1, 0, 1]), f64([1, 2]), 0)).toThrow(/^where: .*\[3\].*\[2\]/);
  });
});

describe('comparisons', () => {
  test('eq/ne/lt/le/gt/ge: float masks, broadcasting, no gradient', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    expect(num(eq(x, 2))).toEqual([0, 1, 0]);
    expect(num(ne(x, 2))).toEqual([1, 0, 1]);
    expect(num(lt(x, 2))).toEqual([1, 0, 0]);
    expect(num(le(x, 2))).toEqual([1, 1, 0]);
    expect(num(gt(x, 2))).toEqual([0, 0, 1]);
    expect(num(ge(x, 2))).toEqual([0, 1, 1]);
    expect(gt(x, 2).dtype).toBe('float32');
    expect(gt(x, 2).requiresGrad).toBe(false);
    expect(gt(f64([[1], [3]]), f64([2, 0]))).toBeAllclose([[0, 1], [1, 1]]);
    expect(x.gt(tensor([0, 5, 1])).dtype).toBe('float32');
  });

  test('comparisons: mismatched shapes are named', () => {
    expect(() => lt(f64([1, 2]), f64([1, 2, 3]))).toThrow(/^lt: a\[2\] and b\[3\] cannot be broadcast/);
  });
});
