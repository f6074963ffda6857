import { readFileSync } from 'node:fs';
import { Tensor, manualSeed } from '@seqgrad/autograd';
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

function maxDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m;
}

const FIXTURES = ['emb_lstm', 'gru_state', 'rnn_relu', 'lstm_states', 'gru_bi_tokens', 'mlp'];

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
        expect(maxDiff(ours[k]!, toTensor(rec)), `${k} vs PyTorch`).toBeLessThan(1e-5);
        expect(maxDiff(ours[k]!, ortOut[k]!), `${k} vs ONNX Runtime`).toBeLessThan(1e-5);
      }
    });
  }
});
