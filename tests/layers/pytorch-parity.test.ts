import { readFileSync } from 'node:fs';
import { type FloatDType, type Tensor, mul, sum, add, tensor } from '@seqgrad/autograd';
import { GRU, LSTM, RNN, type RNNBase, type RNNState, type SequenceResult } from '@seqgrad/layers';
import { describe, expect, test } from 'vitest';
import { maxAbs } from '../setup/allclose.js';

/**
 * Parity with torch.nn.RNN / LSTM / GRU: outputs, final states and the gradients of every
 * parameter, the input and the initial states, from tests/fixtures/layers/rnn-parity.json
 * (written by tests/fixtures/layers/generate.py with PyTorch in float64).
 */
interface Arr { shape: number[]; data: number[] }
interface Case {
  name: string;
  mode: 'RNN' | 'LSTM' | 'GRU';
  options: { numLayers: number; bias: boolean; bidirectional: boolean; nonlinearity?: 'tanh' | 'relu'; projSize?: number };
  inputSize: number;
  hiddenSize: number;
  lengths: number[] | null;
  params: Record<string, Arr>;
  x: Arr; h0: Arr | null; c0: Arr | null;
  gOut: Arr; gH: Arr; gC: Arr | null;
  expected: { output: Arr; h: Arr; c: Arr | null; grads: Record<string, Arr> };
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/layers/rnn-parity.json', import.meta.url), 'utf8')) as { cases: Case[] };

const t = (a: Arr, dtype: FloatDType, requiresGrad = false): Tensor => tensor(a.data, { shape: a.shape, dtype, requiresGrad });

function runCase(c: Case, impl: 'fused' | 'composed', dtype: FloatDType, rtol: number): void {
  const opts = { ...c.options, impl, dtype };
  const net: RNNBase = c.mode === 'RNN' ? new RNN(c.inputSize, c.hiddenSize, opts) : c.mode === 'LSTM' ? new LSTM(c.inputSize, c.hiddenSize, opts) : new GRU(c.inputSize, c.hiddenSize, opts);
  net.loadStateDict(Object.fromEntries(Object.entries(c.params).map(([k, v]) => [k, t(v, dtype)])));
  const x = t(c.x, dtype, true);
  const h0 = c.h0 ? t(c.h0, dtype, true) : null;
  const c0 = c.c0 ? t(c.c0, dtype, true) : null;
  const lengths = c.lengths ?? undefined;
  let loss: Tensor;
  let res: SequenceResult<RNNState>;
  if (net instanceof LSTM) {
    res = net.forward(x, h0 ? { h: h0, c: c0! } : undefined, { lengths });
  } else {
    res = (net as RNN | GRU).forward(x, h0 ?? undefined, { lengths });
  }
  loss = add(sum(mul(res.output, t(c.gOut, dtype))), sum(mul(res.state.h, t(c.gH, dtype))));
  if (c.gC) loss = add(loss, sum(mul(res.state.c!, t(c.gC, dtype))));
  loss.backward();

  expect(res.output, `${c.name} output`).toBeAllclose(c.expected.output, { rtol: 0, atol: rtol * maxAbs(c.expected.output) });
  expect(res.state.h, `${c.name} h`).toBeAllclose(c.expected.h, { rtol: 0, atol: rtol * maxAbs(c.expected.h) });
  if (c.expected.c) expect(res.state.c, `${c.name} c`).toBeAllclose(c.expected.c, { rtol: 0, atol: rtol * maxAbs(c.expected.c) });
  const params = new Map(net.namedParameters());
  for (const [name, g] of Object.entries(c.expected.grads)) {
    const leaf = name === 'x' ? x : name === 'h0' ? h0 : name === 'c0' ? c0 : params.get(name);
    expect(leaf?.grad, `${c.name} d${name}`).toBeAllclose(g, { rtol: 0, atol: rtol * maxAbs(g) });
  }
}

describe.each(['composed', 'fused'] as const)('PyTorch parity (%s)', (impl) => {
  test.each(fixture.cases.map((c) => [c.name, c] as const))('%s: float64 matches torch to 1e-9', (_, c) => {
    runCase(c, impl, 'float64', 1e-9);
  });
  test.each(fixture.cases.map((c) => [c.name, c] as const))('%s: float32 matches torch to 1e-5', (_, c) => {
    runCase(c, impl, 'float32', 1e-5);
  });
});
