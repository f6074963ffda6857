import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  type FloatDType, Generator, type Tensor,
  binaryCrossEntropyWithLogits, crossEntropy, dropout, logSoftmax, logsumexp, mseLoss, ones, sigmoid, softmax, tensor,
} from '@seqgrad/autograd';
import { f64 } from './helpers.js';

const int = (v: number | number[] | number[][], shape?: number[]) => tensor(v, { dtype: 'int32', shape });

/** Float64 references computed the stable way from the (already rounded) inputs. */
function refLogSoftmax(row: number[]): number[] {
  const m = Math.max(...row);
  const lse = Math.log(row.reduce((acc, v) => acc + Math.exp(v - m), 0));
  return row.map((v) => v - m - lse);
}
const refSigmoid = (v: number) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));
const rows = (t: Tensor): number[][] => {
  const C = t.shape[t.ndim - 1]!;
  const out: number[][] = [];
  for (let i = 0; i < t.size; i += C) out.push(Array.from(t.data.subarray(i, i + C)));
  return out;
};

describe('softmax and logSoftmax', () => {
  test('softmax: values along the last axis and along axis 0; rows sum to 1', () => {
    const x = f64([[1, 2, 3], [1, 1, 1]]);
    const e = [Math.exp(1), Math.exp(2), Math.exp(3)];
    const z = e[0]! + e[1]! + e[2]!;
    expect(softmax(x)).toBeAllclose([e.map((v) => v / z), [1 / 3, 1 / 3, 1 / 3]]);
    expect(softmax(x, 0)).toBeAllclose([[0.5, Math.E / (1 + Math.E), Math.E ** 2 / (1 + Math.E ** 2)], [0.5, 1 / (1 + Math.E), 1 / (1 + Math.E ** 2)]]);
    expect(logSoftmax(x)).toBeAllclose([e.map((v) => Math.log(v / z)), [-Math.log(3), -Math.log(3), -Math.log(3)]]);
  });

  test('softmax: gradient of a weighted sum is s ⊙ (w − s·w)', () => {
    const x = f64([0.5, -1, 2], true);
    const w = [1, 2, -1];
    softmax(x).mul(f64(w)).sum().backward();
    const s = rows(softmax(f64([0.5, -1, 2])))[0]!;
    const sw = s.reduce((acc, v, i) => acc + v * w[i]!, 0);
    expect(x.grad).toBeAllclose(s.map((v, i) => v * (w[i]! - sw)));
  });

  test('softmax/logSoftmax: −Infinity entries (attention masks) get probability 0 and finite gradients', () => {
    const x = f64([[0, -Infinity, 1], [-Infinity, 2, -Infinity]], true);
    const s = softmax(x);
    expect(s).toBeAllclose([[1 / (1 + Math.E), 0, Math.E / (1 + Math.E)], [0, 1, 0]]);
    s.mul(f64([[1, 2, 3], [4, 5, 6]])).sum().backward();
    expect(x.grad!.isFinite()).toBe(true);
    const y = f64([[0, -Infinity, 1]], true);
    logSoftmax(y).mul(f64([[1, 0, 3]])).sum().backward();
    expect(y.grad!.isFinite()).toBe(true);
    expect(y.grad!.data[1]).toBe(0);
  });

  test('softmax: errors name the op and the axis', () => {
    expect(() => softmax(f64([1, 2]), 1)).toThrow(/^softmax: axis=1 is out of range for a tensor of rank 1$/);
    expect(() => logSoftmax(int([1, 2]))).toThrow(/^logSoftmax: x\[2\] has dtype int32/);
  });
});

describe('crossEntropy', () => {
  const logits = () => f64([[2, 0, -1], [0.5, 0.5, 3]], true);

  test('crossEntropy: mean, sum and none against −log softmax[target]', () => {
    const ls = rows(logSoftmax(f64([[2, 0, -1], [0.5, 0.5, 3]])));
    const per = [-ls[0]![0]!, -ls[1]![2]!];
    expect(crossEntropy(logits(), int([0, 2]), { reduction: 'none' })).toBeAllclose(per);
    expect(crossEntropy(logits(), int([0, 2]), { reduction: 'sum' })).toBeAllclose(per[0]! + per[1]!);
    expect(crossEntropy(logits(), int([0, 2]))).toBeAllclose((per[0]! + per[1]!) / 2);
  });

  test('crossEntropy: ignoreIndex leaves entries out of the mean and of the gradient', () => {
    const x = logits();
    const loss = crossEntropy(x, int([-100, 1]));
    expect(loss).toBeAllclose(-rows(logSoftmax(f64([0.5, 0.5, 3])))[0]![1]!);
    loss.backward();
    expect(Array.from(x.grad!.data.subarray(0, 3))).toEqual([0, 0, 0]);
    expect(crossEntropy(logits(), int([7, 1]), { ignoreIndex: 7, reduction: 'none' }).data[0]).toBe(0);
  });

  test('crossEntropy: all targets ignored gives NaN with mean (as PyTorch) and 0 with sum', () => {
    expect(Number.isNaN(crossEntropy(logits(), int([-100, -100])).item())).toBe(true);
    expect(crossEntropy(logits(), int([-100, -100]), { reduction: 'sum' }).item()).toBe(0);
  });

  test('crossEntropy: an ignored row with −Infinity logits does not poison the loss', () => {
    const x = f64([[-Infinity, 0, 0], [1, 2, 3]], true);
    const loss = crossEntropy(x, int([-100, 2]));
    expect(loss).toBeAllclose(-rows(logSoftmax(f64([1, 2, 3])))[0]![2]!);
    loss.backward();
    expect(Array.from(x.grad!.data).every(Number.isFinite)).toBe(true);
  });

  test('crossEntropy: (C) logits with a 0-d target, and (N, C, d) with (N, d) targets', () => {
    const one = crossEntropy(f64([1, 2, 3]), int(2, []));
    expect(one).toBeAllclose(-rows(logSoftmax(f64([1, 2, 3])))[0]![2]!);
    // N=1, C=2, d=3: classes on axis 1
    const x = f64([[[1, 2, 3], [3, 2, 1]]]);
    const per = crossEntropy(x, int([[0, 1, 1]], [1, 3]), { reduction: 'none' });
    expect(per.shape).toEqual([1, 3]);
    const ref = [[1, 3], [2, 2], [3, 1]].map((pair, j) => -refLogSoftmax(pair)[[0, 1, 1][j]!]!);
    expect(per).toBeAllclose([ref]);
  });

  test('crossEntropy: errors name target and logits shapes and bad classes', () => {
    expect(() => crossEntropy(f64([[1, 2]]), int([0, 1]))).toThrow(/^crossEntropy: target\[2\] does not match logits\[1,2\]: expected target shape \[1\]$/);
    expect(() => crossEntropy(f64([[1, 2]]), int([2]))).toThrow(/^crossEntropy: target holds 2 at position 0; classes are 0\.\.1 \(logits\[1,2\]\)$/);
    expect(() => crossEntropy(f64([[1, 2]]), int([0]), { reduction: 'avg' as 'mean' })).toThrow(/^crossEntropy: reduction must be 'mean', 'sum' or 'none', got 'avg'$/);
    expect(() => crossEntropy(f64(1), int(0, []))).toThrow(/^crossEntropy: logits must have at least one dimension/);
  });
});

describe('mseLoss and binaryCrossEntropyWithLogits', () => {
  test('mseLoss: reductions and gradient', () => {
    const x = f64([1, 2, 4], true);
    const y = f64([1, 0, 0]);
    expect(mseLoss(x, y, { reduction: 'none' })).toBeAllclose([0, 4, 16]);
    expect(mseLoss(x, y, { reduction: 'sum' })).toBeAllclose(20);
    const l = mseLoss(x, y);
    expect(l).toBeAllclose(20 / 3);
    l.backward();
    expect(x.grad).toBeAllclose([0, 4 / 3, 8 / 3]);
    expect(() => mseLoss(x, f64([1, 2]))).toThrow(/^mseLoss: input\[3\] and target\[2\] must have the same shape$/);
  });

  test('binaryCrossEntropyWithLogits: −[y log σ(x) + (1 − y) log(1 − σ(x))], with posWeight', () => {
    const xs = [-3, -0.5, 0, 2];
    const ys = [0, 1, 0.3, 1];
    const ref = (w: number) => xs.map((x, i) => -(w * ys[i]! * Math.log(refSigmoid(x)) + (1 - ys[i]!) * Math.log(1 - refSigmoid(x))));
    expect(binaryCrossEntropyWithLogits(f64(xs), f64(ys), { reduction: 'none' })).toBeAllclose(ref(1), { rtol: 1e-12 });
    expect(binaryCrossEntropyWithLogits(f64(xs), f64(ys), { reduction: 'none', posWeight: 3 })).toBeAllclose(ref(3), { rtol: 1e-12 });
    expect(binaryCrossEntropyWithLogits(f64(xs), f64(ys), { reduction: 'none', posWeight: f64([3, 3, 3, 3]) })).toBeAllclose(ref(3), { rtol: 1e-12 });
    expect(() => binaryCrossEntropyWithLogits(f64([1]), f64([1, 2]))).toThrow(/^binaryCrossEntropyWithLogits: input\[1\] and target\[2\] must have the same shape$/);
  });
});

describe('dropout', () => {
  test('dropout: seeded mask, inverted scaling, identity when not training', () => {
    const x = ones([1000], { dtype: 'float64' });
    const a = dropout(x, 0.3, { generator: new Generator(5) });
    const b = dropout(x, 0.3, { generator: new Generator(5) });
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    const kept = Array.from(a.data).filter((v) => v !== 0);
    expect(kept.every((v) => Math.abs(v - 1 / 0.7) < 1e-12)).toBe(true);
    expect(kept.length).toBeGreaterThan(620);
    expect(kept.length).toBeLessThan(780);
    expect(dropout(x, 0.3, { training: false })).toBe(x);
    expect(Array.from(dropout(x, 1).data).every((v) => v === 0)).toBe(true);
  });

  test('dropout: gradient is the same mask', () => {
    const x = f64([1, 2, 3, 4, 5, 6], true);
    const y = dropout(x, 0.5, { generator: new Generator(1) });
    y.sum().backward();
    expect(Array.from(x.grad!.data)).toEqual(Array.from(y.data, (v, i) => v / x.data[i]!));
  });

  test('dropout: p outside [0, 1] is refused', () => {
    expect(() => dropout(f64([1]), 1.5)).toThrow(/^dropout: p must be in \[0, 1\], got 1.5$/);
  });
});

// ---------------------------------------------------------------------------------------
// Numerical stability for inputs up to ±1e4
// ---------------------------------------------------------------------------------------

const big = fc.double({ min: -1e4, max: 1e4, noNaN: true });
const matrixArb = fc
  .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }))
  .chain(([n, c]) => fc.tuple(fc.constant([n, c]), fc.array(big, { minLength: n * c, maxLength: n * c })));

const tol = (dtype: FloatDType) => (dtype === 'float32' ? { atol: 1e-5, rtol: 1e-5 } : { atol: 1e-12, rtol: 1e-12 });

function check(actual: Tensor, expected: number[] | number[][] | number, dtype: FloatDType): void {
  expect(actual.isFinite()).toBe(true);
  expect(actual, dtype).toBeAllclose(expected, tol(dtype));
}

describe.each(['float32', 'float64'] as const)('numerical stability (%s)', (dtype) => {
  const make = (shape: readonly number[], values: number[]) => tensor(values, { shape, dtype, requiresGrad: true });
  const rounded = (t: Tensor) => rows(t.detach().to('float64'));

  test('sigmoid: finite, in [0, 1] and correct for |x| ≤ 1e4; gradient finite', () => {
    fc.assert(fc.property(matrixArb, ([shape, v]) => {
      const x = make(shape, v);
      const y = sigmoid(x);
      check(y, rounded(x).map((r) => r.map(refSigmoid)), dtype);
      y.sum().backward();
      expect(x.grad!.isFinite()).toBe(true);
    }));
  });

  test('softmax: finite and correct for |x| ≤ 1e4; gradient finite', () => {
    fc.assert(fc.property(matrixArb, ([shape, v]) => {
      const x = make(shape, v);
      const y = softmax(x);
      check(y, rounded(x).map((r) => refLogSoftmax(r).map(Math.exp)), dtype);
      y.mul(y.detach()).sum().backward();
      expect(x.grad!.isFinite()).toBe(true);
    }));
  });

  test('logSoftmax: finite and correct for |x| ≤ 1e4; gradient finite', () => {
    fc.assert(fc.property(matrixArb, ([shape, v]) => {
      const x = make(shape, v);
      const y = logSoftmax(x);
      check(y, rounded(x).map(refLogSoftmax), dtype);
      y.sum().backward();
      expect(x.grad!.isFinite()).toBe(true);
    }));
  });

  test('logsumexp: finite and correct for |x| ≤ 1e4; gradient finite', () => {
    fc.assert(fc.property(matrixArb, ([shape, v]) => {
      const x = make(shape, v);
      const y = logsumexp(x, 1);
      check(y, rounded(x).map((r) => Math.max(...r) - refLogSoftmax(r)[r.indexOf(Math.max(...r))]!), dtype);
      y.sum().backward();
      expect(x.grad!.isFinite()).toBe(true);
    }));
  });

  test('crossEntropy: finite and correct for logits up to ±1e4; gradient finite', () => {
    fc.assert(fc.property(matrixArb.chain(([shape, v]) => fc.tuple(fc.constant(shape), fc.constant(v), fc.array(fc.integer({ min: 0, max: shape[1]! - 1 }), { minLength: shape[0]!, maxLength: shape[0]! }))), ([shape, v, t]) => {
      const x = make(shape, v);
      const loss = crossEntropy(x, int(t), { reduction: 'none' });
      check(loss, rounded(x).map((r, i) => -refLogSoftmax(r)[t[i]!]!), dtype);
      crossEntropy(x, int(t)).backward();
      expect(x.grad!.isFinite()).toBe(true);
    }));
  });

  test('binaryCrossEntropyWithLogits: finite and correct for |x| ≤ 1e4', () => {
    fc.assert(fc.property(matrixArb, fc.boolean(), ([shape, v], label) => {
      const x = make(shape, v);
      const y = tensor(new Array(v.length).fill(label ? 1 : 0), { shape, dtype });
      const loss = binaryCrossEntropyWithLogits(x, y, { reduction: 'none' });
      // softplus(−x) for y = 1, softplus(x) for y = 0, in float64
      const softplus = (z: number) => Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
      check(loss, rounded(x).map((r) => r.map((z) => (label ? softplus(-z) : softplus(z)))), dtype);
    }));
  });
});
