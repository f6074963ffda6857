import { test } from '@fast-check/vitest';
import fc from 'fast-check';
import { expect } from 'vitest';
import { kernels, unravelIndex } from '@seqgrad/autograd';
import { broadcastStrides, stridedOffsets, stridesOf } from '../src/shapes.js';

/** The offset of flat index i of `shape` under `strides`, from its multi-index written out digit by digit. */
function offsetOf(i: number, shape: readonly number[], strides: readonly number[], start: number): number {
  let off = start;
  for (let d = shape.length - 1; d >= 0; d--) {
    off += (i % shape[d]!) * strides[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return off;
}

const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 4 });

test.prop([shapeArb, fc.array(fc.integer({ min: -20, max: 20 }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 100 })])(
  'stridedOffsets: every index of the shape maps to start + Σ idx·stride, in row-major order',
  (shape, strides, start) => {
    const got = stridedOffsets(shape, strides, shape.length, start);
    const n = shape.reduce((p, d) => p * d, 1);
    expect(Array.from(got)).toEqual(Array.from({ length: n }, (_, i) => offsetOf(i, shape, strides, start)));
  },
);

test('stridedOffsets: over the leading axes only, one offset per last-axis row', () => {
  expect(Array.from(stridedOffsets([2, 3, 5], [15, 5, 1], 2))).toEqual([0, 5, 10, 15, 20, 25]);
  expect(Array.from(stridedOffsets([], [], 0))).toEqual([0]);
});

test('broadcastStrides: 0 on the broadcast axes, right-aligned', () => {
  expect(broadcastStrides([3], [2, 3])).toEqual([0, 1]);
  expect(broadcastStrides([2, 1], [4, 2, 3])).toEqual([0, 1, 0]);
  expect(broadcastStrides([], [2, 2])).toEqual([0, 0]);
});

test.prop([fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }), fc.nat()])(
  'permuteCopy: element idx of the output is element perm⁻¹(idx) of the input',
  (shape, seed) => {
    const perm = shape.map((_, i) => i);
    for (let i = perm.length - 1, s = seed; i > 0; i--, s = Math.floor(s / 7) + 3) {
      const j = s % (i + 1);
      [perm[i], perm[j]] = [perm[j]!, perm[i]!];
    }
    const n = shape.reduce((p, d) => p * d, 1);
    const x = Float64Array.from({ length: n }, (_, i) => i);
    const out = new Float64Array(n);
    kernels.permuteCopy(out, x, shape, perm);
    const outShape = perm.map((p) => shape[p]!);
    const inStrides = stridesOf(shape);
    for (let i = 0; i < n; i++) expect(out[i]).toBe(offsetOf(i, outShape, perm.map((p) => inStrides[p]!), 0));
  },
);

test('broadcastCopy: a column and a row broadcast to a matrix', () => {
  const out = new Float64Array(6);
  kernels.broadcastCopy(out, [2, 3], Float64Array.of(1, 2), [2, 1]);
  expect(Array.from(out)).toEqual([1, 1, 1, 2, 2, 2]);
  kernels.broadcastCopy(out, [2, 3], Float64Array.of(1, 2, 3), [1, 3]);
  expect(Array.from(out)).toEqual([1, 2, 3, 1, 2, 3]);
});

test.prop([fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 4 }), fc.nat()])(
  'unravelIndex: the multi-index whose strided offset is the flat index',
  (shape, seed) => {
    const n = shape.reduce((p, d) => p * d, 1);
    const flat = seed % n;
    const idx = unravelIndex(flat, shape);
    expect(idx.every((v, d) => v >= 0 && v < shape[d]!)).toBe(true);
    expect(idx.reduce((p, v, d) => p + v * stridesOf(shape)[d]!, 0)).toBe(flat);
  },
);
