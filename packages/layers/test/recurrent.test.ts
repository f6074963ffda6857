import { Generator, type Tensor, add, mul, randn, sum } from '@seqgrad/autograd';
import { Bidirectional, GRUCell, LSTM, LSTMCell, RNNCell, Recurrent, Stacked, truncatedBptt } from '@seqgrad/layers';
import { describe, expect, test } from 'vitest';

const f64 = { dtype: 'float64' as const };
/** float64 results that must agree to 1e-12 absolute. */
const TOL = { atol: 1e-12, rtol: 0 };
/** Loads LSTMCell weights into layer l / direction of an LSTM (PyTorch names). */
const sdFromCells = (cells: LSTMCell[][]) => {
  const sd: Record<string, Tensor> = {};
  cells.forEach((dirs, l) => dirs.forEach((c, d) => {
    for (const [k, v] of Object.entries(c.stateDict())) sd[`${k}_l${l}${d ? '_reverse' : ''}`] = v;
  }));
  return sd;
};

describe('Recurrent', () => {
  test('Recurrent: scans a cell over time; reverse scans T−1 … 0 and lengths keep the state', () => {
    const cell = new RNNCell(2, 3, f64);
    const x = randn([2, 4, 2], f64);
    const fwd = new Recurrent(cell).forward(x);
    let h = cell.initialState(2).h;
    for (let t = 0; t < 4; t++) h = cell.forward(x.select(1, t), { h }).h;
    expect(fwd.state.h).toBeAllclose(h, TOL);
    expect(fwd.output.select(1, 3)).toBeAllclose(h, TOL);

    const rev = new Recurrent(cell, { reverse: true }).forward(x, undefined, { lengths: [4, 2] });
    // Sequence 1 (length 2) in reverse: steps 1 then 0; outputs at t ≥ 2 are zero.
    let h1 = cell.initialState().h;
    for (const t of [1, 0]) h1 = cell.forward(x.select(0, 1).select(0, t), { h: h1 }).h;
    expect(rev.state.h.select(0, 1)).toBeAllclose(h1, TOL);
    expect(rev.output.select(0, 1).select(0, 0)).toBeAllclose(h1, TOL);
    expect(Array.from(rev.output.select(0, 1).narrow(0, 2, 2).data)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  test('Recurrent: returnSequences false returns the final h; unbatched (T, I) input works', () => {
    const rec = new Recurrent(new GRUCell(2, 3), { returnSequences: false });
    const x = randn([5, 2]);
    const r = rec.forward(x);
    expect(r.output.shape).toEqual([3]);
    expect(r.state.h.shape).toEqual([3]);
    expect(new Recurrent(new GRUCell(2, 3)).forward(x).output.shape).toEqual([5, 3]);
  });

  test('Recurrent: bad input names the op and the shapes', () => {
    const rec = new Recurrent(new LSTMCell(3, 4));
    expect(() => rec.forward(randn([2, 5, 4]))).toThrow('Recurrent(LSTMCell).forward: x[2,5,4] must be (B, T, 3) or unbatched (T, 3)');
    expect(() => rec.forward(randn([2, 5, 3]), undefined, { lengths: [5, 6] })).toThrow('lengths[1]=6 is out of range: lengths must be integers in [1, T=5]');
    expect(() => rec.forward(randn([2, 5, 3]), undefined, { lengths: [5] })).toThrow('lengths has 1 entries but the batch has B=2');
    expect(() => rec.forward(randn([2, 5, 3]), { h: randn([2, 4]), c: randn([1, 4]) })).toThrow('state.c[1,4] must have shape [2,4]');
  });

  test('Bidirectional: equals a bidirectional LSTM with the same weights, with lengths', () => {
    const fw = new LSTMCell(3, 4, f64);
    const bw = new LSTMCell(3, 4, f64);
    const lstm = new LSTM(3, 4, { ...f64, bidirectional: true });
    lstm.loadStateDict(sdFromCells([[fw, bw]]));
    const x = randn([3, 5, 3], f64);
    const lengths = [2, 5, 3];
    const a = new Bidirectional(fw, bw).forward(x, undefined, { lengths });
    const b = lstm.forward(x, undefined, { lengths });
    expect(a.output).toBeAllclose(b.output, TOL);
    expect(a.state.forward.h).toBeAllclose(b.state.h.select(0, 0), TOL);
    expect(a.state.backward.c).toBeAllclose(b.state.c.select(0, 1), TOL);
  });

  test('Bidirectional: merge modes sum, mul and ave combine the two directions', () => {
    const fw = new GRUCell(2, 3, f64);
    const bw = new GRUCell(2, 3, f64);
    const x = randn([2, 4, 2], f64);
    const cat = new Bidirectional(fw, bw).forward(x).output;
    const [f, b] = cat.chunk(2, -1) as [Tensor, Tensor];
    expect(new Bidirectional(fw, bw, { mergeMode: 'sum' }).forward(x).output).toBeAllclose(add(f, b), TOL);
    expect(new Bidirectional(fw, bw, { mergeMode: 'mul' }).forward(x).output).toBeAllclose(mul(f, b), TOL);
    expect(new Bidirectional(fw, bw, { mergeMode: 'ave' }).forward(x).output).toBeAllclose(mul(add(f, b), 0.5), TOL);
    expect(() => new Bidirectional(fw, bw, { mergeMode: 'max' as never })).toThrow(/mergeMode must be/);
    expect(() => new Bidirectional(fw, new GRUCell(2, 4, f64))).toThrow(/must have the same sizes/);
  });

  test('Bidirectional: without a backward cell, a re-initialised copy with its own weights', () => {
    const fw = new LSTMCell(2, 3);
    const bi = new Bidirectional(fw);
    const bw = bi.backwardLayer.cell as LSTMCell;
    expect(bw).not.toBe(fw);
    expect(bw.weightHh.data).not.toBe(fw.weightHh.data);
    expect(Array.from(bw.weightHh.data)).not.toEqual(Array.from(fw.weightHh.data));
  });

  test('Stacked: two Recurrent LSTM layers equal a 2-layer LSTM; dropout between layers only when training', () => {
    const c0 = new LSTMCell(3, 4, f64);
    const c1 = new LSTMCell(4, 4, f64);
    const lstm = new LSTM(3, 4, { ...f64, numLayers: 2 });
    lstm.loadStateDict(sdFromCells([[c0], [c1]]));
    const x = randn([2, 5, 3], f64);
    const stack = new Stacked([new Recurrent(c0), new Recurrent(c1)], { dropout: 0.5, generator: new Generator(0) });
    stack.eval();
    const a = stack.forward(x);
    expect(a.output).toBeAllclose(lstm.forward(x).output, TOL);
    expect((a.state[1] as { h: Tensor }).h.shape).toEqual([2, 4]);
    stack.train();
    expect(Array.from(stack.forward(x).output.data)).not.toEqual(Array.from(a.output.data));
    expect(() => new Stacked([new Recurrent(c0), new Recurrent(c0)])).toThrow('Stacked: layer 1 expects inputSize 3 but layer 0 outputs 4');
  });

  test('Stacked: bidirectional layers with lengths equal a 2-layer bidirectional LSTM', () => {
    const cells = [[new LSTMCell(3, 2, f64), new LSTMCell(3, 2, f64)], [new LSTMCell(4, 2, f64), new LSTMCell(4, 2, f64)]];
    const lstm = new LSTM(3, 2, { ...f64, numLayers: 2, bidirectional: true });
    lstm.loadStateDict(sdFromCells(cells));
    const net = new Stacked(cells.map(([f, b]) => new Bidirectional(f!, b!)));
    const x = randn([3, 4, 3], f64);
    const lengths = [4, 1, 3];
    expect(net.forward(x, undefined, { lengths }).output).toBeAllclose(lstm.forward(x, undefined, { lengths }).output, TOL);
  });

  test('truncatedBptt: drives a Recurrent layer with its own state format', () => {
    const rec = new Recurrent(new LSTMCell(2, 3, f64));
    const x = randn([2, 9, 2], f64);
    const { state, losses } = truncatedBptt(rec, x, { k1: 4, loss: (out) => sum(out) });
    expect(losses).toHaveLength(3);
    expect((state as { c: Tensor }).c).toBeAllclose(rec.forward(x).state.c, TOL);
    expect((state as { h: Tensor }).h.requiresGrad).toBe(false);
  });

  test('Recurrent: gradients reach every parameter and the initial state', () => {
    const rec = new Recurrent(new LSTMCell(2, 3, f64));
    const h = randn([2, 3], { ...f64, requiresGrad: true });
    const c = randn([2, 3], { ...f64, requiresGrad: true });
    sum(rec.forward(randn([2, 4, 2], f64), { h, c }).output).backward();
    expect(h.grad!.shape).toEqual([2, 3]);
    expect(c.grad!.shape).toEqual([2, 3]);
    expect(rec.parameters().every((p) => p.grad !== null)).toBe(true);
  });
});
