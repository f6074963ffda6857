import { Generator, add, matmul, randn, tensor } from '@seqgrad/autograd';
import { Dropout, Embedding, LayerNorm, Linear, Sequential } from '@seqgrad/layers';
import { describe, expect, test } from 'vitest';

describe('layers', () => {
  test('Linear: y = x Wᵀ + b, default init within 1/√in', () => {
    const lin = new Linear(4, 3, { dtype: 'float64' });
    const x = randn([2, 4], { dtype: 'float64' });
    const want = add(matmul(x, lin.weight.T), lin.bias!);
    expect(Array.from(lin.forward(x).data)).toEqual(Array.from(want.data));
    expect(Math.max(...Array.from(lin.weight.data, Math.abs))).toBeLessThanOrEqual(0.5);
    expect(() => lin.forward(randn([2, 5], { dtype: 'float64' }))).toThrow('Linear.forward: x[2,5] must end in inFeatures=4');
    expect(() => lin.forward(randn([2, 4]))).toThrow(/has dtype float32 but the parameters are float64/);
  });

  test('Embedding: paddingIdx row starts at zero and gets no gradient', () => {
    const emb = new Embedding(5, 3, { paddingIdx: 1 });
    expect(Array.from(emb.weight.data.subarray(3, 6))).toEqual([0, 0, 0]);
    const idx = tensor([[1, 2, 1, 4]], { dtype: 'int32' });
    const y = emb.forward(idx);
    expect(y.shape).toEqual([1, 4, 3]);
    y.sum().backward();
    const g = emb.weight.grad!.data;
    expect(Array.from(g.subarray(3, 6))).toEqual([0, 0, 0]);
    expect(Array.from(g.subarray(6, 9))).toEqual([1, 1, 1]);
    expect(() => emb.forward(tensor([1.5]))).toThrow(/must be int32/);
  });

  test('Dropout: identity in eval mode, inverted scaling in training', () => {
    const drop = new Dropout(0.5, { generator: new Generator(0) });
    const x = randn([1000]);
    const y = drop.forward(x);
    const kept = Array.from(y.data).filter((v, i) => v !== 0 && Math.abs(v - 2 * x.data[i]!) < 1e-6).length;
    const zeros = Array.from(y.data).filter((v) => v === 0).length;
    expect(kept + zeros).toBe(1000);
    expect(zeros).toBeGreaterThan(400);
    expect(drop.eval().forward(x)).toBe(x);
  });

  test('LayerNorm: zero mean, unit variance over the last axis, then γ and β', () => {
    const ln = new LayerNorm(6, { dtype: 'float64' });
    const y = ln.forward(randn([3, 6], { dtype: 'float64', std: 4, mean: 2 }));
    for (let r = 0; r < 3; r++) {
      const row = Array.from(y.data.subarray(r * 6, r * 6 + 6));
      const m = row.reduce((s, v) => s + v, 0) / 6;
      const v = row.reduce((s, q) => s + (q - m) ** 2, 0) / 6;
      expect(m).toBeCloseTo(0, 12);
      expect(v).toBeCloseTo(1, 4);
    }
    expect(ln.namedParameters().map(([n]) => n)).toEqual(['weight', 'bias']);
    expect(() => ln.forward(randn([3, 5], { dtype: 'float64' }))).toThrow('LayerNorm.forward: x[3,5] must end in normalizedShape [6]');
  });

  test('Sequential: applies modules in order', () => {
    const a = new Linear(2, 3);
    const b = new Linear(3, 1);
    const x = randn([4, 2]);
    expect(Array.from(new Sequential(a, b).forward(x).data)).toEqual(Array.from(b.forward(a.forward(x)).data));
  });
});
