import { readFileSync } from 'node:fs';
import { Tensor, crossEntropy, gradcheck, manualSeed, narrow, reshape } from '@seqgrad/autograd';
import { Adam } from '@seqgrad/optim';
import { importOnnx } from '@seqgrad/io';
import { describe, expect, test } from 'vitest';
import { runOrt, toOrt } from './ort.js';

const dir = new URL('../fixtures/onnx/', import.meta.url);

interface Recorded {
  dtype: string;
  shape: number[];
  data: number[];
}
interface Fixture {
  inputs: Record<string, Recorded>;
  outputs: Record<string, Recorded>;
}

function load(name: string): { bytes: Uint8Array; fixture: Fixture } {
  return {
    bytes: new Uint8Array(readFileSync(new URL(`${name}.onnx`, dir))),
    fixture: JSON.parse(readFileSync(new URL(`${name}.json`, dir), 'utf8')) as Fixture,
  };
}

function toTensor(r: Recorded): Tensor {
  return r.dtype.startsWith('int') ? new Tensor(Int32Array.from(r.data), r.shape) : new Tensor(Float32Array.from(r.data), r.shape);
}

const FIXTURES = ['emb_lstm', 'gru_state', 'rnn_relu', 'lstm_states', 'gru_bi_tokens', 'mlp', 'activations_opset14', 'activations_opset17', 'gru_nobias_opset17', 'emb_lstm_opset9', 'rnn_relu_opset9', 'activations_opset11'];

describe('importOnnx: PyTorch exports', () => {
  for (const name of FIXTURES) {
    test(`importOnnx: ${name} agrees with PyTorch and ONNX Runtime to 1e-5 at other batch and sequence sizes than the export's`, async () => {
      const { bytes, fixture } = load(name);
      const { run, inputs } = importOnnx(bytes);
      const feeds = Object.fromEntries(Object.entries(fixture.inputs).map(([k, v]) => [k, toTensor(v)]));
      const ours = run(feeds);
      const int64 = new Set(inputs.filter((v) => v.elemType === 'INT64').map((v) => v.name));
      const ortOut = await runOrt(bytes, Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, toOrt(v, int64.has(k))])));
      expect(Object.keys(ours).sort()).toEqual(Object.keys(fixture.outputs).sort());
      for (const [k, rec] of Object.entries(fixture.outputs)) {
        expect(ours[k]!, `${k} vs PyTorch`).toBeAllclose(toTensor(rec), { atol: 1e-5, rtol: 0 });
        expect(ours[k]!, `${k} vs ONNX Runtime`).toBeAllclose(ortOut[k]!, { atol: 1e-5, rtol: 0 });
      }
    });
  }
});

describe('importOnnx: fine-tuning', () => {
  test('importOnnx: a PyTorch LSTM model keeps its weights as trainable parameters and its loss falls under Adam', () => {
    manualSeed(11);
    const { bytes, fixture } = load('emb_lstm');
    const { module, run } = importOnnx(bytes);
    const names = module.namedParameters().map(([n]) => n);
    expect(names).toContain('embedding.weight');
    expect(names).toContain('head.bias');
    expect(names.filter((n) => n.endsWith('weight_ih_l0_reverse'))).toHaveLength(2); // two LSTM nodes, bidirectional
    const tokens = toTensor(fixture.inputs.tokens!);
    const [B, T] = tokens.shape as [number, number];
    const target = new Tensor(Int32Array.from({ length: B * T }, (_, i) => (i * 7) % 4), [B * T]);
    const loss = () => crossEntropy(reshape(run({ tokens }).log_probs!, [B * T, 4]), target);
    const opt = new Adam(module.parameters(), { lr: 0.05 });
    const first = loss().item();
    for (let step = 0; step < 10; step++) {
      opt.zeroGrad();
      const l = loss();
      l.backward();
      opt.step();
    }
    const last = loss().item();
    expect(last).toBeLessThan(0.7 * first);
  });
});

describe('importOnnx: float64', () => {
  test('importOnnx: with dtype float64 the gradients of the imported weights pass gradcheck', () => {
    const { bytes, fixture } = load('gru_state');
    const { module, run } = importOnnx(bytes, { dtype: 'float64' });
    const x = toTensor(fixture.inputs.x!).to('float64');
    const h0 = toTensor(fixture.inputs.h0!).to('float64');
    const out = run({ x, h0 });
    expect(out.y!).toBeAllclose(toTensor(fixture.outputs.y!), { atol: 1e-5, rtol: 0 });
    const params = module.parameters();
    expect(params.every((p) => p.dtype === 'float64' && p.requiresGrad)).toBe(true);
    const xs = narrow(x, 0, 0, 3);
    expect(gradcheck(() => run({ x: xs, h0 }).y!, params)).toBe(true);
  });

  test('importOnnx: the activations PyTorch writes out op by op (GELU through Erf, ELU, SELU, Softplus, Softsign, LayerNorm) pass gradcheck', () => {
    for (const name of ['activations_opset14', 'activations_opset17']) {
      const { bytes, fixture } = load(name);
      const { module, run } = importOnnx(bytes, { dtype: 'float64' });
      const x = toTensor(fixture.inputs.x!).to('float64');
      expect(run({ x }).log_probs!).toBeAllclose(toTensor(fixture.outputs.log_probs!), { atol: 1e-5, rtol: 0 });
      const x1 = narrow(x, 0, 0, 1);
      x1.requiresGrad = true;
      expect(gradcheck((xi) => run({ x: xi }).log_probs!, [x1])).toBe(true);
      expect(gradcheck(() => run({ x: x1.detach() }).log_probs!, module.parameters().slice(0, 4))).toBe(true);
    }
  });
});
