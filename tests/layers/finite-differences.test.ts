import { Generator, type Tensor, gradcheck, gradgradcheck, randn } from '@seqgrad/autograd';
import { GRU, LSTM, LayerNormLSTMCell, RNN, Recurrent, type RNNBase } from '@seqgrad/layers';
import { describe, expect, test } from 'vitest';

/**
 * Both implementations of every layer against central finite differences (float64): the
 * gradient of output and final states with respect to the input, the initial states and
 * every parameter, on 2-layer bidirectional layers with variable lengths.
 */
const f64 = { dtype: 'float64' as const };
const build = (mode: string, impl: 'fused' | 'composed'): RNNBase => {
  const opts = { ...f64, impl, numLayers: 2, bidirectional: true, generator: new Generator(7) };
  if (mode === 'LSTM') return new LSTM(2, 3, { ...opts, projSize: 2 });
  if (mode === 'GRU') return new GRU(2, 2, opts);
  return new RNN(2, 2, opts);
};

describe.each(['fused', 'composed'] as const)('finite differences (%s)', (impl) => {
  test.each(['RNN', 'LSTM', 'GRU'])('%s: gradients of output and states match central differences', (mode) => {
    const net = build(mode, impl);
    const g = new Generator(8);
    const x = randn([2, 3, 2], { ...f64, generator: g, requiresGrad: true });
    const h0 = randn([4, 2, net.outputHiddenSize], { ...f64, generator: g, requiresGrad: true });
    const c0 = randn([4, 2, net.hiddenSize], { ...f64, generator: g, requiresGrad: true });
    const params = net.parameters();
    const fn = (xi: Tensor, hi: Tensor, ci: Tensor): Tensor[] => {
      const r = (net as LSTM).forward(xi, (mode === 'LSTM' ? { h: hi, c: ci } : { h: hi }) as { h: Tensor; c: Tensor }, { lengths: [3, 2] });
      return r.state.c ? [r.output, r.state.h, r.state.c] : [r.output, r.state.h];
    };
    const inputs = mode === 'LSTM' ? [x, h0, c0, ...params] : [x, h0, ...params];
    const wrapped = mode === 'LSTM' ? (xi: Tensor, hi: Tensor, ci: Tensor) => fn(xi, hi, ci) : (xi: Tensor, hi: Tensor) => fn(xi, hi, c0);
    expect(gradcheck(wrapped as never, inputs, { names: ['x', 'h0', ...(mode === 'LSTM' ? ['c0'] : []), ...net.namedParameters().map(([n]) => n)] })).toBe(true);
  });
});

test('composed LSTM and LayerNormLSTMCell: second-order gradients match finite differences', () => {
  const lstm = new LSTM(2, 2, { ...f64, impl: 'composed', generator: new Generator(3) });
  const x = randn([1, 2, 2], { ...f64, generator: new Generator(4), requiresGrad: true });
  expect(gradgradcheck((xi: Tensor) => lstm.forward(xi).output, [x])).toBe(true);
  const rec = new Recurrent(new LayerNormLSTMCell(2, 2, { ...f64, generator: new Generator(5) }));
  expect(gradgradcheck((xi: Tensor) => rec.forward(xi).output, [x])).toBe(true);
});
