import { Generator, type Tensor, gradcheck, grad, noGrad, randn, tensor } from '@seqgrad/autograd';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { AdditiveAttention, DotAttention, maskedSoftmax } from '../../examples/attention/attention.js';
import { Seq2Seq } from '../../examples/attention/seq2seq.js';
import { type TaskOptions, makeBatch } from '../../examples/attention/task.js';
import { train } from '../../examples/attention/train.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Fraction of target steps t (t < length) whose largest attention weight is on source
 * position length − 1 − t: the alignment that reversal needs.
 */
function mirroredAttention(model: Seq2Seq, task: TaskOptions, size: number): number {
  const batch = makeBatch(size, task, new Generator(999));
  const weights = noGrad(() => {
    const { keys, state } = model.encode(batch.source, batch.lengths);
    return model.decode(batch.decoderInput, state, keys, batch.sourceMask).weights!;
  });
  const T = task.maxLength;
  const best = weights.argmax(-1); // (B, Tt)
  let steps = 0;
  let mirrored = 0;
  for (let b = 0; b < size; b++) {
    const L = batch.lengths[b]!;
    for (let t = 0; t < L; t++, steps++) if (best.data[b * T + t] === L - 1 - t) mirrored++;
  }
  return mirrored / steps;
}

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

describe('examples/attention: the whole model', () => {
  for (const attention of ['dot', 'additive', 'none'] as const) {
    test(`Seq2Seq (${attention}): gradcheck (fast mode) of the teacher-forced loss for every parameter, float64, padded batch`, () => {
      const g = new Generator(11);
      const task = { symbols: 4, minLength: 2, maxLength: 5 };
      const model = new Seq2Seq({ vocabSize: 6, embedSize: 3, hiddenSize: 4, attentionSize: 3, attention, dtype: 'float64', generator: g });
      const batch = makeBatch(3, task, g);
      expect(Array.from(batch.lengths).some((L) => L < task.maxLength)).toBe(true); // some padding to mask
      const named = model.namedParameters();
      expect(gradcheck(() => model.loss(batch), named.map(([, p]) => p), { fastMode: true, names: named.map(([n]) => n) })).toBe(true);
    });
  }
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
    const mirrored = [dot, additive].map((r) => mirroredAttention(r.model, common.task, 200));
    console.log([
      line('none', none), line('dot', dot), line('additive', additive),
      `attention on the mirrored source position: dot ${mirrored[0]!.toFixed(3)}, additive ${mirrored[1]!.toFixed(3)}`,
    ].join('\n'));
    for (const r of [dot, additive]) {
      expect(r.tokenAccuracy).toBeGreaterThan(0.8);
      expect(r.tokenAccuracy).toBeGreaterThan(none.tokenAccuracy + 0.15);
      expect(r.sequenceAccuracy).toBeGreaterThan(none.sequenceAccuracy + 0.2);
    }
    // The models learned (mostly) the alignment reversal needs: decoder step t looks at source L − 1 − t.
    for (const m of mirrored) expect(m).toBeGreaterThan(0.5);
  });
});

test('docs/attention.md shows examples/attention/attention.ts verbatim', () => {
  const source = readFileSync(`${root}/examples/attention/attention.ts`, 'utf8');
  const code = source.slice(source.indexOf('import {'));
  expect(readFileSync(`${root}/docs/attention.md`, 'utf8')).toContain(code.trimEnd());
});
