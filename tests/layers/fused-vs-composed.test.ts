import fc from 'fast-check';
import { Generator, type Tensor, add, grad, mul, randn, sum } from '@seqgrad/autograd';
import { GRU, LSTM, RNN, type RNNBase } from '@seqgrad/layers';
import { expect, test } from 'vitest';
import { maxAbs } from '../setup/allclose.js';

/**
 * The fused path (hand-derived BPTT as one autograd function per layer and direction) and
 * the composed path (cells op by op, gradients from the engine) agree in float64 to 1e-9
 * on random configurations: outputs, final states (and every step's cell state with
 * returnAllStates), and the gradients of every parameter, the input and the initial states. In float32, where the fused gate loops use
 * tanhF32/sigmoidF32 and round every stored intermediate, they agree to float32 precision.
 */
const config = fc.record({
  mode: fc.constantFrom('RNN_TANH', 'RNN_RELU', 'LSTM', 'GRU'),
  numLayers: fc.integer({ min: 1, max: 2 }),
  bidirectional: fc.boolean(),
  bias: fc.boolean(),
  batchFirst: fc.boolean(),
  resetAfter: fc.boolean(),
  withProj: fc.boolean(),
  withState: fc.boolean(),
  withLengths: fc.boolean(),
  returnAllStates: fc.boolean(),
  dropout: fc.constantFrom(0, 0.3),
  B: fc.integer({ min: 1, max: 3 }),
  T: fc.integer({ min: 1, max: 5 }),
  I: fc.integer({ min: 1, max: 4 }),
  H: fc.integer({ min: 2, max: 4 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

type Config = typeof config extends fc.Arbitrary<infer C> ? C : never;

type FloatDType = 'float32' | 'float64';

function build(c: Config, impl: 'fused' | 'composed', dtype: FloatDType): RNNBase {
  const opts = {
    numLayers: c.numLayers, bidirectional: c.bidirectional, bias: c.bias, batchFirst: c.batchFirst, dropout: c.dropout,
    dtype, impl, generator: new Generator(c.seed),
  };
  if (c.mode === 'LSTM') return new LSTM(c.I, c.H, { ...opts, projSize: c.withProj ? 1 + (c.seed % (c.H - 1)) : 0 });
  if (c.mode === 'GRU') return new GRU(c.I, c.H, { ...opts, resetAfter: c.resetAfter });
  return new RNN(c.I, c.H, { ...opts, nonlinearity: c.mode === 'RNN_RELU' ? 'relu' : 'tanh' });
}

function run(c: Config, impl: 'fused' | 'composed', dtype: FloatDType = 'float64') {
  const net = build(c, impl, dtype);
  const g = new Generator(c.seed + 1);
  const r = (shape: number[], requiresGrad = false) => randn(shape, { dtype, generator: g, requiresGrad });
  const D = c.bidirectional ? 2 : 1;
  const S = net.outputHiddenSize;
  const x = r(c.batchFirst ? [c.B, c.T, c.I] : [c.T, c.B, c.I], true);
  const h0 = c.withState ? r([c.numLayers * D, c.B, S], true) : null;
  const c0 = c.withState && c.mode === 'LSTM' ? r([c.numLayers * D, c.B, c.H], true) : null;
  const lengths = c.withLengths ? Array.from({ length: c.B }, () => 1 + Math.floor(g.uniform() * c.T)) : undefined;
  const res = (net as LSTM).forward(x, h0 ? ({ h: h0, c: c0 } as { h: Tensor; c: Tensor }) : undefined, { lengths, returnAllStates: c.returnAllStates });
  let loss = add(sum(mul(res.output, r(res.output.shape as number[]))), sum(mul(res.state.h, r(res.state.h.shape as number[]))));
  if (res.state.c) loss = add(loss, sum(mul(res.state.c, r(res.state.c.shape as number[]))));
  const cells = res.sequences?.c;
  if (cells) loss = add(loss, sum(mul(cells, r(cells.shape as number[]))));
  const inputs = [...net.parameters(), x, ...(h0 ? [h0] : []), ...(c0 ? [c0] : [])];
  const names = [...net.namedParameters().map(([n]) => n), 'x', 'h0', 'c0'];
  const grads = grad(loss, inputs);
  return { res, grads, names };
}

test('fused vs composed: outputs, states and every gradient agree in float64 to 1e-9', () => {
  fc.assert(
    fc.property(config, (c) => {
      const a = run(c, 'fused');
      const b = run(c, 'composed');
      expect(a.res.output.data, 'output').toBeAllclose(b.res.output.data, { rtol: 0, atol: 1e-9 * maxAbs(b.res.output.data) });
      expect(a.res.state.h.data, 'h').toBeAllclose(b.res.state.h.data, { rtol: 0, atol: 1e-9 * maxAbs(b.res.state.h.data) });
      if (b.res.state.c) expect(a.res.state.c!.data, 'c').toBeAllclose(b.res.state.c.data, { rtol: 0, atol: 1e-9 * maxAbs(b.res.state.c.data) });
      expect(Boolean(a.res.sequences?.c), 'sequences.c present').toBe(Boolean(b.res.sequences?.c));
      if (b.res.sequences?.c) expect(a.res.sequences!.c!.data, 'sequences.c').toBeAllclose(b.res.sequences.c.data, { rtol: 0, atol: 1e-9 * maxAbs(b.res.sequences.c.data) });
      a.grads.forEach((ga, i) => {
        expect(ga!.data, `d${a.names[i]}`).toBeAllclose(b.grads[i]!.data, { rtol: 0, atol: 1e-9 * maxAbs(b.grads[i]!.data) });
      });
    }),
  );
});

test('fused vs composed in float32: outputs, states and every gradient agree to 1e-5 of their scale', () => {
  fc.assert(
    fc.property(config, (c) => {
      const a = run(c, 'fused', 'float32');
      const b = run(c, 'composed', 'float32');
      expect(a.res.output.dtype).toBe('float32');
      expect(a.res.output.data, 'output').toBeAllclose(b.res.output.data, { rtol: 0, atol: 1e-5 * maxAbs(b.res.output.data) });
      expect(a.res.state.h.data, 'h').toBeAllclose(b.res.state.h.data, { rtol: 0, atol: 1e-5 * maxAbs(b.res.state.h.data) });
      if (b.res.state.c) expect(a.res.state.c!.data, 'c').toBeAllclose(b.res.state.c.data, { rtol: 0, atol: 1e-5 * maxAbs(b.res.state.c.data) });
      if (b.res.sequences?.c) expect(a.res.sequences!.c!.data, 'sequences.c').toBeAllclose(b.res.sequences.c.data, { rtol: 0, atol: 1e-5 * maxAbs(b.res.sequences.c.data) });
      a.grads.forEach((ga, i) => {
        expect(ga!.data, `d${a.names[i]}`).toBeAllclose(b.grads[i]!.data, { rtol: 0, atol: 1e-5 * maxAbs(b.grads[i]!.data) });
      });
    }),
  );
});
