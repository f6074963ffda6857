import { Generator, Tensor, manualSeed, noGrad, randint, randn, tensor } from '@seqgrad/autograd';
import { Activation, decodeOnnxModel, exportOnnx, importOnnx } from '@seqgrad/io';
import {
  Bidirectional, Dropout, Embedding, GRU, GRUCell, LSTM, LSTMCell, LayerNorm, Linear, Module, RNN, RNNCell, type RNNBase, Recurrent, Sequential,
  Stacked,
} from '@seqgrad/layers';
import { fc, test as propTest } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { SequenceModel } from 'seqgrad';
import { runOrt, toOrt } from './ort.js';

type Kind = 'rnn_tanh' | 'rnn_relu' | 'lstm' | 'gru' | 'gru_cho';

function build(kind: Kind, I: number, H: number, opts: { numLayers: number; bidirectional: boolean; batchFirst: boolean; bias: boolean; seed: number }): RNNBase {
  // Only the constructor's options: the layers refuse unknown ones (such as the test's I, H, B, T).
  const o = { numLayers: opts.numLayers, bidirectional: opts.bidirectional, batchFirst: opts.batchFirst, bias: opts.bias, generator: new Generator(opts.seed) };
  if (kind === 'lstm') return new LSTM(I, H, o);
  if (kind === 'gru' || kind === 'gru_cho') return new GRU(I, H, { ...o, resetAfter: kind === 'gru' });
  return new RNN(I, H, { ...o, nonlinearity: kind === 'rnn_relu' ? 'relu' : 'tanh' });
}

describe('exportOnnx: recurrent layers in ONNX Runtime', () => {
  propTest.prop([
    fc.constantFrom<Kind>('rnn_tanh', 'rnn_relu', 'lstm', 'gru', 'gru_cho'),
    fc.record({
      I: fc.integer({ min: 1, max: 5 }), H: fc.integer({ min: 1, max: 6 }), B: fc.integer({ min: 1, max: 4 }), T: fc.integer({ min: 1, max: 7 }),
      numLayers: fc.integer({ min: 1, max: 3 }), bidirectional: fc.boolean(), batchFirst: fc.boolean(), bias: fc.boolean(),
      useLengths: fc.boolean(), useState: fc.boolean(), seed: fc.integer({ min: 0, max: 1000 }),
    }),
  ])('exportOnnx: a random RNN/LSTM/GRU agrees with ONNX Runtime to 1e-5 (cell, layers, directions, batchFirst, lengths, states)', async (kind, c) => {
    const m = build(kind, c.I, c.H, c).eval();
    const gen = new Generator(c.seed + 1);
    const x = randn(c.batchFirst ? [c.B, c.T, c.I] : [c.T, c.B, c.I], { generator: gen });
    const lengths = c.useLengths ? tensor(Array.from({ length: c.B }, (_, b) => (b === 0 ? c.T : 1 + ((c.seed + b) % c.T))), { dtype: 'int32' }) : undefined;
    const LD = c.numLayers * (c.bidirectional ? 2 : 1);
    const h0 = c.useState ? randn([LD, c.B, c.H], { generator: gen }) : undefined;
    const c0 = c.useState ? randn([LD, c.B, c.H], { generator: gen }) : undefined;
    const bytes = exportOnnx(m, x, { lengths: c.useLengths, initialState: c.useState });
    const feeds: Record<string, ReturnType<typeof toOrt>> = { input: toOrt(x) };
    if (lengths) feeds.lengths = toOrt(lengths);
    if (h0) feeds.h0 = toOrt(h0);
    if (c0 && kind === 'lstm') feeds.c0 = toOrt(c0);
    const out = await runOrt(bytes, feeds);
    const ref = noGrad(() => (m as LSTM).forward(x, h0 ? (kind === 'lstm' ? { h: h0, c: c0! } : ({ h: h0 } as never)) : undefined, { lengths }));
    expect(out.output!).toBeAllclose(ref.output, { atol: 1e-5, rtol: 0 });
    expect(out.h_n!).toBeAllclose(ref.state.h, { atol: 1e-5, rtol: 0 });
    if (kind === 'lstm') expect(out.c_n!).toBeAllclose(ref.state.c, { atol: 1e-5, rtol: 0 });
    // seqgrad's importer reads the export back to the same function.
    const back = importOnnx(bytes).run(Object.fromEntries(Object.entries({ input: x, lengths, h0, c0: kind === 'lstm' ? c0 : undefined }).filter(([, v]) => v)) as Record<string, Tensor>);
    expect(back.output!).toBeAllclose(ref.output, { atol: 1e-5, rtol: 0 });
  });

  test('exportOnnx: batch and sequence axes are dynamic (exported at B=2, T=3; run at B=5, T=9)', async () => {
    manualSeed(3);
    const m = new GRU(3, 4, { numLayers: 2, bidirectional: true }).eval();
    const bytes = exportOnnx(m, randn([2, 3, 3]));
    const x = randn([5, 9, 3]);
    const out = await runOrt(bytes, { input: toOrt(x) });
    expect(out.output!).toBeAllclose(noGrad(() => m.forward(x).output), { atol: 1e-5, rtol: 0 });
  });
});

describe('exportOnnx: tensor modules', () => {
  test('exportOnnx: Sequential of Linear, LayerNorm, Dropout and every activation agrees with ONNX Runtime on 2-D and 3-D inputs', async () => {
    manualSeed(5);
    const net = new Sequential(
      new Linear(4, 8), new Activation('tanh'), new LayerNorm(8), new Dropout(0.3), new Linear(8, 6), new Activation('relu'), new LayerNorm(6, { elementwiseAffine: false }),
      new Linear(6, 6), new Activation('sigmoid'), new Linear(6, 3, { bias: false }), new Activation('logSoftmax'), new Activation('softmax', -1),
    ).eval();
    for (const shape of [[3, 4], [2, 5, 4]]) {
      const x = randn(shape);
      const out = await runOrt(exportOnnx(net, x), { input: toOrt(x) });
      expect(out.output!).toBeAllclose(noGrad(() => net.forward(x)), { atol: 1e-5, rtol: 0 });
    }
  });

  test('exportOnnx: a float64 module is written as float32 by default and as float64 on request', async () => {
    manualSeed(7);
    const m = new LSTM(3, 4, { dtype: 'float64', numLayers: 2 }).eval();
    const x = randn([2, 5, 3], { dtype: 'float64' });
    const ref = noGrad(() => m.forward(x).output);
    const out = await runOrt(exportOnnx(m, x), { input: toOrt(x.to('float32')) });
    expect(out.output!.dtype).toBe('float32');
    expect(out.output!).toBeAllclose(ref, { atol: 1e-5, rtol: 0 });
    const back = importOnnx(exportOnnx(m, x, { dtype: 'float64' }), { dtype: 'float64' }).run({ input: x }).output!;
    expect(back.dtype).toBe('float64');
    expect(back).toBeAllclose(ref, { atol: 1e-12, rtol: 0 });
  });

  test('exportOnnx: Embedding takes int32 token ids, or int64 ones with tokenType int64', async () => {
    manualSeed(6);
    const net = new Sequential(new Embedding(10, 4), new Linear(4, 2));
    const ids = randint(0, 10, [3, 5]);
    const expected = noGrad(() => net.forward(ids));
    const out = await runOrt(exportOnnx(net, ids), { input: toOrt(ids) });
    expect(out.output!).toBeAllclose(expected, { atol: 1e-5, rtol: 0 });
    const bytes64 = exportOnnx(net, ids, { tokenType: 'int64' });
    expect(decodeOnnxModel(bytes64).graph!.input![0]!.type!.tensorType!.elemType).toBe(7); // INT64
    const out64 = await runOrt(bytes64, { input: toOrt(ids, true) });
    expect(out64.output!).toBeAllclose(expected, { atol: 1e-5, rtol: 0 });
    expect(importOnnx(bytes64).run({ input: ids }).output!).toBeAllclose(expected, { atol: 1e-5, rtol: 0 });
  });

  for (const cfg of [
    { cell: 'lstm', inputKind: 'tokens', readout: 'all', layers: 2, bidirectional: true },
    { cell: 'gru', inputKind: 'dense', readout: 'last', layers: 1, bidirectional: false },
    { cell: 'rnn', inputKind: 'tokens', readout: 'last', layers: 2, bidirectional: true },
  ] as const) {
    test(`exportOnnx: the CLI's model (${cfg.cell}, ${cfg.inputKind}, readout ${cfg.readout}) agrees with ONNX Runtime`, async () => {
      const model = new SequenceModel({ ...cfg, hidden: 5, inputSize: 7, outputSize: 3, embed: 4 }, new Generator(9)).eval();
      const x = cfg.inputKind === 'tokens' ? randint(0, 7, [2, 6], { generator: new Generator(1) }) : randn([2, 6, 7], { generator: new Generator(1) });
      const bytes = exportOnnx(model, x);
      const x2 = cfg.inputKind === 'tokens' ? randint(0, 7, [3, 4], { generator: new Generator(2) }) : randn([3, 4, 7], { generator: new Generator(2) });
      const out = await runOrt(bytes, { input: toOrt(x2) });
      expect(out.output!).toBeAllclose(noGrad(() => model.forward(x2)), { atol: 1e-5, rtol: 0 });
    });
  }
});

test("exportOnnx: the CLI's language model with states in and out continues a sequence chunk by chunk in ONNX Runtime as SequenceModel.run does", async () => {
  const model = new SequenceModel({ cell: 'lstm', inputKind: 'tokens', readout: 'all', layers: 2, bidirectional: false, hidden: 6, inputSize: 9, outputSize: 9, embed: 4 }, new Generator(4)).eval();
  const gen = new Generator(5);
  const chunk1 = randint(0, 9, [2, 5], { generator: gen });
  const chunk2 = randint(0, 9, [2, 3], { generator: gen });
  const bytes = exportOnnx(model, chunk1, { initialState: true, finalState: true });
  const zeros = new Tensor(new Float32Array(2 * 2 * 6), [2, 2, 6]);
  const first = await runOrt(bytes, { input: toOrt(chunk1), h0: toOrt(zeros), c0: toOrt(zeros) });
  const second = await runOrt(bytes, { input: toOrt(chunk2), h0: toOrt(first.h_n!), c0: toOrt(first.c_n!) });
  const ref1 = noGrad(() => model.run(chunk1));
  const ref2 = noGrad(() => model.run(chunk2, ref1.state)) as { output: Tensor; state: { h: Tensor; c: Tensor } };
  expect(first.output!).toBeAllclose(ref1.output, { atol: 1e-5, rtol: 0 });
  expect(second.output!).toBeAllclose(ref2.output, { atol: 1e-5, rtol: 0 });
  expect(second.h_n!).toBeAllclose(ref2.state.h, { atol: 1e-5, rtol: 0 });
  expect(second.c_n!).toBeAllclose(ref2.state.c, { atol: 1e-5, rtol: 0 });
});

describe('exportOnnx: built-in cells', () => {
  propTest.prop([
    fc.constantFrom('rnn_tanh', 'rnn_relu', 'lstm', 'gru', 'gru_cho'),
    fc.record({ layers: fc.integer({ min: 1, max: 3 }), bidirectional: fc.boolean(), bias: fc.boolean(), I: fc.integer({ min: 1, max: 4 }), H: fc.integer({ min: 1, max: 5 }), seed: fc.nat(1000) }),
  ])('exportOnnx: Recurrent, Bidirectional and Stacked over RNNCell/LSTMCell/GRUCell export as ONNX operators and agree with ONNX Runtime', async (kind, c) => {
    const gen = new Generator(c.seed);
    const cell = (i: number) => {
      const o = { bias: c.bias, generator: gen };
      if (kind === 'lstm') return new LSTMCell(i, c.H, o);
      if (kind === 'gru' || kind === 'gru_cho') return new GRUCell(i, c.H, { ...o, resetAfter: kind === 'gru' });
      return new RNNCell(i, c.H, { ...o, nonlinearity: kind === 'rnn_relu' ? 'relu' : 'tanh' });
    };
    const D = c.bidirectional ? 2 : 1;
    const layer = (i: number) => (c.bidirectional ? new Bidirectional(cell(i), cell(i)) : new Recurrent(cell(i)));
    const net = c.layers === 1 ? layer(c.I) : new Stacked(Array.from({ length: c.layers }, (_, l) => layer(l === 0 ? c.I : D * c.H)));
    const x = randn([3, 4, c.I], { generator: gen });
    const out = await runOrt(exportOnnx(net, x), { input: toOrt(x) });
    expect(out.output!).toBeAllclose(noGrad(() => net.forward(x).output), { atol: 1e-5, rtol: 0 });
  });

  test('exportOnnx: arrangements of built-in cells without one ONNX operator per layer export as Scan and agree with ONNX Runtime', async () => {
    const gen = new Generator(4);
    const x = randn([2, 3, 2], { generator: gen });
    const nets = [
      new Recurrent(new GRUCell(2, 3, { generator: gen }), { reverse: true }),
      new Bidirectional(new GRUCell(2, 3, { generator: gen }), new GRUCell(2, 3, { generator: gen }), { mergeMode: 'sum' }),
      new Stacked([new Recurrent(new GRUCell(2, 3, { generator: gen })), new Recurrent(new LSTMCell(3, 3, { generator: gen }))]),
    ];
    for (const net of nets) {
      const bytes = exportOnnx(net, x);
      expect(decodeOnnxModel(bytes).graph!.node!.map((n) => n.opType)).toContain('Scan');
      const out = await runOrt(bytes, { input: toOrt(x) });
      expect(out.output!).toBeAllclose(noGrad(() => net.forward(x).output), { atol: 1e-5, rtol: 0 });
    }
  });
});

describe('exportOnnx: refusals', () => {
  test("exportOnnx: a sequence layer inside a Sequential is refused with its cell's name", () => {
    class PeepholeCell extends GRUCell {}
    const layer = new Stacked([new Recurrent(new PeepholeCell(3, 4))]);
    expect(() => exportOnnx(new Sequential(layer as never), randn([2, 5, 3]))).toThrow(/runs the cell PeepholeCell: PeepholeCells export when the Recurrent\/Bidirectional\/Stacked layer is the module exported/);
    expect(() => exportOnnx(new Sequential(new Recurrent(new GRUCell(3, 4)) as never), randn([2, 5, 3]))).toThrow(/GRUCells export when the Recurrent\/Bidirectional\/Stacked layer is the module exported/);
  });

  test('exportOnnx: an LSTM with projSize, a module of another kind and a mismatched example are refused', () => {
    expect(() => exportOnnx(new LSTM(3, 4, { projSize: 2 }), randn([2, 5, 3]))).toThrow(/projSize=2 has no ONNX LSTM equivalent/);
    class Custom extends Module {
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    expect(() => exportOnnx(new Custom(), randn([2, 3]))).toThrow(/Custom, which has no ONNX export/);
    expect(() => exportOnnx(new Linear(3, 2), randn([2, 4]))).toThrow(/exportOnnx: the module does not accept example\[2,4\]/);
    expect(() => exportOnnx(new Linear(3, 2), randn([2, 3]), { lengths: true })).toThrow(/lengths applies to a bare RNN\/LSTM\/GRU, Recurrent, Bidirectional or Stacked, not to a Linear/);
    expect(() => exportOnnx(new Linear(3, 2), randn([2, 3]), { initialState: true })).toThrow(/initialState and finalState apply to a bare RNN\/LSTM\/GRU or the CLI's model/);
  });
});
