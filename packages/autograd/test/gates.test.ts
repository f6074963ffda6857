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

/** Runs `call` on float32 copies of `rows` in one workspace; returns every row after the call. */
function withRows(rows: ArrayLike<number>[], call: (g: NonNullable<ReturnType<typeof kernels.wasmGates>>, ptrs: number[]) => void): Float32Array[] {
  const g = kernels.wasmGates()!;
  const ws = g.workspace(rows.map((r) => r.length));
  try {
    rows.forEach((r, k) => ws.views[k]!.set(r));
    call(g, ws.ptrs);
    return ws.views.map((v) => v.slice());
  } finally {
    ws.release();
  }
}

/** Largest |got − ref| / max(1, |ref|) over the elements. */
function maxErr(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(got.length).toBe(ref.length);
  let m = 0;
  for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs(got[i]! - ref[i]!) / Math.max(1, Math.abs(ref[i]!)));
  return m;
}

const f32 = (xs: number[]) => Array.from(Float32Array.from(xs));
const row = (H: number, lo: number, hi: number) => fc.array(fc.double({ min: lo, max: hi, noNaN: true }), { minLength: H, maxLength: H }).map(f32);

describe('WebAssembly gate backward steps (float32)', () => {
  test('gruBackward: da_r, da_z, da_n (input side), da_n·r (hidden side) and dh ← g·z within 1e-6 of float64 (relative above 1), with and without dOutput and dHidden', () => {
    const arb = fc.integer({ min: 1, max: 4 }).chain((H4) => {
      const H = 4 * H4;
      return fc.record({ H: fc.constant(H), gates: row(3 * H, 0, 1), hp: row(H, -1, 1), hn: row(H, -2, 2), dh: row(H, -2, 2), dout: row(H, -2, 2), withOut: fc.boolean() });
    });
    fc.assert(fc.property(arb, ({ H, gates, hp, hn, dh, dout, withOut }) => {
      const z0 = new Array<number>(H).fill(0);
      const z3 = new Array<number>(3 * H).fill(0);
      const [, , , dhAfter, , dhid, dgi, dgh, da] = withRows([gates, hp, hn, dh, dout, z0, z3, z3, z3], (g, p) => {
        g.gruBackward(p[0]!, p[1]!, p[2]!, p[3]!, withOut ? p[4]! : 0, withOut ? p[5]! : 0, p[6]!, p[7]!, p[8]!, H);
      });
      const ref = { dh: [] as number[], dhid: [] as number[], dgi: new Array<number>(3 * H), dgh: new Array<number>(3 * H) };
      for (let j = 0; j < H; j++) {
        const gr = dh[j]! + (withOut ? dout[j]! : 0);
        const [r, z, n] = [gates[j]!, gates[H + j]!, gates[2 * H + j]!];
        const dan = gr * (1 - z) * (1 - n * n);
        const daz = gr * (hp[j]! - n) * z * (1 - z);
        const dar = dan * hn[j]! * r * (1 - r);
        ref.dh.push(gr * z);
        ref.dhid.push(withOut ? gr : 0);
        [ref.dgi[j], ref.dgi[H + j], ref.dgi[2 * H + j]] = [dar, daz, dan];
        [ref.dgh[j], ref.dgh[H + j], ref.dgh[2 * H + j]] = [dar, daz, dan * r];
      }
      expect(maxErr(dhAfter!, ref.dh), 'dh').toBeLessThan(1e-6);
      expect(maxErr(dhid!, ref.dhid), 'dhid').toBeLessThan(1e-6);
      expect(maxErr(dgi!, ref.dgi), 'dgi').toBeLessThan(1e-6);
      expect(maxErr(dgh!, ref.dgh), 'dgh').toBeLessThan(1e-6);
      expect(Array.from(da!), 'da = dgh').toEqual(Array.from(dgh!));
    }));
  });

  test('rnnBackward: da = (dh + dOutput)(1 − h²) (tanh) or (dh + dOutput)[h > 0] (relu) within 1e-6 of float64 (relative above 1), written twice; dh zeroed', () => {
    const arb = fc.integer({ min: 1, max: 4 }).chain((H4) => {
      const H = 4 * H4;
      return fc.record({ H: fc.constant(H), h: row(H, -1, 1), dh: row(H, -2, 2), dout: row(H, -2, 2), withOut: fc.boolean(), relu: fc.boolean() });
    });
    fc.assert(fc.property(arb, ({ H, h, dh, dout, withOut, relu }) => {
      const z0 = new Array<number>(H).fill(0);
      const [, dhAfter, , dhid, da, da2] = withRows([h, dh, dout, z0, z0, z0], (g, p) => {
        g.rnnBackward(p[0]!, p[1]!, withOut ? p[2]! : 0, withOut ? p[3]! : 0, p[4]!, p[5]!, relu ? 1 : 0, H);
      });
      const gr = dh.map((v, j) => v + (withOut ? dout[j]! : 0));
      const ref = gr.map((v, j) => (relu ? (h[j]! > 0 ? v : 0) : v * (1 - h[j]! * h[j]!)));
      expect(maxErr(da!, ref)).toBeLessThan(1e-6);
      expect(Array.from(da2!)).toEqual(Array.from(da!));
      expect(maxErr(dhid!, withOut ? gr : z0)).toBeLessThan(1e-6);
      expect(Array.from(dhAfter!)).toEqual(z0);
    }));
  });
});
