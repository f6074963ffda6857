import { Generator, type Tensor, concat, grad, randn, sum } from '@seqgrad/autograd';
import {
  GRU, GRUCell, LSTM, LSTMCell, RNN, RNNBase, RNNCell, Recurrent, type RNNState, type SequenceLayer, type SequenceResult, Stacked,
} from '@seqgrad/layers';
import { describe, expect, test } from 'vitest';

// Every sequence layer returns { output, state }, and the state it returns is the one it takes
// back: RNN, LSTM and GRU with PyTorch's (numLayers·D, B, H) shapes, cells under their own names.

const f64 = { dtype: 'float64' as const };
const close = (a: Tensor, b: Tensor, tol = 1e-12) => {
  expect([...a.shape]).toEqual([...b.shape]);
  a.data.forEach((v, i) => expect(Math.abs(v - b.data[i]!)).toBeLessThanOrEqual(tol));
};

type Kind = 'rnn' | 'lstm' | 'gru';
const make = (kind: Kind, I: number, H: number, opts: Record<string, unknown>): RNNBase =>
  kind === 'lstm' ? new LSTM(I, H, opts) : kind === 'gru' ? new GRU(I, H, opts) : new RNN(I, H, opts);

describe.each(['fused', 'composed'] as const)('one result contract (%s)', (impl) => {
  test.each(['rnn', 'lstm', 'gru'] as const)('%s.forward: the state it returns continues the sequence where it stopped', (kind) => {
    const layer = make(kind, 3, 4, { ...f64, impl, numLayers: 2, bidirectional: kind !== 'gru', generator: new Generator(1) });
    // Unidirectional only: a reverse direction reads the second half first, so splitting changes it.
    const uni = make(kind, 3, 4, { ...f64, impl, numLayers: 2, generator: new Generator(2) });
    const x = randn([2, 6, 3], { ...f64, generator: new Generator(3) });
    const whole = uni.forward(x);
    const first = uni.forward(x.narrow(1, 0, 4));
    const rest = uni.forward(x.narrow(1, 4, 2), first.state);
    close(concat([first.output, rest.output], 1), whole.output);
    expect(Object.keys(rest.state).sort()).toEqual(kind === 'lstm' ? ['c', 'h'] : ['h']);
    for (const k of Object.keys(whole.state) as (keyof RNNState)[]) close(rest.state[k]!, whole.state[k]!);
    // PyTorch's shapes: (numLayers·D, B, H) for every entry.
    const r = layer.forward(x);
    const D = layer.numDirections;
    expect(r.state.h.shape).toEqual([2 * D, 2, 4]);
    if (kind === 'lstm') expect(r.state.c!.shape).toEqual([2 * D, 2, 4]);
    expect(r.sequences).toBeUndefined();
  });

  test('LSTM.forward: projSize keeps PyTorch shapes, h (L·D, B, P) and c (L·D, B, H), and takes them back', () => {
    const lstm = new LSTM(3, 5, { ...f64, impl, projSize: 2, bidirectional: true });
    const x = randn([4, 3, 3], f64);
    const r = lstm.forward(x);
    expect([r.state.h.shape, r.state.c.shape]).toEqual([[2, 4, 2], [2, 4, 5]]);
    expect(lstm.forward(x, r.state).output.shape).toEqual([4, 3, 4]);
  });

  test('RNN.forward and GRU.forward: h alone (PyTorch’s h_0) and { h } give the same result', () => {
    for (const layer of [new RNN(3, 4, { ...f64, impl }), new GRU(3, 4, { ...f64, impl })]) {
      const x = randn([2, 5, 3], f64);
      const h0 = randn([1, 2, 4], f64);
      const a = layer.forward(x, h0);
      const b = layer.forward(x, { h: h0 });
      close(a.output, b.output);
      close(a.state.h, b.state.h);
    }
  });

  test('LSTM.forward: returnAllStates adds sequences.c, the last layer’s c at every step, whose last step is state.c', () => {
    const lstm = new LSTM(2, 3, { ...f64, impl, numLayers: 2 });
    const r = lstm.forward(randn([2, 4, 2], f64), undefined, { returnAllStates: true });
    expect(r.sequences!.c!.shape).toEqual([2, 4, 3]);
    close(r.sequences!.c!.select(1, 3), r.state.c.select(0, 1));
  });
});

describe('SequenceLayer', () => {
  test('Stacked: RNN, LSTM and GRU stack with Recurrent layers, one state per layer in each layer’s own form', () => {
    const g = new Generator(4);
    const layers: SequenceLayer[] = [new LSTM(3, 4, { ...f64, generator: g }), new Recurrent(new GRUCell(4, 5, { ...f64, generator: g })), new GRU(5, 2, { ...f64, generator: g })];
    const net = new Stacked(layers);
    const x = randn([2, 6, 3], f64);
    const r: SequenceResult<unknown[]> = net.forward(x);
    const [s0, s1, s2] = r.state as [{ h: Tensor; c: Tensor }, { h: Tensor }, { h: Tensor }];
    expect([s0.h.shape, s0.c.shape, s1.h.shape, s2.h.shape]).toEqual([[1, 2, 4], [1, 2, 4], [2, 5], [1, 2, 2]]);
    // The same as running the layers one after the other.
    const y0 = layers[0]!.forward(x);
    const y1 = layers[1]!.forward(y0.output);
    close(r.output, layers[2]!.forward(y1.output).output);
    // The stacked state goes back in.
    const again = net.forward(x, r.state);
    expect(again.output.shape).toEqual([2, 6, 2]);
  });
});

describe('RNNBase.cell', () => {
  const cases = [
    ['LSTM', () => new LSTM(3, 4, { ...f64, numLayers: 2, bidirectional: true, generator: new Generator(5) }), LSTMCell],
    ['GRU', () => new GRU(3, 4, { ...f64, numLayers: 2, bidirectional: true, generator: new Generator(6) }), GRUCell],
    ['GRU resetAfter false', () => new GRU(3, 4, { ...f64, resetAfter: false, bidirectional: true, generator: new Generator(7) }), GRUCell],
    ['RNN relu', () => new RNN(3, 4, { ...f64, nonlinearity: 'relu', numLayers: 2, generator: new Generator(8) }), RNNCell],
  ] as const;

  test.each(cases)('RNNBase.cell: the cell of each layer and direction of %s holds the layer’s own tensors, under the cell’s names', (_, build, Cell) => {
    const layer = build();
    for (let k = 0; k < layer.numLayers; k++) {
      for (let d = 0; d < layer.numDirections; d++) {
        const cell = layer.cell(k, d);
        expect(cell).toBeInstanceOf(Cell);
        const p = layer.params[k]![d]!;
        const sfx = `_l${k}${d === 1 ? '_reverse' : ''}`;
        const layerParams = new Map(layer.namedParameters());
        expect(cell.namedParameters().map(([n]) => n)).toEqual(['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh']);
        for (const [n, t] of cell.namedParameters()) expect(t).toBe(layerParams.get(`${n}${sfx}`));
        expect([cell.weightIh, cell.weightHh, cell.biasIh, cell.biasHh]).toEqual([p.weightIh, p.weightHh, p.biasIh, p.biasHh]);
        expect(cell.inputSize).toBe(k === 0 ? 3 : 4 * layer.numDirections);
      }
    }
  });

  test.each(cases)('RNNBase.cell: Recurrent over the cells of %s computes what the layer computes, and its gradients reach the layer', (_, build) => {
    const layer = build();
    const x = randn([2, 5, 3], f64);
    const want = layer.forward(x, undefined, { lengths: [5, 3] });
    let input = x;
    const finals: Tensor[] = [];
    for (let k = 0; k < layer.numLayers; k++) {
      const outs: Tensor[] = [];
      for (let d = 0; d < layer.numDirections; d++) {
        const r = new Recurrent(layer.cell(k, d), { reverse: d === 1 }).forward(input, undefined, { lengths: [5, 3] });
        outs.push(r.output);
        finals.push(r.state.h);
      }
      input = outs.length === 1 ? outs[0]! : concat(outs, -1);
    }
    close(input, want.output, 1e-12);
    finals.forEach((h, i) => close(h, want.state.h.select(0, i), 1e-12));
    // Gradients through the cell land on the layer's parameters.
    const w = layer.params[0]![0]!.weightHh;
    const [viaLayer] = grad(sum(want.output), [w]);
    const [viaCell] = grad(sum(input), [w]);
    close(viaCell!, viaLayer!, 1e-12);
  });

  test('RNNBase.cell: a cell over a layer does not re-initialise it, and dtype follows the layer', () => {
    const lstm = new LSTM(3, 4, f64);
    const before = Array.from(lstm.params[0]![0]!.weightIh.data);
    const cell = lstm.cell();
    expect(Array.from(lstm.params[0]![0]!.weightIh.data)).toEqual(before);
    expect(cell.dtype).toBe('float64');
    expect(new GRU(3, 4, { bias: false }).cell().namedParameters().map(([n]) => n)).toEqual(['weight_ih', 'weight_hh']);
  });
});
