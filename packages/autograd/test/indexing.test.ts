import { describe, expect, test } from 'vitest';
import { embedding, gather, indexAdd, indexSelect, scatterAdd, tensor } from '@seqgrad/autograd';
import { f64 } from './helpers.js';

const int = (v: number | number[] | number[][], shape?: number[]) => tensor(v, { dtype: 'int32', shape });

describe('indexSelect and indexAdd', () => {
  test('indexSelect: rows with repeats and negative indices; gradients accumulate on repeats', () => {
    const w = f64([[1, 2], [3, 4], [5, 6]], true);
    const y = indexSelect(w, 0, int([2, 0, 2, -3]));
    expect(y).toBeAllclose([[5, 6], [1, 2], [5, 6], [1, 2]]);
    y.sum().backward();
    expect(w.grad).toBeAllclose([[2, 2], [0, 0], [2, 2]]);
    expect(indexSelect(w, 1, [1])).toBeAllclose([[2], [4], [6]]);
  });

  test('indexAdd: adds slices into a zero tensor', () => {
    expect(indexAdd(f64([[1, 1], [2, 2], [3, 3]]), 0, int([1, 0, 1]), 2)).toBeAllclose([[2, 2], [4, 4]]);
  });

  test('indexSelect: errors name the op, the index and the size', () => {
    expect(() => indexSelect(f64([1, 2, 3]), 0, int([3]))).toThrow(/^indexSelect: index \(shape \[1\]\) holds 3 at position 0, out of range for a dimension of size 3$/);
    expect(() => indexSelect(f64([1, 2]), 0, int([[0]]))).toThrow(/^indexSelect: index must be 1-D, got shape \[1,1\]$/);
    expect(() => indexSelect(f64([1, 2]), 0, f64([0.5]))).toThrow(/holds 0.5 at position 0/);
    expect(() => indexAdd(f64([[1], [2]]), 0, int([0]), 2)).toThrow(/^indexAdd: index has 1 entries but src\[2,1\] has 2 along axis 0$/);
  });
});

test('indexSelect/gather/narrow/select: a 0-d tensor is refused (was a RangeError; shrunk fuzz counterexample)', () => {
  expect(() => indexSelect(f64(1), 0, int([0]))).toThrow(/^indexSelect: x\[\] is 0-dimensional; this op needs at least one dimension$/);
  expect(() => gather(f64(1), 0, int(0, []))).toThrow(/^gather: x\[\] is 0-dimensional/);
  expect(() => f64(1).narrow(0, 0, 1)).toThrow(/^narrow: x\[\] is 0-dimensional/);
  expect(() => f64(1).select(0, 0)).toThrow(/^select: x\[\] is 0-dimensional/);
});

describe('gather and scatterAdd', () => {
  test('gather: out[i][j] = x[i][index[i][j]] along axis 1, and along axis 0', () => {
    const x = f64([[1, 2, 3], [4, 5, 6]], true);
    const y = gather(x, 1, int([[2, 0], [1, 1]]));
    expect(y).toBeAllclose([[3, 1], [5, 5]]);
    y.sum().backward();
    expect(x.grad).toBeAllclose([[1, 0, 1], [0, 2, 0]]);
    expect(gather(f64([[1, 2], [3, 4]]), 0, int([[1, 0]]))).toBeAllclose([[3, 2]]);
  });

  test('scatterAdd: adds at the named positions (the adjoint of gather)', () => {
    expect(scatterAdd(f64([[1, 2], [3, 4]]), 1, int([[0, 0], [2, 1]]), [2, 3])).toBeAllclose([[3, 0, 0], [0, 4, 3]]);
  });

  test('gather/scatterAdd: errors name index and x shapes', () => {
    expect(() => gather(f64([[1, 2]]), 1, int([0, 1]))).toThrow(/^gather: index\[2\] must have the rank of x\[1,2\] and no larger size outside axis 1$/);
    expect(() => gather(f64([[1, 2]]), 1, int([[2]]))).toThrow(/^gather: index \(shape \[1,1\]\) holds 2 at position 0, out of range for a dimension of size 2$/);
    expect(() => scatterAdd(f64([[1, 2]]), 1, int([[0]]), [1, 2])).toThrow(/^scatterAdd: index must have src's shape \[1,2\]$/);
  });
});

describe('embedding', () => {
  test('embedding: rows for indices of any shape; repeats accumulate', () => {
    const w = f64([[0, 0], [1, 1], [2, 2]], true);
    const y = embedding(w, int([[1, 2], [1, 1]], [2, 2]));
    expect(y.shape).toEqual([2, 2, 2]);
    expect(y).toBeAllclose([[[1, 1], [2, 2]], [[1, 1], [1, 1]]]);
    y.sum().backward();
    expect(w.grad).toBeAllclose([[0, 0], [3, 3], [1, 1]]);
  });

  test('embedding: paddingIdx gets no gradient but keeps its value', () => {
    const w = f64([[5, 5], [1, 1]], true);
    const y = embedding(w, int([0, 1, 0]), { paddingIdx: 0 });
    expect(y).toBeAllclose([[5, 5], [1, 1], [5, 5]]);
    y.sum().backward();
    expect(w.grad).toBeAllclose([[0, 0], [1, 1]]);
  });

  test('embedding: errors name weight and index', () => {
    expect(() => embedding(f64([1, 2]), int([0]))).toThrow(/^embedding: weight must be 2-D \(numEmbeddings, dim\), got \[2\]$/);
    expect(() => embedding(f64([[1], [2]]), int([5]))).toThrow(/^embedding: indices \(shape \[1\]\) holds 5 at position 0/);
  });
});
