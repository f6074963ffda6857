import { test as fcTest } from '@fast-check/vitest';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Generator, categorical, tensor } from '@seqgrad/autograd';

describe('categorical', () => {
  test('categorical: temperature 0 takes the first largest logit of each row and draws nothing', () => {
    const g = new Generator(1);
    const before = new Generator(1).uniform();
    expect(Array.from(categorical(tensor([[0, 3, 3], [5, -1, 2]]), { temperature: 0, generator: g }).data)).toEqual([1, 0]);
    expect(g.uniform()).toBe(before);
  });

  test('categorical: (V) gives a 0-d int32 tensor, (B, V) a (B) one', () => {
    const one = categorical(tensor([0.5, 0.1]), { generator: new Generator(0) });
    expect(one.shape).toEqual([]);
    expect(one.dtype).toBe('int32');
    expect(categorical(tensor([[0, 1], [1, 0], [2, 2]]), { generator: new Generator(0) }).shape).toEqual([3]);
  });

  test('categorical: the frequencies follow softmax(logits / temperature)', () => {
    const logits = [1, 0, -1, 0.5];
    const g = new Generator(7);
    const counts = [0, 0, 0, 0];
    const n = 20_000;
    for (let i = 0; i < n; i++) counts[categorical(tensor(logits), { temperature: 2, generator: g }).item()]!++;
    const w = logits.map((l) => Math.exp(l / 2));
    const z = w.reduce((a, b) => a + b, 0);
    // 4 standard deviations of a binomial frequency at n = 20000 is under 0.015.
    counts.forEach((c, k) => expect(Math.abs(c / n - w[k]! / z)).toBeLessThan(0.015));
  });

  fcTest.prop([fc.array(fc.double({ min: -20, max: 20, noNaN: true }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 1000 })])(
    'categorical: the same seed draws the same index, always a valid one',
    (logits, seed) => {
      const a = categorical(tensor(logits, { dtype: 'float64' }), { temperature: 0.7, generator: new Generator(seed) }).item();
      const b = categorical(tensor(logits, { dtype: 'float64' }), { temperature: 0.7, generator: new Generator(seed) }).item();
      expect(a).toBe(b);
      expect(a >= 0 && a < logits.length).toBe(true);
    },
  );

  test('categorical: bad input is refused by name', () => {
    expect(() => categorical(tensor([1, NaN]))).toThrow(/categorical: logits\[2\] row 0 holds NaN at index 1/);
    expect(() => categorical(tensor([1, 2]), { temperature: -1 })).toThrow(/categorical: temperature must be a finite number ≥ 0/);
    expect(() => categorical(tensor([[[1]]]))).toThrow(/categorical: logits\[1,1,1\]/);
    expect(() => categorical(tensor([1]), { temp: 1 } as never)).toThrow(/categorical: unknown option 'temp'/);
  });
});
