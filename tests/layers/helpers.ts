import { type Tensor } from '@seqgrad/autograd';
import { expect } from 'vitest';

/**
 * max |a − b| / max(max |b|, 1e-30) — the error relative to the expected array's scale.
 * Element-wise relative error is meaningless for entries that are exactly 0 (padded steps).
 */
export function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / Math.max(scale, 1e-30);
}

/** Asserts same shape and relErr ≤ rtol, naming what is compared. */
export function expectClose(actual: Tensor | null | undefined, expected: { shape: readonly number[]; data: ArrayLike<number> }, rtol: number, what: string): void {
  expect(actual, `${what}: missing`).toBeTruthy();
  expect([...actual!.shape], `${what}: shape`).toEqual([...expected.shape]);
  const e = relErr(actual!.data, expected.data);
  expect(e, `${what}: relative error ${e.toExponential(2)} > ${rtol}`).toBeLessThanOrEqual(rtol);
}
