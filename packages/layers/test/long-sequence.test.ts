import { randn, sum } from '@seqgrad/autograd';
import { LSTM, RNNCell, Recurrent } from '@seqgrad/layers';
import { expect, test } from 'vitest';

const f64 = { dtype: 'float64' as const };

test('composed layers: a T = 1000 sequence runs forward and backward (iterative engine, O(T) step slicing)', () => {
  const x = randn([1, 1000, 2], f64);
  const rec = new Recurrent(new RNNCell(2, 3, f64));
  sum(rec.forward(x).output).backward();
  expect(rec.parameters().every((p) => p.grad!.isFinite())).toBe(true);
  const lstm = new LSTM(2, 3, { ...f64, impl: 'composed' });
  sum(lstm.forward(x).state.h).backward();
  expect(lstm.parameters().every((p) => p.grad!.isFinite())).toBe(true);
});
