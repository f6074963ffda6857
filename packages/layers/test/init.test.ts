import { Generator, matmul, zeros } from '@seqgrad/autograd';
import { GRU, LSTM, LSTMCell, RNN, init } from '@seqgrad/layers';
import { describe, expect, test } from 'vitest';

const maxAbs = (a: ArrayLike<number>) => Math.max(...Array.from(a, Math.abs));

describe('init', () => {
  test('uniform / normal: the same seed gives the same values', () => {
    const a = init.uniform(zeros([50]), -1, 1, { generator: new Generator(3) });
    const b = init.uniform(zeros([50]), -1, 1, { generator: new Generator(3) });
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(maxAbs(a.data)).toBeLessThanOrEqual(1);
    const n = init.normal(zeros([2000], { dtype: 'float64' }), 2, 0.5, { generator: new Generator(4) });
    const mean = Array.from(n.data).reduce((s, v) => s + v, 0) / n.size;
    expect(Math.abs(mean - 2)).toBeLessThan(0.05);
  });

  test('xavierUniform: bounded by gain·√(6 / (fanIn + fanOut))', () => {
    const w = init.xavierUniform(zeros([30, 20]), 2);
    expect(maxAbs(w.data)).toBeLessThanOrEqual(2 * Math.sqrt(6 / 50));
    expect(maxAbs(w.data)).toBeGreaterThan(0.8 * 2 * Math.sqrt(6 / 50));
  });

  test.each([[5, 5], [3, 7], [7, 3]])('orthogonal: a %i×%i matrix has orthonormal rows or columns', (r, c) => {
    const w = init.orthogonal(zeros([r, c], { dtype: 'float64' }), 1, { generator: new Generator(9) });
    const gram = r <= c ? matmul(w, w, { transB: true }) : matmul(w, w, { transA: true });
    const n = Math.min(r, c);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(gram.data[i * n + j]).toBeCloseTo(i === j ? 1 : 0, 12);
  });

  test('constant / zeros / ones fill in place', () => {
    const t = zeros([3]);
    expect(init.constant(t, 0.25)).toBe(t);
    expect(Array.from(t.data)).toEqual([0.25, 0.25, 0.25]);
    expect(Array.from(init.ones(t).data)).toEqual([1, 1, 1]);
    expect(Array.from(init.zeros(t).data)).toEqual([0, 0, 0]);
  });

  test('default init: every RNN/LSTM/GRU parameter is U(−1/√H, 1/√H), as PyTorch', () => {
    for (const net of [new RNN(3, 16), new LSTM(3, 16, { numLayers: 2 }), new GRU(3, 16, { bidirectional: true })]) {
      for (const p of net.parameters()) {
        expect(maxAbs(p.data)).toBeLessThanOrEqual(0.25);
        expect(maxAbs(p.data)).toBeGreaterThan(0.2);
      }
    }
  });

  test('forgetBias: b_ih[f] is the value and b_hh[f] is 0, other gates keep the default', () => {
    const lstm = new LSTM(2, 4, { forgetBias: 1 });
    const bih = lstm.params[0]![0]!.biasIh!.data;
    const bhh = lstm.params[0]![0]!.biasHh!.data;
    expect(Array.from(bih.subarray(4, 8))).toEqual([1, 1, 1, 1]);
    expect(Array.from(bhh.subarray(4, 8))).toEqual([0, 0, 0, 0]);
    expect(maxAbs(bih.subarray(0, 4))).toBeLessThanOrEqual(0.5);
    const cell = new LSTMCell(2, 4, { forgetBias: 2 });
    expect(Array.from(cell.biasIh!.data.subarray(4, 8))).toEqual([2, 2, 2, 2]);
  });

  test('recurrentInit orthogonal: each gate block of W_hh is orthogonal', () => {
    const gru = new GRU(2, 4, { recurrentInit: 'orthogonal', dtype: 'float64' });
    const w = gru.params[0]![0]!.weightHh;
    for (let g = 0; g < 3; g++) {
      const block = w.narrow(0, 4 * g, 4);
      const gram = matmul(block, block, { transB: true });
      for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) expect(gram.data[i * 4 + j]).toBeCloseTo(i === j ? 1 : 0, 12);
    }
  });

  test('seeded generator: two layers built from the same seed are identical', () => {
    const a = new LSTM(3, 4, { generator: new Generator(5) });
    const b = new LSTM(3, 4, { generator: new Generator(5) });
    expect(a.parameters().map((p) => Array.from(p.data))).toEqual(b.parameters().map((p) => Array.from(p.data)));
  });
});
