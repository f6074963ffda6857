import { describe, expect, test } from 'vitest';
import {
  arange, chunk, concat, expand, flatten, flip, narrow, permute, reshape, select, slice, split, squeeze, stack, tensor,
  transpose, unsqueeze,
} from '@seqgrad/autograd';
import { f64, num } from './helpers.js';

const x23 = () => f64([[1, 2, 3], [4, 5, 6]]);

describe('reshape family', () => {
  test('reshape: new shape, −1 inferred, shares the buffer', () => {
    const x = x23();
    const y = reshape(x, [3, -1]);
    expect(y).toBeAllclose([[1, 2], [3, 4], [5, 6]]);
    expect(y.data).toBe(x.data);
    expect(x.view(6).shape).toEqual([6]);
    expect(x.reshape([1, 6]).shape).toEqual([1, 6]);
  });

  test('reshape: gradient comes back in the input shape', () => {
    const x = f64([[1, 2], [3, 4]], true);
    reshape(x, [4]).mul(f64([1, 2, 3, 4])).sum().backward();
    expect(x.grad).toBeAllclose([[1, 2], [3, 4]]);
  });

  test('flatten/squeeze/unsqueeze', () => {
    const x = arange(24).reshape(2, 3, 4);
    expect(flatten(x).shape).toEqual([24]);
    expect(flatten(x, 1).shape).toEqual([2, 12]);
    expect(flatten(x, 0, 1).shape).toEqual([6, 4]);
    expect(flatten(f64(3)).shape).toEqual([1]);
    expect(squeeze(f64([[[1], [2]]])).shape).toEqual([2]);
    expect(squeeze(f64([[1, 2]]), 1).shape).toEqual([1, 2]); // not size 1: unchanged, as PyTorch
    expect(unsqueeze(x23(), 1).shape).toEqual([2, 1, 3]);
    expect(unsqueeze(x23(), -1).shape).toEqual([2, 3, 1]);
  });

  test('reshape: errors name the shapes and the element count', () => {
    expect(() => reshape(x23(), [4, 2])).toThrow(/^reshape: shape \[4,2\] is invalid for x\[2,3\] of 6 elements$/);
    expect(() => reshape(x23(), [-1, -1])).toThrow(/^reshape: invalid shape \[-1,-1\] for x\[2,3\]$/);
    expect(() => reshape(x23(), [4, -1])).toThrow(/^reshape: shape \[4,-1\] is invalid for x\[2,3\]/);
    expect(() => flatten(x23(), 1, 0)).toThrow(/^flatten: startDim=1 comes after endDim=0 for x\[2,3\]$/);
    expect(() => unsqueeze(x23(), 3)).toThrow(/^unsqueeze: axis=3 is out of range for a tensor of rank 3$/);
  });
});

describe('expand, permute, transpose', () => {
  test('expand: broadcasts size-1 axes and prepends new ones; −1 keeps a size', () => {
    expect(expand(f64([[1], [2]]), [2, 3])).toBeAllclose([[1, 1, 1], [2, 2, 2]]);
    expect(expand(f64([1, 2]), [2, -1])).toBeAllclose([[1, 2], [1, 2]]);
    const x = f64([[1], [2]], true);
    expand(x, [3, 2, 4]).sum().backward();
    expect(x.grad).toBeAllclose([[12], [12]]);
  });

  test('expand: errors name the shapes', () => {
    expect(() => expand(f64([1, 2]), [3, 3])).toThrow(/^expand: x\[2\] cannot be expanded to \[3,3\]$/);
    expect(() => expand(x23(), [3])).toThrow(/^expand: cannot expand x\[2,3\] to fewer dimensions \[3\]$/);
  });

  test('permute/transpose: values and gradient; permute copies', () => {
    const x = arange(6, undefined, 1, { dtype: 'float64' }).reshape(1, 2, 3);
    const p = permute(x, [2, 0, 1]);
    expect(p.shape).toEqual([3, 1, 2]);
    expect(p).toBeAllclose([[[0, 3]], [[1, 4]], [[2, 5]]]);
    expect(p.data).not.toBe(x.data);
    expect(transpose(x23())).toBeAllclose([[1, 4], [2, 5], [3, 6]]);
    expect(x23().T.shape).toEqual([3, 2]);
    const w = f64([[1, 2, 3], [4, 5, 6]], true);
    transpose(w).mul(f64([[1, 0], [0, 0], [0, 2]])).sum().backward();
    expect(w.grad).toBeAllclose([[1, 0, 0], [0, 0, 2]]);
  });

  test('permute: errors name the perm and the shape', () => {
    expect(() => permute(x23(), [0])).toThrow(/^permute: perm \[0\] has 1 axes but x\[2,3\] has 2$/);
    expect(() => permute(x23(), [1, 1])).toThrow(/^permute: perm \[1,1\] repeats an axis of x\[2,3\]$/);
    expect(() => transpose(x23(), 0, 2)).toThrow(/^transpose: dim1=2 is out of range/);
  });
});

describe('concat, stack, split, chunk', () => {
  test('concat: along axis 0 and 1; gradients are the matching slices', () => {
    const a = f64([[1, 2]], true);
    const b = f64([[3, 4], [5, 6]], true);
    const y = concat([a, b], 0);
    expect(y).toBeAllclose([[1, 2], [3, 4], [5, 6]]);
    y.mul(f64([[1], [2], [3]])).sum().backward();
    expect(a.grad).toBeAllclose([[1, 1]]);
    expect(b.grad).toBeAllclose([[2, 2], [3, 3]]);
    expect(concat([f64([[1], [2]]), f64([[3, 4], [5, 6]])], 1)).toBeAllclose([[1, 3, 4], [2, 5, 6]]);
  });

  test('concat: mixed dtypes promote; a single tensor comes back as is', () => {
    expect(concat([tensor([1]), f64([2])]).dtype).toBe('float64');
    const x = f64([1]);
    expect(concat([x])).toBe(x);
  });

  test('concat: errors name every shape', () => {
    expect(() => concat([x23(), f64([[1, 2]])], 1)).toThrow(/^concat: xs\[1\]\[1,2\] does not match xs\[0\]\[2,3\] outside axis 1 \(shapes: \[2,3\], \[1,2\]\)$/);
    expect(() => concat([])).toThrow(/^concat: needs a non-empty list of tensors$/);
    expect(() => concat([f64(1), f64(2)])).toThrow(/^concat: zero-dimensional tensors cannot be concatenated \(xs\[0\] has shape \[\]\); use stack$/);
  });

  test('stack: a new axis; unequal shapes are named', () => {
    expect(stack([f64([1, 2]), f64([3, 4])], 1)).toBeAllclose([[1, 3], [2, 4]]);
    expect(stack([f64(1), f64(2)])).toBeAllclose([1, 2]);
    expect(() => stack([f64([1, 2]), f64([1])])).toThrow(/^stack: xs\[1\]\[1\] differs from xs\[0\]\[2\]; stack needs equal shapes$/);
  });

  test('split/chunk: sizes and sections, as PyTorch', () => {
    const x = arange(7);
    expect(split(x, 3).map((t) => num(t))).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(split(x, [2, 5]).map((t) => t.shape[0])).toEqual([2, 5]);
    expect(chunk(x, 3).map((t) => t.shape[0])).toEqual([3, 3, 1]);
    expect(() => split(x, [2, 2])).toThrow(/^split: sections \[2,2\] sum to 4, but axis 0 of x\[7\] has 7$/);
    expect(chunk(arange(0), 3).map((t) => t.shape)).toEqual([[0]]); // one empty piece, as PyTorch
    expect(split(arange(0), 2).length).toBe(1);
    expect(() => chunk(x, 0)).toThrow(/^chunk: chunks must be a positive integer, got 0$/);
  });
});

describe('narrow, slice, select, flip', () => {
  test('narrow/slice/select: windows and their gradients', () => {
    const x = f64([[1, 2, 3], [4, 5, 6]], true);
    expect(narrow(x, 1, 1, 2)).toBeAllclose([[2, 3], [5, 6]]);
    expect(slice(x, 1, -2)).toBeAllclose([[2, 3], [5, 6]]);
    expect(slice(x, 1, 0, 100)).toBeAllclose([[1, 2, 3], [4, 5, 6]]);
    expect(slice(x, 1, 2, 1).shape).toEqual([2, 0]);
    expect(select(x, 0, -1)).toBeAllclose([4, 5, 6]);
    narrow(x, 1, 1, 2).sum().add(select(x, 0, 0).sum()).backward();
    expect(x.grad).toBeAllclose([[1, 2, 2], [0, 1, 1]]);
  });

  test('narrow/select: out-of-range errors name the axis and the shape', () => {
    expect(() => narrow(x23(), 1, 2, 2)).toThrow(/^narrow: start=2, length=2 is out of range for axis 1 of x\[2,3\]$/);
    expect(() => select(x23(), 0, 2)).toThrow(/^select: index 2 is out of range for axis 0 of size 2 \(x\[2,3\]\)$/);
  });

  test('flip: one or several axes; gradient flips back', () => {
    expect(flip(x23(), 1)).toBeAllclose([[3, 2, 1], [6, 5, 4]]);
    expect(flip(x23(), [0, 1])).toBeAllclose([[6, 5, 4], [3, 2, 1]]);
    const x = f64([1, 2, 3], true);
    flip(x, 0).mul(f64([1, 10, 100])).sum().backward();
    expect(x.grad).toBeAllclose([100, 10, 1]);
    expect(() => flip(x23(), 2)).toThrow(/^flip: axis=2 is out of range for a tensor of rank 2$/);
  });
});
