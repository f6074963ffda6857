import { tensor } from '@seqgrad/autograd';
import { describe, expect, test } from 'vitest';
import { allcloseReport, maxAbs, maxAbsDiff } from './allclose.js';

/** The next float64 above x (x finite and positive): one unit in the last place more. */
function nextUp(x: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  view.setBigUint64(0, view.getBigUint64(0) + 1n);
  return view.getFloat64(0);
}

/** The message of a failed `toBeAllclose`, or null when the assertion passed. */
function failureOf(check: () => void): string | null {
  try {
    check();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

describe('toBeAllclose', () => {
  test('toBeAllclose: passes at exactly the tolerance and fails one ulp above it (atol)', () => {
    // |1.5 − 1| = 0.5 is exact in float64, so atol 0.5 is the boundary.
    expect(1.5).toBeAllclose(1, { atol: 0.5, rtol: 0 });
    expect(nextUp(1.5) - 1).toBeGreaterThan(0.5);
    expect(failureOf(() => expect(nextUp(1.5)).toBeAllclose(1, { atol: 0.5, rtol: 0 }))).toMatch(/actual 1\.5000000000000002, expected 1/);
  });

  test('toBeAllclose: passes at exactly the tolerance and fails one ulp above it (rtol, inside an array)', () => {
    // rtol 0.25 of |2| allows 0.5: 2.5 passes, the next double above 2.5 does not.
    expect([1, 2.5, 3]).toBeAllclose([1, 2, 3], { rtol: 0.25, atol: 0 });
    const message = failureOf(() => expect([1, nextUp(2.5), 3]).toBeAllclose([1, 2, 3], { rtol: 0.25, atol: 0 }));
    expect(message).toMatch(/1 of 3 element\(s\) differ; worst element \[1\]: actual 2\.5000000000000004, expected 2/);
    expect(message).toMatch(/atol 0 \+ rtol 0\.25·\|expected\| = 0\.5/);
  });

  test('toBeAllclose: exact comparison with rtol 0 and atol 0 fails on one ulp', () => {
    expect(Float64Array.of(1, 2)).toBeAllclose([1, 2], { rtol: 0, atol: 0 });
    expect(failureOf(() => expect(Float64Array.of(1, nextUp(2))).toBeAllclose([1, 2], { rtol: 0, atol: 0 }))).not.toBeNull();
  });

  test('toBeAllclose: a shape mismatch fails even when the values agree', () => {
    const t = tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3], dtype: 'float64' });
    expect(t).toBeAllclose([[1, 2, 3], [4, 5, 6]]);
    expect(failureOf(() => expect(t).toBeAllclose(tensor([1, 2, 3, 4, 5, 6], { shape: [3, 2], dtype: 'float64' })))).toMatch(/shape \[2,3\] differs from the expected \[3,2\]/);
    expect(failureOf(() => expect(t).toBeAllclose([1, 2, 3, 4, 5, 6]))).toMatch(/shape \[2,3\] differs from the expected \[6\]/);
    expect(failureOf(() => expect([1, 2]).toBeAllclose([1, 2, 3]))).toMatch(/shape \[2\] differs/);
    expect(failureOf(() => expect(1).toBeAllclose([1]))).toMatch(/shape \[\] differs from the expected \[1\]/);
  });

  test('toBeAllclose: NaN is unequal to everything, itself included, unless equalNan', () => {
    expect(failureOf(() => expect([1, NaN]).toBeAllclose([1, NaN]))).toMatch(/worst element \[1\]: actual NaN, expected NaN.*equalNan is off/);
    expect(failureOf(() => expect([NaN]).toBeAllclose([0], { atol: Infinity }))).toMatch(/actual NaN, expected 0/);
    expect(failureOf(() => expect([0]).toBeAllclose([NaN], { equalNan: true }))).toMatch(/actual 0, expected NaN/);
    expect([1, NaN]).toBeAllclose([1, NaN], { equalNan: true });
  });

  test('toBeAllclose: infinities must be equal; a finite value is never close to one', () => {
    expect([Infinity, -Infinity]).toBeAllclose([Infinity, -Infinity]);
    expect(failureOf(() => expect([Infinity]).toBeAllclose([-Infinity], { atol: 1e300 }))).not.toBeNull();
    expect(failureOf(() => expect([1e308]).toBeAllclose([Infinity], { rtol: 0.5 }))).toMatch(/actual 1e\+308, expected Infinity/);
  });

  test('toBeAllclose: names the worst element by how far past its tolerance, with its multi-index', () => {
    // Element [0,1] is 0.2 off with a tolerance of 0.1 (2×); element [1,2] is 3 off with a tolerance of 1.1 (2.7×).
    const message = failureOf(() => expect([[0, 0.2, 0], [0, 0, 13]]).toBeAllclose([[0, 0, 0], [0, 0, 10]], { atol: 0.1, rtol: 0.1 }));
    expect(message).toMatch(/2 of 6 element\(s\) differ; worst element \[1,2\] \(flat 5\): actual 13, expected 10/);
  });

  test('toBeAllclose: accepts tensors, typed arrays, number[], nested arrays and numbers alike', () => {
    const t = tensor([0.5, -1], { dtype: 'float32' });
    expect(t).toBeAllclose([0.5, -1]);
    expect(t).toBeAllclose(Float64Array.of(0.5, -1));
    expect(t.data).toBeAllclose(tensor([0.5, -1], { dtype: 'float64' }));
    expect(tensor(2, { dtype: 'float64' })).toBeAllclose(2);
    expect([[1e-9]]).toBeAllclose([[0]]);
    expect(() => expect([[1, 2], [3]]).toBeAllclose([[1, 2], [3, 4]])).toThrow(/actual\[1\] is ragged/);
  });

  test('toBeAllclose: .not passes on a difference and fails, quoting the max |diff|, when all agree', () => {
    expect([1, 2]).not.toBeAllclose([1, 2.1]);
    expect(failureOf(() => expect([1, 2]).not.toBeAllclose([1, 2.25], { atol: 0.5 }))).toMatch(/max \|diff\| 0\.25/);
  });

  test('allcloseReport, maxAbsDiff, maxAbs: the report is null when close; the figures are the largest magnitudes', () => {
    expect(allcloseReport([1, 2], [1, 2 + 1e-12])).toBeNull();
    expect(maxAbsDiff([[1, -3]], [[1.5, 1]])).toBe(4);
    expect(() => maxAbsDiff([1, 2], [1])).toThrow(/maxAbsDiff: shape \[2\] differs from \[1\]/);
    expect(maxAbs(tensor([0.5, -7, 3], { dtype: 'float64' }))).toBe(7);
  });
});
