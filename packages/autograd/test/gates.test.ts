import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { kernels } from '@seqgrad/autograd';

const ULP1 = 2 ** -23; // float32 spacing just above 1
const TINY = 2 ** -126; // smallest normal float32

/** |got − ref| in float32 ulps of the reference value (the spacing at |ref|, at least that of the smallest normal). */
function ulps(got: number, ref: number): number {
  const spacing = 2 ** Math.floor(Math.log2(Math.max(Math.abs(ref), TINY))) * ULP1;
  return Math.abs(got - ref) / spacing;
}

/** The kernel `name` applied to xs in the gate module's memory; xs padded to a multiple of 4. */
function apply(name: 'sigmoid' | 'tanh', xs: ArrayLike<number>): Float32Array {
  const g = kernels.wasmGates()!;
  const n = Math.ceil(xs.length / 4) * 4;
  const ws = g.workspace([n]);
  try {
    ws.views[0]!.set(xs);
    g[name](ws.ptrs[0]!, n);
    return ws.views[0]!.slice(0, xs.length);
  } finally {
    ws.release();
  }
}

const sigmoid64 = (x: number) => 1 / (1 + Math.exp(-x));

describe('WebAssembly gate activations (float32)', () => {
  test('sigmoid, tanh: within 3 float32 ulps of the float64 reference over a 200,001-point sweep of [−40, 40] and of [−1, 1]', () => {
    for (const [lo, hi] of [[-40, 40], [-1, 1]]) {
      const xs = Float32Array.from({ length: 200_001 }, (_, i) => lo + ((hi - lo) * i) / 200_000);
      for (const [name, ref] of [['sigmoid', sigmoid64], ['tanh', Math.tanh]] as const) {
        const got = apply(name, xs);
        let worst = 0;
        for (let i = 0; i < xs.length; i++) worst = Math.max(worst, ulps(got[i]!, ref(xs[i]!)));
        expect(worst, `${name} on [${lo}, ${hi}]`).toBeLessThanOrEqual(3);
      }
    }
  });

  test('sigmoid, tanh: within 3 float32 ulps of the float64 reference for any float32 in [−80, 80] (property)', () => {
    fc.assert(fc.property(fc.array(fc.float({ min: -80, max: 80, noNaN: true }), { minLength: 1, maxLength: 64 }), (xs) => {
      const s = apply('sigmoid', xs);
      const t = apply('tanh', xs);
      for (let i = 0; i < xs.length; i++) {
        expect(ulps(s[i]!, sigmoid64(xs[i]!))).toBeLessThanOrEqual(3);
        expect(ulps(t[i]!, Math.tanh(xs[i]!))).toBeLessThanOrEqual(3);
      }
    }));
  });

  test('sigmoid, tanh: NaN gives NaN; ±Infinity and large values give the limits (sigmoid below 2e−38 from x = −87 down)', () => {
    const xs = [NaN, Infinity, -Infinity, 1e30, -1e30, -100, 0, -0];
    const s = apply('sigmoid', xs);
    const t = apply('tanh', xs);
    expect(Number.isNaN(s[0])).toBe(true);
    expect(Number.isNaN(t[0])).toBe(true);
    expect([s[1], s[3], s[6]]).toEqual([1, 1, 0.5]);
    for (const v of [s[2]!, s[4]!, s[5]!]) expect(v >= 0 && v < 2e-38).toBe(true);
    for (const [v, want] of [[t[1]!, 1], [t[2]!, -1], [t[3]!, 1], [t[4]!, -1]]) expect(ulps(v, want)).toBeLessThanOrEqual(1);
    expect(t[6]).toBe(0);
  });

  test('workspace: one at a time, zeroed (all, or the first `zeroed` buffers), 16-byte aligned, never at address 0; released twice is harmless', () => {
    const g = kernels.wasmGates()!;
    const ws = g.workspace([3, 8, 0, 5]);
    expect(() => g.workspace([4])).toThrow('kernels.wasmGates().workspace: a gate workspace is already in use');
    for (const p of ws.ptrs) expect(p > 0 && p % 16 === 0).toBe(true);
    expect(ws.views.map((v) => v.length)).toEqual([3, 8, 0, 5]);
    ws.views[1]!.fill(7);
    ws.release();
    ws.release();
    const again = g.workspace([3, 8]);
    expect(Array.from(again.views[1]!)).toEqual(new Array(8).fill(0));
    again.release();
    // zeroed = 1: the first buffer zeroed, the second left as the last workspace had it
    const first = g.workspace([4, 4]);
    first.views[0]!.fill(1);
    first.views[1]!.fill(2);
    first.release();
    const partial = g.workspace([4, 4], 1);
    expect([Array.from(partial.views[0]!), Array.from(partial.views[1]!)]).toEqual([[0, 0, 0, 0], [2, 2, 2, 2]]);
    partial.release();
    expect(() => g.workspace([-1])).toThrow('sizes must be non-negative integers, got -1');
  });
});
