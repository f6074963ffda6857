import { describe, expect, test } from 'vitest';
import { Generator, SeqgradError } from '@seqgrad/autograd';
import { gruForward, lstmBackward, lstmCellForward, lstmForward, rnnBackward, rnnForward } from '@seqgrad/layers';
import { VARIANTS, composedRun, handRun, maxRelErr, shapesOf, type Case, type InputName } from './reference.js';

/** A case with PyTorch's default init U(−1/√H, 1/√H) and standard normal inputs, from a seed. */
function seededCase(variant: Case['variant'], dims: { B: number; T: number; I: number; H: number; P?: number }, seed: number): Case {
  const gen = new Generator(seed);
  const base = { variant, ...dims, P: dims.P ?? 0 };
  const shapes = shapesOf(base);
  const k = 1 / Math.sqrt(dims.H);
  const u = (n: number, s: number) => Float64Array.from({ length: n }, () => s * (2 * gen.uniform() - 1));
  const size = (n: InputName) => shapes[n].reduce((a, b) => a * b, 1);
  const lstm = variant.family === 'lstm';
  const S = dims.P || dims.H;
  return {
    ...base, lengths: Int32Array.from({ length: dims.B }, (_, b) => dims.T - b), reverse: false,
    values: {
      x: u(size('x'), 1), h0: u(size('h0'), 0.5), c0: lstm ? u(size('c0'), 0.5) : null,
      weightIh: u(size('weightIh'), k), weightHh: u(size('weightHh'), k), biasIh: u(size('biasIh'), k), biasHh: u(size('biasHh'), k),
      weightHr: dims.P ? u(size('weightHr'), k) : null,
    },
    dOutput: u(dims.B * dims.T * S, 1), dhT: u(dims.B * S, 1), dcT: lstm ? u(dims.B * dims.H, 1) : null,
  };
}

describe('hand BPTT over T = 1000', () => {
  for (const variant of VARIANTS) test(`${variant.family}Backward: T = 1000 agrees with autograd and stays finite (${variant.name})`, () => {
    const c = seededCase(variant, { B: 2, T: 1000, I: 3, H: 4, P: variant.proj ? 2 : undefined }, 7);
    const hand = handRun(c);
    const ref = composedRun(c);
    expect(maxRelErr(hand.output, ref.output)).toBeLessThan(1e-9);
    for (const n of Object.keys(ref.grads) as InputName[]) {
      const g = hand.grads[n];
      if (ref.grads[n] === null || g === null) continue;
      expect(g.every(Number.isFinite), `${n} finite`).toBe(true);
      expect(maxRelErr(g, ref.grads[n]!), `gradient of ${n}`).toBeLessThan(1e-9);
    }
  });
});

describe('hand BPTT in float32', () => {
  test('lstmBackward: float32 arrays give float32 results close to float64', () => {
    const c = seededCase({ name: 'lstm', family: 'lstm' }, { B: 3, T: 20, I: 5, H: 6 }, 3);
    const v = c.values;
    const f32 = (a: Float64Array | null) => (a ? Float32Array.from(a) : null);
    const p = { weightIh: f32(v.weightIh)!, weightHh: f32(v.weightHh)!, biasIh: f32(v.biasIh), biasHh: f32(v.biasHh) };
    const dims = { B: 3, T: 20, I: 5, H: 6 };
    const f = lstmForward(p, f32(v.x)!, f32(v.h0), f32(v.c0), dims, { lengths: c.lengths });
    const g = lstmBackward(p, f.cache, f32(c.dOutput), f32(c.dhT), f32(c.dcT));
    expect(f.output).toBeInstanceOf(Float32Array);
    expect(g.dWeightHh).toBeInstanceOf(Float32Array);
    const ref = handRun(c);
    expect(maxRelErr(f.output, ref.output)).toBeLessThan(1e-5);
    expect(maxRelErr(g.dWeightHh, ref.grads.weightHh!)).toBeLessThan(1e-4);
    expect(maxRelErr(g.dx, ref.grads.x!)).toBeLessThan(1e-4);
  });
});

describe('hand BPTT input validation', () => {
  const p = { weightIh: new Float64Array(4 * 3), weightHh: new Float64Array(16), biasIh: null, biasHh: null };
  const dims = { B: 2, T: 3, I: 3, H: 4 };

  test('rnnForward: names the function, the argument and the shapes', () => {
    expect(() => rnnForward(p, new Float64Array(17), null, dims)).toThrow(SeqgradError);
    expect(() => rnnForward(p, new Float64Array(17), null, dims)).toThrow('rnnForward: x has 17 values but its shape [2,3,3] holds 18');
    expect(() => rnnForward(p, new Float64Array(18), new Float64Array(3), dims)).toThrow('rnnForward: h0 has 3 values but its shape [2,4] holds 8');
    expect(() => rnnForward({ ...p, weightHh: new Float64Array(12) }, new Float64Array(18), null, dims)).toThrow(
      'rnnForward: p.weightHh has 12 values but its shape [4,4] holds 16',
    );
  });

  test('gruForward: rejects lengths outside 1..T and half a bias', () => {
    const g = { weightIh: new Float64Array(12 * 3), weightHh: new Float64Array(48), biasIh: new Float64Array(12), biasHh: null };
    expect(() => gruForward(g, new Float64Array(18), null, dims)).toThrow('gruForward: p.biasIh and p.biasHh must both be given or both be null');
    expect(() => gruForward({ ...g, biasIh: null }, new Float64Array(18), null, dims, { lengths: Int32Array.from([3, 4]) })).toThrow(
      'gruForward: opts.lengths[1]=4 is outside 1..T=3',
    );
  });

  test('lstmForward: a projection needs dims.P and weightHr of shape (P, H)', () => {
    const l = { weightIh: new Float64Array(16 * 3), weightHh: new Float64Array(16 * 2), biasIh: null, biasHh: null, weightHr: new Float64Array(8) };
    expect(() => lstmForward(l, new Float64Array(18), null, null, dims)).toThrow('lstmForward: p.weightHr is given (8 values) but dims.P is not set');
    expect(() => lstmForward({ ...l, weightHr: new Float64Array(7) }, new Float64Array(18), null, null, { ...dims, P: 2 })).toThrow(
      'lstmForward: p.weightHr has 7 values but its shape [2,4] holds 8',
    );
  });

  test('lstmCellForward: names the cell function and the (B, I) / (B, H) shapes', () => {
    const l = { weightIh: new Float64Array(16 * 3), weightHh: new Float64Array(16 * 4), biasIh: null, biasHh: null };
    expect(() => lstmCellForward(l, new Float64Array(5), null, null, { B: 2, I: 3, H: 4 })).toThrow('lstmCellForward: x has 5 values but its shape [2,3] holds 6');
    expect(() => lstmCellForward(l, new Float64Array(6), null, new Float64Array(4), { B: 2, I: 3, H: 4 })).toThrow('lstmCellForward: c has 4 values but its shape [2,4] holds 8');
    expect(() => lstmCellForward({ ...l, weightHh: new Float64Array(3) }, new Float64Array(6), null, null, { B: 2, I: 3, H: 4 })).toThrow(
      'lstmCellForward: p.weightHh has 3 values but its shape [16,4] holds 64',
    );
  });

  test('rnnBackward: checks the upstream gradients against the cache', () => {
    const f = rnnForward(p, new Float64Array(18), null, dims);
    expect(() => rnnBackward(p, f.cache, new Float64Array(5), null)).toThrow('rnnBackward: dOutput has 5 values but its shape [2,3,4] holds 24');
  });
});
