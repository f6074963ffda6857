import {
  Generator, type Tensor, add, concat, grad, linear, mul, randn, sigmoid, sub, sum, tanh, zeros,
} from '@seqgrad/autograd';
import {
  Bidirectional, GRU, GRUCell, LSTM, LSTMCell, LayerNormLSTMCell, RNNCell, Recurrent, RecurrentCell, init,
} from '@seqgrad/layers';
import { describe, expect, test } from 'vitest';

const f64 = { dtype: 'float64' as const };
/** float64 results that must agree to 1e-12 absolute. */
const TOL = { atol: 1e-12, rtol: 0 };

describe('cells', () => {
  test('RNNCell: h = tanh(W_ih x + b_ih + W_hh h + b_hh); relu variant', () => {
    for (const nonlinearity of ['tanh', 'relu'] as const) {
      const cell = new RNNCell(3, 4, { ...f64, nonlinearity });
      const x = randn([2, 3], f64);
      const h = randn([2, 4], f64);
      const pre = add(linear(x, cell.weightIh, cell.biasIh), linear(h, cell.weightHh, cell.biasHh));
      expect(cell.forward(x, { h }).h).toBeAllclose(nonlinearity === 'tanh' ? tanh(pre) : pre.relu(), TOL);
    }
  });

  test('LSTMCell: the PyTorch equations, gate order i, f, g, o', () => {
    const cell = new LSTMCell(3, 2, f64);
    const x = randn([2, 3], f64);
    const h = randn([2, 2], f64);
    const c = randn([2, 2], f64);
    const gates = add(linear(x, cell.weightIh, cell.biasIh), linear(h, cell.weightHh, cell.biasHh));
    const [i, f, g, o] = gates.chunk(4, 1).map((t, k) => (k === 2 ? tanh(t) : sigmoid(t))) as Tensor[];
    const cNext = add(mul(f!, c), mul(i!, g!));
    const out = cell.forward(x, { h, c });
    expect(out.c).toBeAllclose(cNext, TOL);
    expect(out.h).toBeAllclose(mul(o!, tanh(cNext)), TOL);
  });

  test('GRUCell: resetAfter (default) and resetAfter=false follow their equations', () => {
    for (const resetAfter of [true, false]) {
      const cell = new GRUCell(3, 2, { ...f64, resetAfter });
      const x = randn([2, 3], f64);
      const h = randn([2, 2], f64);
      const [wr, wz, wn] = cell.weightHh.chunk(3, 0) as Tensor[];
      const [br, bz, bn] = cell.biasHh!.chunk(3, 0) as Tensor[];
      const [ir, iz, inn] = linear(x, cell.weightIh, cell.biasIh).chunk(3, 1) as Tensor[];
      const r = sigmoid(add(ir!, linear(h, wr!, br)));
      const z = sigmoid(add(iz!, linear(h, wz!, bz)));
      const n = tanh(add(inn!, resetAfter ? mul(r, linear(h, wn!, bn)) : linear(mul(r, h), wn!, bn)));
      expect(cell.forward(x, { h }).h).toBeAllclose(add(mul(sub(1, z), n), mul(z, h)), TOL);
    }
  });

  test('cells: unbatched input (I) gives unbatched state (H); omitted state is zeros', () => {
    const cell = new LSTMCell(3, 5);
    const x = randn([3]);
    const s = cell.forward(x);
    expect(s.h.shape).toEqual([5]);
    expect(s.c.shape).toEqual([5]);
    const batched = cell.forward(x.reshape([1, 3]), { h: zeros([1, 5]), c: zeros([1, 5]) });
    expect(s.h).toBeAllclose(batched.h.reshape([5]), { atol: 0, rtol: 0 });
    expect(cell.initialState(4).h.shape).toEqual([4, 5]);
  });

  test('cells: bad input names the op, the argument and the shapes', () => {
    const cell = new GRUCell(3, 4);
    expect(() => cell.forward(randn([2, 5]))).toThrow('GRUCell.forward: x[2,5] must be (B, 3) or unbatched (3)');
    expect(() => cell.forward(randn([2, 3]), { h: randn([3, 4]) })).toThrow('GRUCell.forward: state.h[3,4] must have shape [2,4]');
    expect(() => cell.forward(randn([2, 3], f64))).toThrow('GRUCell.forward: x[2,3] has dtype float64 but the parameters are float32');
    expect(() => new LSTMCell(3, 4).forward(randn([2, 3]), { h: randn([2, 4]) } as never)).toThrow('state.c is missing; expected { h, c } with h[2,4], c[2,4]');
  });

  test('cells: one step of a cell equals a one-step layer with the same weights (state dicts move across)', () => {
    const cell = new GRUCell(3, 4, f64);
    const gru = new GRU(3, 4, { ...f64, impl: 'fused' });
    gru.loadStateDict(Object.fromEntries(Object.entries(cell.stateDict()).map(([k, v]) => [`${k}_l0`, v])));
    const x = randn([2, 3], f64);
    const h = randn([2, 4], f64);
    expect(gru.forward(x.reshape([2, 1, 3]), h.reshape([1, 2, 4])).state.h.reshape([2, 4])).toBeAllclose(cell.forward(x, { h }).h, TOL);
  });

  test('cells: composed cells support higher-order gradients', () => {
    const cell = new LSTMCell(2, 3, f64);
    const x = randn([1, 2], { ...f64, requiresGrad: true });
    const [dx] = grad(sum(cell.forward(x).h.square()), [x], { createGraph: true });
    const [ddx] = grad(sum(dx!), [x]);
    expect(ddx!.shape).toEqual([1, 2]);
    expect(ddx!.isFinite()).toBe(true);
  });
});

/** The README example of a user cell, in full: a minimal gated cell in ~30 lines. */
class MinimalGatedCell extends RecurrentCell<{ h: Tensor }> {
  readonly stateSizes = { h: this.hiddenSize };
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(inputSize: number, hiddenSize: number, opts: { dtype?: 'float32' | 'float64'; generator?: Generator } = {}) {
    super(inputSize, hiddenSize, opts);
    this.weight = this.registerParameter('weight', init.xavierUniform(zeros([2 * hiddenSize, inputSize + hiddenSize], { dtype: this.dtype }), 1, opts));
    this.bias = this.registerParameter('bias', zeros([2 * hiddenSize], { dtype: this.dtype }));
  }
  step(x: Tensor, { h }: { h: Tensor }): { h: Tensor } {
    const [f, cand] = linear(concat([x, h], -1), this.weight, this.bias).chunk(2, -1) as [Tensor, Tensor];
    const gate = sigmoid(f);
    return { h: add(mul(gate, h), mul(sub(1, gate), tanh(cand))) };
  }
}

describe('custom cells', () => {
  test('a user cell gets Recurrent, lengths, Bidirectional and gradients for free', () => {
    const cell = new MinimalGatedCell(3, 4, f64);
    const bi = new Bidirectional(cell);
    const x = randn([2, 5, 3], { ...f64, requiresGrad: true });
    const { output, state } = bi.forward(x, undefined, { lengths: [5, 2] });
    expect(output.shape).toEqual([2, 5, 8]);
    expect(state.forward.h.shape).toEqual([2, 4]);
    expect(Array.from(output.data.subarray(40 + 16, 80))).toEqual(new Array(24).fill(0)); // b=1, t>=2 is padding
    sum(output).backward();
    expect(bi.namedParameters().map(([n]) => n)).toEqual(['forward_layer.cell.weight', 'forward_layer.cell.bias', 'backward_layer.cell.weight', 'backward_layer.cell.bias']);
    expect(bi.parameters().every((p) => p.grad !== null)).toBe(true);
  });

  test('LayerNormLSTMCell: runs through Recurrent and its gradient matches finite differences', () => {
    const cell = new LayerNormLSTMCell(2, 3, { ...f64, generator: new Generator(1) });
    expect(cell.namedParameters().map(([n]) => n)).toEqual(['weight_ih', 'weight_hh', 'bias', 'ln_ih.weight', 'ln_hh.weight', 'ln_c.weight', 'ln_c.bias']);
    const rec = new Recurrent(cell);
    const x = randn([2, 4, 2], { ...f64, generator: new Generator(2) });
    const loss = () => sum(mul(rec.forward(x).output, rec.forward(x).output));
    const w = cell.weightHh;
    const [g] = grad(loss(), [w]);
    const eps = 1e-6;
    for (const k of [0, 5, 17, 30]) {
      const old = w.data[k]!;
      w.data[k] = old + eps;
      const up = loss().item();
      w.data[k] = old - eps;
      const down = loss().item();
      w.data[k] = old;
      expect(g!.data[k]).toBeCloseTo((up - down) / (2 * eps), 6);
    }
  });

  test('LayerNormLSTMCell: Bidirectional re-initialises its copy through resetParameters', () => {
    const cell = new LayerNormLSTMCell(2, 3);
    const bi = new Bidirectional(cell);
    const copy = bi.backwardLayer.cell as LayerNormLSTMCell;
    expect(Array.from(copy.weightHh.data)).not.toEqual(Array.from(cell.weightHh.data));
    expect(copy.lnC.weight!.data).not.toBe(cell.lnC.weight!.data);
    expect(bi.forward(randn([2, 4, 2])).output.shape).toEqual([2, 4, 6]);
  });

  test('LSTMCell in Recurrent equals the LSTM layer with the same weights', () => {
    const cell = new LSTMCell(3, 4, f64);
    const lstm = new LSTM(3, 4, { ...f64, impl: 'fused' });
    lstm.loadStateDict(Object.fromEntries(Object.entries(cell.stateDict()).map(([k, v]) => [`${k}_l0`, v])));
    const x = randn([3, 6, 3], f64);
    const lengths = [6, 1, 4];
    const a = new Recurrent(cell).forward(x, undefined, { lengths });
    const b = lstm.forward(x, undefined, { lengths });
    expect(a.output).toBeAllclose(b.output, TOL);
    expect(a.state.c).toBeAllclose(b.state.c.reshape([3, 4]), TOL);
  });
});
