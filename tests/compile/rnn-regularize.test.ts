import { describe, expect, test } from 'vitest';
import { Generator, type Tensor, gradcheck, mul, randn, sum } from '@seqgrad/autograd';
import { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell, Recurrent, type RNNBase } from '@seqgrad/layers';
import { KerasModel, exportOnnx } from '@seqgrad/io';

/**
 * RNN, LSTM and GRU with inputDropout, recurrentDropout and zoneout: the options route the layer
 * through scan (the fused kernels implement no masks), with the same masks as Recurrent over the
 * equivalent cell; eval mode ignores dropout; gradients pass gradcheck with the masks fixed.
 */

const f64 = { dtype: 'float64' as const };

function maxDiff(a: Tensor, b: Tensor): number {
  const x = a.data as ArrayLike<number>;
  const y = b.data as ArrayLike<number>;
  expect(x.length).toBe(y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

const regular = { inputDropout: 0.2, recurrentDropout: 0.3 };
const modes = [
  { name: 'RNN', make: (o: object) => new RNN(3, 5, o), cell: () => new RNNCell(3, 5, f64), zoneout: 0.25 },
  { name: 'GRU', make: (o: object) => new GRU(3, 5, o), cell: () => new GRUCell(3, 5, f64), zoneout: 0.25 },
  { name: 'LSTM', make: (o: object) => new LSTM(3, 5, o), cell: () => new LSTMCell(3, 5, f64), zoneout: { h: 0.1, c: 0.5 } },
] as const;

describe.each(modes)('$name with dropout and zoneout', ({ name, make, cell: makeCell, zoneout }) => {
  test(`${name}: in training it draws the same masks as Recurrent over the same cell (one scan, the same generator stream)`, () => {
    const g = new Generator(1);
    const layer = make({ ...f64, ...regular, zoneout, generator: g }) as RNNBase;
    const x = randn([4, 6, 3], { ...f64, generator: new Generator(2) });
    const at = g.getState();
    const a = (layer as LSTM).forward(x, undefined, { lengths: [6, 3, 5, 1] }).output;
    const cell = makeCell();
    const sd = layer.stateDict();
    cell.loadStateDict({ weight_ih: sd.weight_ih_l0!, weight_hh: sd.weight_hh_l0!, bias_ih: sd.bias_ih_l0!, bias_hh: sd.bias_hh_l0! });
    const rec = new Recurrent(cell, { ...regular, zoneout, generator: new Generator(0).setState(at) });
    const b = rec.forward(x, undefined, { lengths: [6, 3, 5, 1] }).output;
    expect(maxDiff(a, b)).toBeLessThan(1e-12);
    // The masks matter: without them the output differs.
    const plain = (make({ ...f64, generator: new Generator(1) }) as LSTM).forward(x, undefined, { lengths: [6, 3, 5, 1] }).output;
    expect(maxDiff(a, plain)).toBeGreaterThan(1e-3);
  });

  test(`${name}: eval mode ignores dropout and runs the fused kernels; zoneout uses its expectation`, () => {
    const x = randn([2, 5, 3], { ...f64, generator: new Generator(3) });
    const withDrop = make({ ...f64, ...regular, generator: new Generator(4) }) as LSTM;
    const plain = make({ ...f64, generator: new Generator(4) }) as LSTM;
    withDrop.eval();
    expect(withDrop.regularized).toBe(false);
    expect(withDrop.explain(x).text).toMatch(/fused kernels/);
    expect(maxDiff(withDrop.forward(x).output, plain.forward(x).output)).toBe(0);
    // Zoneout in eval mode: p·previous + (1 − p)·new, the same as Recurrent's.
    const zoned = make({ ...f64, zoneout, generator: new Generator(4) }) as RNNBase;
    zoned.eval();
    expect(zoned.regularized).toBe(true);
    const cell = makeCell();
    const sd = zoned.stateDict();
    cell.loadStateDict({ weight_ih: sd.weight_ih_l0!, weight_hh: sd.weight_hh_l0!, bias_ih: sd.bias_ih_l0!, bias_hh: sd.bias_hh_l0! });
    const rec = new Recurrent(cell, { zoneout });
    rec.eval();
    expect(maxDiff((zoned as LSTM).forward(x).output, rec.forward(x).output)).toBeLessThan(1e-12);
    expect(maxDiff((zoned as LSTM).forward(x).output, plain.forward(x).output)).toBeGreaterThan(1e-3);
  });

  test(`${name}: gradients with a fixed mask pass gradcheck (two layers, bidirectional)`, () => {
    const g = new Generator(5);
    const layer = make({ ...f64, ...regular, zoneout, numLayers: 2, bidirectional: true, generator: g }) as LSTM;
    const x = randn([2, 4, 3], { ...f64, generator: new Generator(6), requiresGrad: true });
    const at = g.getState();
    // Every call draws the same masks: the generator is rewound first.
    const fn = (xx: Tensor) => {
      g.setState(at);
      const r = layer.forward(xx, undefined, { lengths: [4, 2] });
      return sum(mul(r.output, r.output));
    };
    expect(gradcheck(fn, [x], { atol: 1e-7 })).toBe(true);
    const params = layer.parameters();
    const byParams = (...ps: Tensor[]) => {
      void ps;
      return fn(x.detach());
    };
    expect(gradcheck(byParams, params.slice(0, 4), { atol: 1e-7 })).toBe(true);
  });
});

describe('RNN layers: explain and options', () => {
  test('LSTM.explain: says that dropout routes the fused layer through scan, with the masks and how they are drawn', () => {
    const lstm = new LSTM(3, 8, { recurrentDropout: 0.25, zoneout: { c: 0.5 } });
    const e = lstm.explain(randn([4, 10, 3]));
    expect(e.text).toMatch(/through scan, not the fused kernels, because dropout or zoneout is on in training mode/);
    expect(e.compiled).toBe(true);
    expect(e.regularization).toEqual({ training: true, inputDropout: 0, recurrentDropout: 0.25, zoneout: { h: 0, c: 0.5 } });
    expect(e.text).toMatch(/recurrentDropout 0.25 on the h the step reads: one mask per sequence, the same at every step/);
    expect(e.text).toMatch(/zoneout \(c 0.5\): a fresh mask per step and unit/);
    expect(new LSTM(3, 8).explain(randn([4, 10, 3])).reason).toBe("impl is 'fused'");
    expect(new GRU(3, 8, { impl: 'composed' }).explain(randn([4, 10, 3])).compiled).toBe(true);
  });

  test('RNN: the options appear in its repr and reach scan per state entry', () => {
    expect(new LSTM(3, 4, { recurrentDropout: 0.1, zoneout: { c: 0.3 } }).toString()).toMatch(/recurrentDropout=0.1, zoneout=\{"h":0,"c":0.3\}/);
    expect(new LSTM(3, 4, { zoneout: 0.2 }).zoneout).toEqual({ h: 0.2, c: 0.2 });
    expect(new GRU(3, 4, { zoneout: 0.2 }).zoneout).toEqual({ h: 0.2 });
  });
});

describe('exportOnnx: zoneout', () => {
  test('exportOnnx: a layer with zoneout is refused (its eval step is not the plain one); dropout alone exports', () => {
    const x = randn([2, 5, 3]);
    expect(() => exportOnnx(new LSTM(3, 4, { zoneout: { c: 0.2 } }), x)).toThrow(/exportOnnx: a LSTM has zoneout \({"h":0,"c":0.2}\), whose evaluation-mode step/);
    expect(() => exportOnnx(new Recurrent(new GRUCell(3, 4), { zoneout: 0.1 }), x)).toThrow(/a Recurrent has zoneout/);
    expect(exportOnnx(new GRU(3, 4, { recurrentDropout: 0.3, inputDropout: 0.2 }), x).length).toBeGreaterThan(0);
  });

  test('KerasModel: a layer with zoneout is refused (Keras has none); dropout alone is accepted', () => {
    expect(() => new KerasModel([{ layer: new GRU(3, 4, { zoneout: 0.1 }) }])).toThrow(/GRU has zoneout \{"h":0.1\}; Keras has no zoneout/);
    expect(new KerasModel([{ layer: new GRU(3, 4, { recurrentDropout: 0.1 }) }])).toBeInstanceOf(KerasModel);
  });
});
