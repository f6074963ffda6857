import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Tensor, kernels, sigmoid, tanh } from '@seqgrad/autograd';

/**
 * expm1F32, tanhF32 and sigmoidF32: the table-and-polynomial activations used for float32
 * results (fused gate loops, and tanh/sigmoid into float32 tensors). Each is held to the
 * correctly rounded float32 value of the Math-based reference within 1 ulp, and to a small
 * relative error in double, over a dense sweep and over arbitrary float32 inputs.
 */

const { expm1F32, tanhF32, sigmoidF32 } = kernels;

const sigmoidRef = (v: number) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));

const bits = new Float32Array(1);
const bitsU = new Uint32Array(bits.buffer);
/** Distance in float32 units in the last place between two numbers, each rounded to float32. */
function ulpDistance(a: number, b: number): number {
  const ordered = (v: number) => {
    bits[0] = v;
    const u = bitsU[0]!;
    return u >>> 31 ? -(u & 0x7fffffff) : u;
  };
  return Math.abs(ordered(a) - ordered(b));
}

/** Float32 values in [−lim, lim], dense near 0 (cubic spacing), n + 1 of them. */
function sweep(lim: number, n: number): Float32Array {
  const out = new Float32Array(n + 1);
  for (let i = 0; i <= n; i++) {
    const u = 2 * i / n - 1;
    out[i] = lim * u * u * u;
  }
  return out;
}

const cases = [
  { name: 'tanhF32', f: tanhF32, ref: Math.tanh, lim: 30 },
  { name: 'sigmoidF32', f: sigmoidF32, ref: sigmoidRef, lim: 120 },
  { name: 'expm1F32', f: expm1F32, ref: Math.expm1, lim: 80 },
] as const;

describe('float32 activations', () => {
  test.each(cases)('$name: within 1 float32 ulp of the Math reference over 400,001 points, relative error < 1e-11 where float32 is normal', ({ f, ref, lim }) => {
    let maxUlp = 0;
    let off = 0;
    let maxRel = 0;
    for (const x of sweep(lim, 400_000)) {
      const got = f(x);
      const want = ref(x);
      const d = ulpDistance(got, want);
      if (d > maxUlp) maxUlp = d;
      if (d > 0) off++;
      // (relative error only where float32 is normal: clamped tails are exact only after rounding)
      if (Math.abs(want) > 1.2e-38 && Number.isFinite(want)) maxRel = Math.max(maxRel, Math.abs(got - want) / Math.abs(want));
    }
    expect(maxUlp).toBeLessThanOrEqual(1);
    expect(off).toBeLessThan(40); // 1-ulp differences only where the exact value sits on a rounding boundary
    expect(maxRel).toBeLessThan(1e-11);
  });

  test.each(cases)('$name: within 1 ulp for arbitrary float32 inputs', ({ f, ref, lim }) => {
    fc.assert(fc.property(fc.float({ min: -lim, max: lim, noNaN: true }), (x) => {
      expect(ulpDistance(f(x), ref(x))).toBeLessThanOrEqual(1);
    }));
  });

  test('special values: ±0 keep their sign, ±Infinity saturate, NaN propagates', () => {
    expect(Object.is(tanhF32(-0), -0)).toBe(true);
    expect(Object.is(tanhF32(0), 0)).toBe(true);
    expect(Object.is(expm1F32(-0), -0)).toBe(true);
    expect(tanhF32(Infinity)).toBe(1);
    expect(tanhF32(-Infinity)).toBe(-1);
    expect(sigmoidF32(Infinity)).toBe(1);
    expect(Math.fround(sigmoidF32(-Infinity))).toBe(0);
    expect(sigmoidF32(0)).toBe(0.5);
    expect(tanhF32(NaN)).toBeNaN();
    expect(sigmoidF32(NaN)).toBeNaN();
    expect(expm1F32(NaN)).toBeNaN();
  });

  test('tensors: float32 tanh/sigmoid use them, float64 stays on Math', () => {
    const xs = Array.from(sweep(12, 1000));
    const t32 = new Tensor(Float32Array.from(xs), [xs.length]);
    const t64 = new Tensor(Float64Array.from(xs), [xs.length]);
    const th32 = tanh(t32).data;
    const sg32 = sigmoid(t32).data;
    const th64 = tanh(t64).data;
    xs.forEach((x, i) => {
      expect(th32[i]).toBe(Math.fround(tanhF32(x)));
      expect(sg32[i]).toBe(Math.fround(sigmoidF32(x)));
      expect(th64[i]).toBe(Math.tanh(x));
    });
  });
});
