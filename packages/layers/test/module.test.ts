import { Generator, randn, tensor } from '@seqgrad/autograd';
import { Dropout, LSTM, Linear, Module, Sequential, cloneModule } from '@seqgrad/layers';
import { describe, expect, test } from 'vitest';

describe('Module', () => {
  test('namedParameters: dotted names through children, registration order', () => {
    const net = new Sequential(new Linear(3, 4), new Dropout(0.1), new Linear(4, 2, { bias: false }));
    expect(net.namedParameters().map(([n]) => n)).toEqual(['0.weight', '0.bias', '2.weight']);
    expect(net.parameters().every((p) => p.requiresGrad && p.isLeaf)).toBe(true);
    expect(net.children()).toHaveLength(3);
    expect(net.numParameters()).toBe(3 * 4 + 4 + 4 * 2);
  });

  test('namedParameters: LSTM names and shapes are exactly PyTorch\'s', () => {
    const lstm = new LSTM(3, 5, { numLayers: 2, bidirectional: true, projSize: 2 });
    const names = lstm.namedParameters().map(([n, p]) => `${n}:${p.shape.join('x')}`);
    expect(names).toEqual([
      'weight_ih_l0:20x3', 'weight_hh_l0:20x2', 'bias_ih_l0:20', 'bias_hh_l0:20', 'weight_hr_l0:2x5',
      'weight_ih_l0_reverse:20x3', 'weight_hh_l0_reverse:20x2', 'bias_ih_l0_reverse:20', 'bias_hh_l0_reverse:20', 'weight_hr_l0_reverse:2x5',
      'weight_ih_l1:20x4', 'weight_hh_l1:20x2', 'bias_ih_l1:20', 'bias_hh_l1:20', 'weight_hr_l1:2x5',
      'weight_ih_l1_reverse:20x4', 'weight_hh_l1_reverse:20x2', 'bias_ih_l1_reverse:20', 'bias_hh_l1_reverse:20', 'weight_hr_l1_reverse:2x5',
    ]);
  });

  test('stateDict / loadStateDict: round trip copies values, not buffers', () => {
    const a = new Linear(3, 2, { generator: new Generator(1) });
    const b = new Linear(3, 2, { generator: new Generator(2) });
    const sd = a.stateDict();
    expect(sd.weight!.data).not.toBe(a.weight.data);
    expect(b.loadStateDict(sd)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(Array.from(b.weight.data)).toEqual(Array.from(a.weight.data));
    sd.weight!.data[0] = 42;
    expect(b.weight.data[0]).not.toBe(42);
  });

  test('loadStateDict: strict errors name missing keys, unexpected keys and shape mismatches', () => {
    const lin = new Linear(3, 2);
    const sd = lin.stateDict();
    delete sd.bias;
    sd.extra = tensor([1]);
    sd.weight = tensor(new Float32Array(6), { shape: [3, 2] });
    let msg = '';
    try {
      lin.loadStateDict(sd);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain('Linear.loadStateDict');
    expect(msg).toContain("size mismatch for 'weight': copying a param with shape [3,2], the shape in the current model is [2,3]");
    expect(msg).toContain("missing key(s): 'bias'");
    expect(msg).toContain("unexpected key(s): 'extra'");
  });

  test('loadStateDict: non-strict returns missing and unexpected keys and loads the rest', () => {
    const lin = new Linear(3, 2);
    const r = lin.loadStateDict({ weight: tensor(new Float32Array(6).fill(1), { shape: [2, 3] }), other: tensor([1]) }, { strict: false });
    expect(r).toEqual({ missingKeys: ['bias'], unexpectedKeys: ['other'] });
    expect(Array.from(lin.weight.data)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(() => lin.loadStateDict({ weight: tensor([1, 2]) }, { strict: false })).toThrow(/size mismatch for 'weight'/);
  });

  test('loadStateDict: converts dtype (a float64 dict loads into float32 parameters)', () => {
    const lin = new Linear(1, 1, { bias: false });
    lin.loadStateDict({ weight: tensor([[0.5]], { dtype: 'float64' }) });
    expect(lin.weight.dtype).toBe('float32');
    expect(lin.weight.data[0]).toBe(0.5);
  });

  test('train / eval: propagate to every descendant', () => {
    const net = new Sequential(new Linear(2, 2), new Dropout(0.5));
    net.eval();
    expect(net.modules().every((m) => !m.training)).toBe(true);
    net.train();
    expect(net.modules().every((m) => m.training)).toBe(true);
  });

  test('zeroGrad: clears every gradient', () => {
    const lin = new Linear(3, 2);
    lin.forward(randn([4, 3])).sum().backward();
    expect(lin.weight.grad).not.toBeNull();
    lin.zeroGrad();
    expect(lin.parameters().every((p) => p.grad === null)).toBe(true);
  });

  test('toString: a tree with configuration and parameter counts', () => {
    const net = new Module();
    net.registerModule('0', new Linear(3, 4));
    net.registerModule('1', new LSTM(4, 8, { numLayers: 2 }));
    const s = net.toString();
    expect(s.split('\n')[0]).toBe('Module()  [1,040 params]');
    expect(s).toContain('(0): Linear(3, 4, bias=true)  [16 params]');
    expect(s).toContain('(1): LSTM(4, 8, numLayers=2, impl=fused)  [1,024 params]');
  });

  test('cloneModule: same values, independent buffers', () => {
    const a = new Sequential(new Linear(2, 3));
    const b = cloneModule(a);
    expect(b).toBeInstanceOf(Sequential);
    expect(Array.from(b.parameters()[0]!.data)).toEqual(Array.from(a.parameters()[0]!.data));
    b.parameters()[0]!.data[0] = 7;
    expect(a.parameters()[0]!.data[0]).not.toBe(7);
    expect(b.layers[0]!.forward(randn([1, 2])).shape).toEqual([1, 3]);
    expect((b.layers[0] as Linear).weight).toBe(b.parameters()[0]);
  });

  test('cloneModule: an LSTM copy runs on its own parameters', () => {
    const a = new LSTM(2, 3, { bidirectional: true });
    const b = cloneModule(a);
    const params = new Set(b.parameters());
    expect(b.params.flat().every((p) => params.has(p.weightIh) && params.has(p.weightHh))).toBe(true);
    expect(b.parameters().some((p) => a.parameters().includes(p))).toBe(false);
    const x = randn([1, 4, 2]);
    expect(Array.from(b.forward(x).output.data)).toEqual(Array.from(a.forward(x).output.data));
  });

  test('registerParameter: refuses a non-leaf tensor', () => {
    const m = new Module();
    const w = randn([2], { requiresGrad: true });
    expect(() => m.registerParameter('w', w.mul(2))).toThrow(/must be a leaf tensor/);
  });
});
