import { describe, expect, test } from 'vitest';
import {
  GradcheckError, SeqgradError, Tensor, defineFunction, gradcheck, gradgradcheck, matmul, randn, tensor,
} from '@seqgrad/autograd';
import { f64 } from './helpers.js';

/** x² with a backward that is wrong by +amount at one element (flat index `bad`). */
function plantedSquare(bad: number, amount = 1) {
  return defineFunction({
    name: 'plantedSquare',
    forward(ctx, x: Tensor) {
      ctx.saveForBackward(x);
      return x.mul(x);
    },
    backward(ctx, g) {
      const x = ctx.savedTensors[0]!;
      const offset = new Float64Array(x.size);
      offset[bad] = amount;
      return g!.mul(x).mul(2).add(g!.mul(new Tensor(offset, x.shape)));
    },
  });
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('gradcheck', () => {
  test('gradcheck: passes on a correct composite with two inputs', () => {
    const a = randn([3, 4], { dtype: 'float64', requiresGrad: true });
    const b = randn([4, 2], { dtype: 'float64', requiresGrad: true });
    expect(gradcheck((x, y) => matmul(x.tanh(), y).sigmoid(), [a, b])).toBe(true);
  });

  test('gradcheck: a planted wrong backward is named by output, input name, element and both values', () => {
    const w = randn([2, 3], { dtype: 'float64', requiresGrad: true });
    w.name = 'w';
    const sq = plantedSquare(5); // element [1,2]
    const err = errorOf(() => gradcheck((x) => sq(x), [w]));
    expect(err).toBeInstanceOf(GradcheckError);
    expect(err).toBeInstanceOf(SeqgradError);
    const m = err.message;
    expect(m).toMatch(/^gradcheck: Jacobian mismatch for output 0\[2,3\] element \[1,2\] with respect to input 0 \('w'\)\[2,3\] element \[1,2\]/);
    const x = w.data[5]!;
    const [, numerical, analytical] = /numerical (\S+), analytical (\S+)$/.exec(m)!.map(Number);
    expect(numerical).toBeCloseTo(2 * x, 6);
    expect(analytical).toBeCloseTo(2 * x + 1, 12);
  });

  test('gradcheck: the names option labels inputs; raise: false returns false', () => {
    const a = f64([1, 2], true);
    const b = f64([3, 4], true);
    const sq = plantedSquare(1);
    const m = errorOf(() => gradcheck((x, y) => x.add(sq(y)), [a, b], { names: ['a', 'bias'] })).message;
    expect(m).toMatch(/input 1 \('bias'\)\[2\] element \[1\]/);
    expect(gradcheck((x, y) => x.add(sq(y)), [a, b], { raise: false })).toBe(false);
  });

  test('gradcheck: an op that forgets to record its output is caught (analytical 0)', () => {
    const x = f64([1, 2], true);
    const unrecorded = (t: Tensor) => new Tensor(Float64Array.from(t.data, (v) => 3 * v), t.shape);
    const m = errorOf(() => gradcheck(unrecorded, [x])).message;
    expect(m).toMatch(/output 0\[2\] element \[0\].*input 0\[2\] element \[0\]: numerical (3|2\.9+)\d*, analytical 0/);
  });

  test('gradcheck: a backward that is not linear in the incoming gradient is caught', () => {
    const nonlinear = defineFunction({
      name: 'nonlinear',
      forward: (_c, x: Tensor) => x.mul(2),
      backward: (_c, g) => g!.mul(2).add(g!.abs().mul(0.5)),
    });
    const m = errorOf(() => gradcheck((t) => nonlinear(t), [f64([1, 2, 3], true)])).message;
    expect(m).toMatch(/backward is not linear in the incoming gradient for output 0 and input 0/);
  });

  test('gradcheck: fastMode catches the planted error, naming output and input', () => {
    const w = randn([4, 5], { dtype: 'float64', requiresGrad: true });
    w.name = 'weight';
    const m = errorOf(() => gradcheck((x) => plantedSquare(7)(x), [w], { fastMode: true })).message;
    expect(m).toMatch(/fast mode: for output 0 and input 0 \('weight'\)\[4,5\], the random projection vᵀJu differs: numerical \S+, analytical \S+/);
  });

  test('gradcheck: fastMode checks a large input quickly', () => {
    const x = randn([300, 300], { dtype: 'float64', requiresGrad: true });
    const W = randn([300, 20], { dtype: 'float64', requiresGrad: true });
    const start = performance.now();
    expect(gradcheck((a, b) => matmul(a.tanh(), b).sigmoid(), [x, W], { fastMode: true })).toBe(true);
    expect(performance.now() - start).toBeLessThan(3000);
    // and still finds one wrong element among 90,000
    const big = randn([300, 300], { dtype: 'float64', requiresGrad: true });
    expect(gradcheck((a) => plantedSquare(12345, 100)(a), [big], { fastMode: true, raise: false })).toBe(false);
  });

  test('gradcheck: float32 inputs are refused with the reason', () => {
    const x = randn([2], { requiresGrad: true });
    const m = errorOf(() => gradcheck((t) => t.tanh(), [x])).message;
    expect(m).toMatch(/input 0\[2\] is float32; gradcheck needs float64 inputs: .*finite differences would be mostly noise.*to\('float64'\)/);
  });

  test('gradcheck: no input requiring grad is an error, inputs not requiring grad are constants', () => {
    expect(() => gradcheck((t) => t.tanh(), [f64([1])])).toThrow(/no input requires grad/);
    expect(gradcheck((a, c) => a.mul(c), [f64([1, 2], true), tensor([3, 4])])).toBe(true);
  });

  test('gradcheck: several outputs are each checked', () => {
    const sq = plantedSquare(0);
    const m = errorOf(() => gradcheck((t) => [t.tanh(), sq(t)], [f64([0.5, 1], true)])).message;
    expect(m).toMatch(/output 1\[2\] element \[0\]/);
  });
});

describe('gradgradcheck', () => {
  test('gradgradcheck: passes on smooth composites', () => {
    const x = randn([3, 2], { dtype: 'float64', requiresGrad: true });
    const W = randn([2, 2], { dtype: 'float64', requiresGrad: true });
    expect(gradgradcheck((a, b) => matmul(a, b).tanh().mul(a.sigmoid().sum(1, true)), [x, W])).toBe(true);
  });

  test('gradgradcheck: a backward correct to first order but not differentiable is caught', () => {
    // d x³ = 3x² dx, but x is detached in the backward: the second derivative comes out 0.
    const cubeDetached = defineFunction({
      name: 'cubeDetached',
      forward(ctx, x: Tensor) {
        ctx.saveForBackward(x);
        return x.pow(3);
      },
      backward(ctx, g) {
        return g!.mul(ctx.savedTensors[0]!.detach().pow(2)).mul(3);
      },
    });
    const x = f64([0.5, -1.5], true);
    expect(gradcheck((t) => cubeDetached(t), [x])).toBe(true);
    const m = errorOf(() => gradgradcheck((t) => cubeDetached(t), [x])).message;
    expect(m).toMatch(/^gradcheck: Jacobian mismatch for output 0\[2\] element \[\d\] with respect to input 0\[2\] element \[\d\]: numerical \S+, analytical 0$/);
  });

  test('gradgradcheck: given gradOutputs are used; their count must match the outputs', () => {
    const x = f64([0.3, 0.7], true);
    expect(gradgradcheck((t) => t.tanh(), [x], [f64([1, -2])])).toBe(true);
    expect(() => gradgradcheck((t) => t.tanh(), [x], [f64([1, -2]), f64([1])])).toThrow(/1 outputs but 2 gradOutputs/);
  });
});
