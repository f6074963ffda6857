import { Generator, type Tensor, gradcheck, grad, randn, tensor } from '@seqgrad/autograd';
import { describe, expect, test } from 'vitest';
import { AdditiveAttention, DotAttention, maskedSoftmax } from '../../examples/attention/attention.js';
import { train } from '../../examples/attention/train.js';

/** (B, Ts) float64 mask for the given lengths. */
function maskFor(lengths: number[], Ts: number): Tensor {
  const m = new Float64Array(lengths.length * Ts);
  lengths.forEach((L, b) => m.fill(1, b * Ts, b * Ts + L));
  return tensor(m, { shape: [lengths.length, Ts] });
}

describe('examples/attention: attention modules', () => {
  const B = 2;
  const Tq = 3;
  const Ts = 5;
  const H = 4;
  const lengths = [5, 2];
  const mask = maskFor(lengths, Ts);
  const g = new Generator(7);
  // Keys at padded positions are deliberately non-zero: only the mask may hide them.
  const queries = () => randn([B, Tq, H], { dtype: 'float64', generator: g, requiresGrad: true });
  const keys = () => randn([B, Ts, H], { dtype: 'float64', generator: g, requiresGrad: true });
  const additive = new AdditiveAttention(H, 3, { dtype: 'float64', generator: g });
  const modules = [
    ['DotAttention', new DotAttention()],
    ['AdditiveAttention', additive],
  ] as const;

  for (const [name, att] of modules) {
    test(`${name}: gradcheck in float64 with a padding mask (queries, keys and parameters)`, () => {
      const q = queries();
      const k = keys();
      const params = att.parameters();
      expect(gradcheck((qq, kk) => {
        const r = att.forward(qq!, kk!, mask);
        return [r.context, r.weights];
      }, [q, k])).toBe(true);
      if (params.length > 0) {
        expect(gradcheck(() => att.forward(q, k, mask).context, params, { names: att.namedParameters().map(([n]) => n) })).toBe(true);
      }
    });

    test(`${name}: masked positions get exactly zero weight and zero gradient`, () => {
      const q = queries();
      const k = keys();
      const { context, weights } = att.forward(q, k, mask);
      for (let b = 0; b < B; b++) {
        for (let i = 0; i < Tq; i++) {
          let rowSum = 0;
          for (let j = 0; j < Ts; j++) {
            const w = weights.data[(b * Tq + i) * Ts + j]!;
            if (j >= lengths[b]!) expect(Math.abs(w)).toBe(0);
            rowSum += w;
          }
          expect(rowSum).toBeCloseTo(1, 12);
        }
      }
      const [dk] = grad(context.mul(randn(context.shape, { dtype: 'float64', generator: g })).sum(), [k]);
      for (let b = 0; b < B; b++) {
        for (let j = 0; j < Ts; j++) {
          for (let h = 0; h < H; h++) {
            const d = dk!.data[(b * Ts + j) * H + h]!;
            if (j >= lengths[b]!) expect(Math.abs(d)).toBe(0);
            else expect(d).not.toBe(0);
          }
        }
      }
    });
  }

  test('maskedSoftmax: scores at padding never leak into the result', () => {
    const scores = randn([B, Tq, Ts], { dtype: 'float64', generator: g, requiresGrad: true });
    const w1 = maskedSoftmax(scores, mask);
    const huge = scores.detach().clone();
    for (let i = 0; i < huge.size; i++) if (i % Ts >= 2) huge.data[i] = 1e6; // padding of batch 1 (and real tokens of batch 0)
    const w2 = maskedSoftmax(huge, mask);
    for (let i = 0; i < Tq * Ts; i++) expect(w2.data[Tq * Ts + i]).toBeCloseTo(w1.data[Tq * Ts + i]!, 12);
    const [ds] = grad(w1.mul(randn(w1.shape, { dtype: 'float64', generator: g })).sum(), [scores]);
    for (let i = 0; i < Tq; i++) for (let j = 2; j < Ts; j++) expect(Math.abs(ds!.data[(Tq + i) * Ts + j]!)).toBe(0);
  });
});

describe('examples/attention: reversing sequences', () => {
  // Small enough for ~10-30 s on 2 busy cores; float32 (the default); every seed fixed.
  const common = {
    task: { symbols: 10, minLength: 3, maxLength: 12 },
    steps: 250, batchSize: 32, embedSize: 16, hiddenSize: 32, attentionSize: 16, lr: 0.01, seed: 0, testSize: 500,
  };

  test('seq2seq: attention clearly beats the same model without attention', () => {
    const none = train({ ...common, attention: 'none' });
    const dot = train({ ...common, attention: 'dot' });
    const additive = train({ ...common, attention: 'additive' });
    const line = (n: string, r: typeof none) =>
      `${n.padEnd(9)} token accuracy ${r.tokenAccuracy.toFixed(3)}, sequence accuracy ${r.sequenceAccuracy.toFixed(3)}, ` +
      `final loss ${r.losses[r.losses.length - 1]!.toFixed(3)}, ${r.seconds.toFixed(1)} s`;
    console.log([line('none', none), line('dot', dot), line('additive', additive)].join('\n'));
    for (const r of [dot, additive]) {
      expect(r.tokenAccuracy).toBeGreaterThan(0.8);
      expect(r.tokenAccuracy).toBeGreaterThan(none.tokenAccuracy + 0.15);
      expect(r.sequenceAccuracy).toBeGreaterThan(none.sequenceAccuracy + 0.2);
    }
  });
});
