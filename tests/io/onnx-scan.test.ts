/**
 * exportOnnx for sequence layers over any cell: one ONNX Scan per layer and direction whose
 * body is the cell's traced step. Every exported model runs in ONNX Runtime and agrees with
 * seqgrad to 1e-5 in float32, at batch sizes and lengths other than the example's.
 */
import * as autograd from '@seqgrad/autograd';
import {
  Generator, Tensor, abs, add, cast, full, clamp, concat, div, exp, expand, log, matmul, mul, narrow, neg, noGrad, permute, randn, relu,
  reshape, sigmoid, sqrt, sum, tanh, tensor, traceStepGraph,
} from '@seqgrad/autograd';
import { decodeOnnxModel, exportOnnx, importOnnx } from '@seqgrad/io';
import * as layers from '@seqgrad/layers';
import { Bidirectional, GRUCell, LSTMCell, Recurrent, RecurrentCell, Stacked } from '@seqgrad/layers';
import { fc, test as propTest } from '@fast-check/vitest';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SequenceModel } from 'seqgrad';
import { describe, expect, test } from 'vitest';
import { runOrt, toOrt } from './ort.js';
import { type GrammarParams, type GrammarSpec, grammarArb, grammarParams, grammarShapes, grammarStep } from '../setup/cellGrammar.js';

const lib = { autograd, layers };
type Factory = (l: typeof lib, i: number, h: number, o?: { generator?: Generator }) => RecurrentCell;
const cellsDir = fileURLToPath(new URL('../../examples/cells/', import.meta.url));
const EXAMPLES = [
  'mgu', 'peephole-lstm', 'layernorm-lstm',
  ...['vanilla', 'nig', 'nfg', 'nog', 'niaf', 'noaf', 'np', 'cifg', 'fgr'].map((v) => `lstm-variants/${v}`),
];
const factories = new Map<string, Factory>();
for (const name of EXAMPLES) {
  factories.set(name, ((await import(pathToFileURL(join(cellsDir, `${name}.mjs`)).href)) as { default: Factory }).default);
}

/** A cell whose step uses every primitive the compiler traces in a forward step: clamp, abs, exp, log, sqrt, div, neg, relu, reshape, permute, expand, sum, narrow, concat, cast, and a tensor made inside the step. */
class KitchenSinkCell extends RecurrentCell<{ h: Tensor; c: Tensor }> {
  readonly stateSizes: { h: number; c: number };
  readonly w: Tensor;
  readonly u: Tensor;
  readonly scale: Tensor;
  constructor(inputSize: number, hiddenSize: number, opts: { generator?: Generator; dtype?: 'float32' | 'float64' } = {}) {
    super(inputSize, hiddenSize, { dtype: opts.dtype ?? 'float32' });
    this.stateSizes = { h: hiddenSize, c: hiddenSize };
    const o = { generator: opts.generator, dtype: this.dtype };
    this.w = this.registerParameter('w', mul(randn([inputSize, 2 * hiddenSize], o), 0.5));
    this.u = this.registerParameter('u', mul(randn([hiddenSize, 2 * hiddenSize], o), 0.5));
    this.scale = this.registerParameter('scale', randn([1, hiddenSize], o));
  }
  step(x: Tensor, { h, c }: { h: Tensor; c: Tensor }): { h: Tensor; c: Tensor } {
    const H = this.hiddenSize;
    const B = x.shape[0]!;
    const a = add(matmul(x, this.w), matmul(h, this.u));
    const p = narrow(a, 1, 0, H);
    const q = narrow(a, 1, H, H);
    // Shape work that round-trips: (B, H) → (H, B) → (H·B) → (H, B), a (B, 1) row mean expanded back.
    const t = reshape(reshape(permute(p, [1, 0]), [H * B]), [H, B]);
    const rowMean = div(sum(permute(t, [1, 0]), [1], true), H);
    const centred = tanh(add(p, neg(expand(rowMean, [B, H]))));
    const gate = sigmoid(mul(q, cast(this.scale, this.scale.dtype)));
    const mag = sqrt(add(exp(neg(abs(c))), 1));
    // A tensor made inside the step, of the batch's size: exported as its value expanded to the batch.
    const bias = full([B, H], 0.25, { dtype: this.dtype });
    const cNext = clamp(add(add(mul(gate, c), mul(relu(centred), log(mag))), bias), -3, 3);
    const both = concat([cNext, h], 1);
    return { h: mul(tanh(narrow(both, 1, 0, H)), sigmoid(narrow(both, 1, H, H))), c: cNext };
  }
}

/** A random cell of the grammar the scan compiler's property test uses (tests/setup/cellGrammar.ts). */
class GrammarCell extends RecurrentCell<{ h: Tensor; c?: Tensor }> {
  readonly stateSizes: { h: number; c?: number };
  readonly params: GrammarParams;
  constructor(readonly spec: GrammarSpec, inputSize: number, hiddenSize: number, generator: Generator) {
    super(inputSize, hiddenSize);
    this.stateSizes = spec.withC ? { h: hiddenSize, c: hiddenSize } : { h: hiddenSize };
    const made = grammarShapes(spec, inputSize, hiddenSize).map(([name, shape]) => this.registerParameter(name, randn(shape, { generator, std: 0.6 })));
    this.params = grammarParams(spec, made);
  }
  step(x: Tensor, s: { h: Tensor; c?: Tensor }): { h: Tensor; c?: Tensor } {
    return grammarStep(this.spec, this.params, x, s);
  }
}

const HAND_MADE: Record<string, (i: number, h: number, g: Generator) => RecurrentCell> = {
  'kitchen-sink': (i, h, g) => new KitchenSinkCell(i, h, { generator: g }),
  'GRUCell(resetAfter=false)': (i, h, g) => new GRUCell(i, h, { resetAfter: false, generator: g }),
  LSTMCell: (i, h, g) => new LSTMCell(i, h, { generator: g }),
};

function makeCell(name: string, I: number, H: number, g: Generator): RecurrentCell {
  const hand = HAND_MADE[name];
  return hand ? hand(I, H, g) : factories.get(name)!(lib, I, H, { generator: g });
}

const ALL_CELLS = [...EXAMPLES, ...Object.keys(HAND_MADE)];

describe('exportOnnx: custom cells as ONNX Scan', () => {
  test('exportOnnx: a custom cell under Recurrent is one Scan whose body is its step (no unrolling)', async () => {
    const cell = makeCell('mgu', 3, 4, new Generator(1));
    const bytes = exportOnnx(new Recurrent(cell), randn([2, 5, 3]));
    const graph = decodeOnnxModel(bytes).graph!;
    const ops = graph.node!.map((n) => n.opType);
    expect(ops.filter((o) => o === 'Scan')).toHaveLength(1);
    expect(ops).not.toContain('Tanh');
    const scan = graph.node!.find((n) => n.opType === 'Scan')!;
    const body = scan.attribute!.find((a) => a.name === 'body')!.g!;
    expect(body.node!.map((n) => n.opType)).toContain('Tanh');
    const x = randn([4, 11, 3], { generator: new Generator(2) });
    const out = await runOrt(bytes, { input: toOrt(x) });
    expect(out.output!).toBeAllclose(noGrad(() => new Recurrent(cell).forward(x).output), { atol: 1e-5, rtol: 0 });
    // seqgrad's importer does not run Scan: it refuses the operator by name and position.
    expect(() => importOnnx(bytes)).toThrow(/node \d+ \(Scan '[^']*'\)/);
  });

  propTest.prop([
    fc.constantFrom(...ALL_CELLS),
    fc.record({
      I: fc.integer({ min: 1, max: 4 }), H: fc.integer({ min: 1, max: 5 }), B: fc.integer({ min: 1, max: 4 }), T: fc.integer({ min: 1, max: 7 }),
      layers: fc.integer({ min: 1, max: 3 }), arrangement: fc.constantFrom('forward', 'reverse', 'bidirectional'),
      mergeMode: fc.constantFrom('concat', 'sum', 'mul', 'ave'), useLengths: fc.boolean(), seed: fc.nat(1000),
    }),
  ])('exportOnnx: a random custom cell (examples, LSTM variants, hand-made) in Recurrent/Bidirectional/Stacked agrees with ONNX Runtime to 1e-5 (3e-5 for the layer-norm LSTM) at other B, T, with lengths', async (name, c) => {
    const gen = new Generator(c.seed);
    const merged = c.mergeMode === 'concat' ? 2 * c.H : c.H;
    const layer = (i: number) => c.arrangement === 'bidirectional'
      ? new Bidirectional(makeCell(name, i, c.H, gen), makeCell(name, i, c.H, gen), { mergeMode: c.mergeMode })
      : new Recurrent(makeCell(name, i, c.H, gen), { reverse: c.arrangement === 'reverse' });
    const outSize = c.arrangement === 'bidirectional' ? merged : c.H;
    const net = c.layers === 1 ? layer(c.I) : new Stacked(Array.from({ length: c.layers }, (_, l) => layer(l === 0 ? c.I : outSize)));
    net.eval();
    // Exported at (B=2, T=3), run at (B, T).
    const bytes = exportOnnx(net, randn([2, 3, c.I], { generator: gen }), { lengths: c.useLengths });
    const x = randn([c.B, c.T, c.I], { generator: gen });
    const lengths = c.useLengths ? tensor(Array.from({ length: c.B }, (_, b) => 1 + ((c.seed + 3 * b) % c.T)), { dtype: 'int32' }) : undefined;
    const feeds: Record<string, ReturnType<typeof toOrt>> = { input: toOrt(x) };
    if (lengths) feeds.lengths = toOrt(lengths);
    const out = await runOrt(bytes, feeds);
    const ref = noGrad(() => net.forward(x, undefined, lengths ? { lengths: Array.from(lengths.data) } : {}).output);
    // Layer norm over H ≤ 5 features divides by a small standard deviation, which amplifies float32 rounding
    // through stacked layers: on the worst case found (3 bidirectional layers, H = 4) ONNX Runtime is 1.3e-5 from
    // the float64 result and seqgrad 4e-6, so the two float32 runs are held to 3e-5 there and 1e-5 elsewhere.
    expect(out.output!).toBeAllclose(ref, { atol: name === 'layernorm-lstm' ? 3e-5 : 1e-5, rtol: 0 });
  });
});

describe("exportOnnx: random cells from the scan compiler's grammar", () => {
  propTest.prop([
    grammarArb,
    fc.record({
      I: fc.integer({ min: 1, max: 3 }), H: fc.integer({ min: 1, max: 4 }), B: fc.integer({ min: 1, max: 4 }), T: fc.integer({ min: 1, max: 6 }),
      layers: fc.integer({ min: 1, max: 2 }), arrangement: fc.constantFrom('forward', 'reverse', 'bidirectional'), useLengths: fc.boolean(), seed: fc.nat(1000),
    }),
  ])('exportOnnx: a random grammar cell in Recurrent/Bidirectional/Stacked agrees with ONNX Runtime to 1e-5 (relative to the output scale past 1) at other B, T, with lengths', async (spec, c) => {
    const gen = new Generator(c.seed);
    const D = c.arrangement === 'bidirectional' ? 2 : 1;
    const layer = (i: number) => c.arrangement === 'bidirectional'
      ? new Bidirectional(new GrammarCell(spec, i, c.H, gen), new GrammarCell(spec, i, c.H, gen))
      : new Recurrent(new GrammarCell(spec, i, c.H, gen), { reverse: c.arrangement === 'reverse' });
    const net = c.layers === 1 ? layer(c.I) : new Stacked(Array.from({ length: c.layers }, (_, l) => layer(l === 0 ? c.I : D * c.H)));
    const bytes = exportOnnx(net, randn([2, 3, c.I], { generator: gen }), { lengths: c.useLengths });
    const x = randn([c.B, c.T, c.I], { generator: gen });
    const lengths = Array.from({ length: c.B }, (_, b) => 1 + ((c.seed + 5 * b) % c.T));
    const feeds: Record<string, ReturnType<typeof toOrt>> = { input: toOrt(x) };
    if (c.useLengths) feeds.lengths = toOrt(tensor(lengths, { dtype: 'int32' }));
    const out = (await runOrt(bytes, feeds)).output!;
    const ref = noGrad(() => net.forward(x, undefined, c.useLengths ? { lengths } : {}).output);
    expect(out.shape).toEqual(ref.shape);
    // Unbounded gates (relu, none, products, a linear recurrence through W_m) can grow past 1, where float32 keeps
    // 1e-5 relative to the output's scale, not absolute: the tolerance is 1e-5 · max(1, max |output|).
    const scale = Math.max(1, ...Array.from(ref.data, Math.abs));
    expect(out).toBeAllclose(ref, { atol: 1e-5 * scale, rtol: 0 });
  });
});

describe('exportOnnx: custom cells, more cases', () => {
  test('exportOnnx: the kitchen-sink cell records every primitive the compiler traces in a forward step, so the property above covers their ONNX mappings', () => {
    const cell = new KitchenSinkCell(3, 4, { generator: new Generator(1) });
    const r = traceStepGraph(cell, randn([2, 3]), cell.initialState(2));
    if (!r.ok) throw new Error(r.reason);
    const ops = new Set(r.graph.nodes.map((n) => n.op));
    // pad appears only in gradients (narrow's backward), never in a forward step.
    for (const p of ['add', 'mul', 'div', 'neg', 'exp', 'log', 'sqrt', 'abs', 'tanh', 'sigmoid', 'relu', 'clamp', 'sum', 'matmul', 'reshape', 'permute', 'expand', 'concat', 'narrow']) {
      expect(ops, p).toContain(p);
    }
  });

  test("exportOnnx: the CLI's model over a custom cell exports its rnn as Scan and agrees with ONNX Runtime", async () => {
    const make = factories.get('lstm-variants/cifg')!;
    for (const inputKind of ['tokens', 'dense'] as const) {
      const model = new SequenceModel(
        { cell: 'cifg.mjs', hidden: 5, layers: 2, bidirectional: true, inputKind, inputSize: 7, outputSize: 3, readout: 'last', embed: 4 },
        new Generator(3), (i, h) => make(lib, i, h, { generator: new Generator(i + h) }),
      ).eval();
      const gen = new Generator(5);
      const example = inputKind === 'tokens' ? autograd.randint(0, 7, [2, 4], { generator: gen }) : randn([2, 4, 7], { generator: gen });
      const x = inputKind === 'tokens' ? autograd.randint(0, 7, [3, 9], { generator: gen }) : randn([3, 9, 7], { generator: gen });
      const out = await runOrt(exportOnnx(model, example), { input: toOrt(x) });
      expect(out.output!).toBeAllclose(noGrad(() => model.forward(x)), { atol: 1e-5, rtol: 0 });
    }
  });

  test('exportOnnx: returnSequences=false exports the final h, and a float64 cell is written as float32', async () => {
    const cell = factories.get('peephole-lstm')!(lib, 3, 4, { generator: new Generator(2) });
    const net = new Recurrent(cell, { returnSequences: false });
    const x = randn([3, 6, 3], { generator: new Generator(3) });
    const lengths = tensor([6, 2, 4], { dtype: 'int32' });
    const out = await runOrt(exportOnnx(net, x, { lengths: true }), { input: toOrt(x), lengths: toOrt(lengths) });
    expect(out.output!).toBeAllclose(noGrad(() => net.forward(x, undefined, { lengths: [6, 2, 4] }).output), { atol: 1e-5, rtol: 0 });

    const cell64 = new KitchenSinkCell(3, 4, { generator: new Generator(4), dtype: 'float64' });
    const x64 = randn([2, 5, 3], { dtype: 'float64', generator: new Generator(5) });
    const net64 = new Recurrent(cell64);
    const out64 = await runOrt(exportOnnx(net64, x64), { input: toOrt(x64.to('float32')) });
    expect(out64.output!.dtype).toBe('float32');
    expect(out64.output!).toBeAllclose(noGrad(() => net64.forward(x64).output), { atol: 1e-5, rtol: 0 });
  });

  test('exportOnnx: a step the tracer cannot trace is refused with the reason explainScan gives', () => {
    class PeekingCell extends GRUCell {
      override step(x: Tensor, s: { h: Tensor }): { h: Tensor } {
        const next = super.step(x, s);
        return next.h.data[0]! > 0 ? next : { h: neg(next.h) };
      }
    }
    const layer = new Recurrent(new PeekingCell(3, 4));
    const x = randn([2, 5, 3]);
    const reason = layer.explain(x).reason!;
    expect(reason).toMatch(/reads tensor values/);
    expect(() => exportOnnx(layer, x)).toThrow(/exportOnnx: the module: the step of PeekingCell cannot be exported as an ONNX Scan: it reads tensor values/);
    expect(() => exportOnnx(new Stacked([new Recurrent(new GRUCell(3, 4)), new Recurrent(new PeekingCell(4, 4))]), x)).toThrow(/exportOnnx: 1\.: the step of PeekingCell cannot be exported/);
    expect(() => exportOnnx(layer, x, { initialState: true })).toThrow(/initialState and finalState apply to a bare RNN\/LSTM\/GRU or the CLI's model, not to a Recurrent/);
  });
});
