import { Generator } from '@seqgrad/autograd';
import { describe, expect, test } from 'vitest';
import { EMBEDDED_TEXT, addingTask, charlmTask, echoTask, vocabularyOf } from 'seqgrad';

describe('tasks', () => {
  test('addingTask: one marker in each half, target the sum of the marked values', () => {
    const task = addingTask(10);
    const { input, target } = task.batch(16, new Generator(1));
    expect(input.shape).toEqual([16, 10, 2]);
    expect(target.shape).toEqual([16, 1]);
    for (let b = 0; b < 16; b++) {
      const marked: number[] = [];
      let sum = 0;
      for (let t = 0; t < 10; t++) {
        const value = input.data[(b * 10 + t) * 2]!;
        expect(value).toBeGreaterThanOrEqual(0);
        expect(value).toBeLessThan(1);
        if (input.data[(b * 10 + t) * 2 + 1] === 1) {
          marked.push(t);
          sum += value;
        }
      }
      expect(marked).toHaveLength(2);
      expect(marked[0]).toBeLessThan(5);
      expect(marked[1]).toBeGreaterThanOrEqual(5);
      expect(target.data[b]).toBeCloseTo(sum, 6);
    }
  });

  test('echoTask: the target at t is the symbol at t − k, nothing asked before k', () => {
    const task = echoTask(9, 3, 4);
    const { input, target } = task.batch(5, new Generator(2));
    const symbolAt = (b: number, t: number) => [0, 1, 2, 3].find((s) => input.data[(b * 9 + t) * 4 + s] === 1);
    for (let b = 0; b < 5; b++) {
      for (let t = 0; t < 9; t++) expect(target.data[b * 9 + t]).toBe(t < 3 ? -100 : symbolAt(b, t - 3));
    }
  });

  test('charlmTask: targets are the inputs shifted by one character of the text', () => {
    const vocab = vocabularyOf(EMBEDDED_TEXT);
    const task = charlmTask(12);
    expect(task.vocab).toEqual(vocab);
    expect(EMBEDDED_TEXT.length).toBeGreaterThan(3000);
    const { input, target } = task.batch(3, new Generator(3));
    for (let b = 0; b < 3; b++) {
      const x = Array.from(input.data.subarray(b * 12, b * 12 + 12), (i) => vocab[i]).join('');
      const y = Array.from(target.data.subarray(b * 12, b * 12 + 12), (i) => vocab[i]).join('');
      expect(EMBEDDED_TEXT).toContain(x + y.at(-1));
      expect(x.slice(1)).toBe(y.slice(0, -1));
    }
  });

  test('tasks: the same generator state gives the same batch', () => {
    const a = echoTask().batch(4, new Generator(7));
    const b = echoTask().batch(4, new Generator(7));
    expect(a.input.data).toEqual(b.input.data);
    expect(a.target.data).toEqual(b.target.data);
  });

  test('tasks: impossible settings are refused with the flag to change', () => {
    expect(() => echoTask(4, 5)).toThrow(/--seq-len must be an integer > delay \(5\), got 4/);
    expect(() => addingTask(1)).toThrow(/--seq-len must be an integer ≥ 2/);
    expect(() => charlmTask(8, 'short')).toThrow(/fewer than --seq-len \+ 2/);
  });
});
