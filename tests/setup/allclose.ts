import { expect } from 'vitest';

/**
 * The one closeness matcher of the tests, registered for every test file by vitest.config.ts:
 *
 *   expect(actual).toBeAllclose(expected, { rtol, atol, equalNan })
 *
 * passes when both sides have the same shape and every element satisfies NumPy's rule
 * |actual − expected| ≤ atol + rtol·|expected| (defaults rtol 1e-5, atol 1e-8). Infinities
 * must be equal; NaN is unequal to everything unless `equalNan` is set, then it equals NaN.
 * A side is a Tensor (anything with `shape` and `data`), a typed array or a flat number[]
 * (shape [n]), a nested number[][] (its shape is read off the nesting), or a number (shape []).
 * A failure names the worst element (by how far it is past its tolerance), both values and
 * the tolerance.
 */

export interface AllcloseOptions {
  /** Relative tolerance, times |expected| (default 1e-5). */
  rtol?: number;
  /** Absolute tolerance (default 1e-8). */
  atol?: number;
  /** NaN equals NaN (default false: a NaN anywhere fails). */
  equalNan?: boolean;
}

/** What the matcher compares: a Tensor-like, a typed array, nested number arrays, or a number. */
export type Allclosable = number | ArrayLike<number> | NestedNumbers | { readonly shape: readonly number[]; readonly data: ArrayLike<number> };
export interface NestedNumbers extends ReadonlyArray<number | NestedNumbers> {}

interface Flat {
  shape: number[];
  values: ArrayLike<number>;
}

function isTensorLike(x: unknown): x is { shape: readonly number[]; data: ArrayLike<number> } {
  return typeof x === 'object' && x !== null && Array.isArray((x as { shape?: unknown }).shape) && typeof (x as { data?: unknown }).data === 'object';
}

function flatten(x: Allclosable, side: string): Flat {
  if (typeof x === 'number') return { shape: [], values: [x] };
  if (isTensorLike(x)) return { shape: [...x.shape], values: x.data };
  if (ArrayBuffer.isView(x)) return { shape: [(x as ArrayLike<number>).length], values: x as ArrayLike<number> };
  if (!Array.isArray(x)) throw new TypeError(`toBeAllclose: ${side} is ${x === null ? 'null' : typeof x}, not a Tensor, typed array, number[] or number`);
  // Nested arrays: the shape is read along the first elements, and every row must match it.
  const shape: number[] = [];
  for (let level: unknown = x; Array.isArray(level); level = level[0]) shape.push(level.length);
  const values: number[] = [];
  const walk = (a: unknown, depth: number, at: string): void => {
    if (depth === shape.length) {
      if (typeof a !== 'number') throw new TypeError(`toBeAllclose: ${side}${at} is ${Array.isArray(a) ? 'an array' : typeof a}, expected a number (shape [${shape}])`);
      values.push(a);
      return;
    }
    if (!Array.isArray(a) || a.length !== shape[depth]) {
      throw new TypeError(`toBeAllclose: ${side}${at} is ragged: ${Array.isArray(a) ? `length ${a.length}` : typeof a} where the shape [${shape}] needs length ${shape[depth]}`);
    }
    a.forEach((v, i) => walk(v, depth + 1, `${at}[${i}]`));
  };
  walk(x, 0, '');
  return { shape, values };
}

/** The multi-index of flat index `i` in a row-major `shape`. */
function unflatten(i: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    index[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return index;
}

/** Why `actual` is not allclose to `expected`, or null when it is. */
export function allcloseReport(actual: Allclosable, expected: Allclosable, opts: AllcloseOptions = {}): string | null {
  const rtol = opts.rtol ?? 1e-5;
  const atol = opts.atol ?? 1e-8;
  const a = flatten(actual, 'actual');
  const e = flatten(expected, 'expected');
  if (a.shape.length !== e.shape.length || a.shape.some((d, i) => d !== e.shape[i])) {
    return `shape [${a.shape}] differs from the expected [${e.shape}]`;
  }
  // The worst element is the one furthest past its tolerance: |diff| / (atol + rtol·|expected|).
  let worst = -1;
  let worstRatio = 0;
  let failures = 0;
  for (let i = 0; i < e.values.length; i++) {
    const x = Number(a.values[i]);
    const y = Number(e.values[i]);
    let ratio: number;
    if (Number.isNaN(x) || Number.isNaN(y)) {
      ratio = opts.equalNan && Number.isNaN(x) && Number.isNaN(y) ? 0 : Infinity;
    } else if (x === y) {
      ratio = 0; // also equal infinities
    } else if (!Number.isFinite(x) || !Number.isFinite(y)) {
      ratio = Infinity; // an infinity is close only to itself, whatever the tolerance
    } else {
      const diff = Math.abs(x - y);
      const tol = atol + rtol * Math.abs(y);
      ratio = diff <= tol ? 0 : tol > 0 ? diff / tol : Infinity;
    }
    if (ratio > 0) {
      failures++;
      if (worst < 0 || ratio > worstRatio) {
        worst = i;
        worstRatio = ratio;
      }
    }
  }
  if (worst < 0) return null;
  const x = Number(a.values[worst]);
  const y = Number(e.values[worst]);
  const where = a.shape.length === 0 ? 'the value' : `element [${unflatten(worst, a.shape)}]${a.shape.length > 1 ? ` (flat ${worst})` : ''}`;
  const allowed = atol + rtol * Math.abs(y);
  const nan = Number.isNaN(x) || Number.isNaN(y) ? `; NaN is unequal${opts.equalNan ? ' to a number' : ' (equalNan is off)'}` : '';
  return (
    `${failures} of ${e.values.length} element(s) differ; worst ${where}: actual ${x}, expected ${y}, ` +
    `|diff| ${Math.abs(x - y)} > atol ${atol} + rtol ${rtol}·|expected| = ${allowed}${nan}`
  );
}

/** max |a − b| over two arrays of the same shape (a figure to record or compare with a quoted one). */
export function maxAbsDiff(actual: Allclosable, expected: Allclosable): number {
  const a = flatten(actual, 'actual');
  const e = flatten(expected, 'expected');
  if (a.shape.length !== e.shape.length || a.shape.some((d, i) => d !== e.shape[i])) {
    throw new Error(`maxAbsDiff: shape [${a.shape}] differs from [${e.shape}]`);
  }
  let m = 0;
  for (let i = 0; i < e.values.length; i++) m = Math.max(m, Math.abs(Number(a.values[i]) - Number(e.values[i])));
  return m;
}

/** max |x| over an array: the scale of an expected result, for a tolerance relative to it. */
export function maxAbs(x: Allclosable): number {
  const { values } = flatten(x, 'argument');
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(Number(values[i])));
  return m;
}

expect.extend({
  toBeAllclose(received: Allclosable, expected: Allclosable, opts: AllcloseOptions = {}) {
    const report = allcloseReport(received, expected, opts);
    const tol = `rtol ${opts.rtol ?? 1e-5}, atol ${opts.atol ?? 1e-8}`;
    return {
      pass: report === null,
      message: () =>
        report === null
          ? `expected values not to be allclose (${tol}), but every element is within tolerance (max |diff| ${maxAbsDiff(received, expected)})`
          : `expected values to be allclose (${tol}): ${report}`,
    };
  },
});

declare module 'vitest' {
  interface Matchers<T = any> {
    /** Same shape, and |actual − expected| ≤ atol + rtol·|expected| elementwise (defaults 1e-5, 1e-8; NaN unequal unless equalNan). */
    toBeAllclose(expected: Allclosable, opts?: AllcloseOptions): T;
  }
}
