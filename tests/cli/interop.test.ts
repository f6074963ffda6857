import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor, noGrad } from '@seqgrad/autograd';
import { LSTM } from '@seqgrad/layers';
import { describe, expect, test } from 'vitest';
import { loadCheckpoint } from '../../packages/cli/src/checkpoint.js';
import { decodeSafetensors, encodeSafetensors } from '../../packages/cli/src/safetensors.js';
import { Trainer, type TrainConfig } from '../../packages/cli/src/trainer.js';
import { buildCli, root, seqgrad, tmp } from './helpers.js';

const fixtures = join(root, 'tests/cli/fixtures');
const PYTHON = '/usr/bin/python3';

function expectClose(actual: ArrayLike<number>, expected: number[], tol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i]! - expected[i]!), `element ${i}: ${actual[i]} vs ${expected[i]}`).toBeLessThanOrEqual(tol * (1 + Math.abs(expected[i]!)));
  }
}

describe('safetensors', () => {
  test('safetensors: encode then decode round-trips tensors and metadata exactly', () => {
    const f32 = Float32Array.from([1.5, -2.25, Math.PI, 1e-30]);
    const f64 = Float64Array.from([Math.E, -0, 1e300]);
    const i32 = Int32Array.from([-7, 0, 2147483647]);
    const bytes = encodeSafetensors(
      { b: { dtype: 'F64', shape: [3], data: f64 }, a: { dtype: 'F32', shape: [2, 2], data: f32 }, c: { dtype: 'I32', shape: [3, 1], data: i32 } },
      { note: 'héllo' },
    );
    // The published layout: u64 LE header length, then JSON padded to 8 bytes.
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header.a).toEqual({ dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] });
    expect(header.__metadata__).toEqual({ note: 'héllo' });
    const back = decodeSafetensors(bytes);
    expect(back.metadata).toEqual({ note: 'héllo' });
    expect(back.tensors.get('a')!.data).toEqual(f32);
    expect(back.tensors.get('b')!.data).toEqual(f64);
    expect(back.tensors.get('c')!.data).toEqual(i32);
    expect(back.tensors.get('c')!.shape).toEqual([3, 1]);
  });

  test('safetensors: holes, overlaps, short files and bad headers are refused with the reason', () => {
    const good = encodeSafetensors({ a: { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) } });
    expect(() => decodeSafetensors(good.subarray(0, 5), 'x')).toThrow(/shorter than the 8-byte header length/);
    expect(() => decodeSafetensors(good.subarray(0, good.length - 1), 'x')).toThrow(/runs past the end/);
    const extra = new Uint8Array(good.length + 4);
    extra.set(good);
    expect(() => decodeSafetensors(extra, 'x')).toThrow(/4 trailing bytes/);
    const bad = good.slice();
    bad[8] = 0x7b + 1; // corrupt the JSON's opening brace
    expect(() => decodeSafetensors(bad, 'x')).toThrow(/not UTF-8 JSON|not a JSON object/);
  });
});

describe('PyTorch interop', () => {
  test('interop: a torch.nn.LSTM written by make_safetensors.py loads into a seqgrad LSTM with the same outputs', () => {
    const file = decodeSafetensors(readFileSync(join(fixtures, 'torch_lstm.safetensors')), 'torch_lstm.safetensors');
    expect(file.metadata.source).toBe('torch.nn.LSTM');
    const ref = JSON.parse(readFileSync(join(fixtures, 'torch_lstm_outputs.json'), 'utf8'));
    const { input_size: I, hidden_size: H, num_layers: L } = ref.config;
    const lstm = new LSTM(I, H, { numLayers: L, batchFirst: true });
    const sd: Record<string, Tensor> = {};
    for (const [name, t] of file.tensors) sd[name] = new Tensor(t.data, t.shape);
    lstm.loadStateDict(sd);
    const x = new Tensor(Float32Array.from(ref.x.flat(2)), [ref.x.length, ref.x[0].length, I]);
    const r = noGrad(() => lstm.forward(x));
    expectClose(r.output.data, ref.output.flat(2));
    expectClose(r.h.data, ref.h.flat(2));
    expectClose(r.c.data, ref.c.flat(2));
  });

  const hasTorch = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0;
  test.skipIf(!hasTorch)('interop: make_safetensors.py read loads a seqgrad checkpoint into torch with the same outputs', async () => {
    buildCli();
    const out = join(tmp(), 'lm.safetensors');
    const r = await seqgrad(['train', '--task', 'charlm', '--cell', 'lstm', '--hidden', '8', '--layers', '2', '--batch', '4', '--seq-len', '8', '--steps', '5', '--progress', 'none', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const py = spawnSync(PYTHON, [join(fixtures, 'make_safetensors.py'), 'read', out, '--prompt', 'the keeper'], { encoding: 'utf8' });
    expect(py.status, py.stderr).toBe(0);
    const torchOut = JSON.parse(py.stdout);

    const ckpt = loadCheckpoint(out);
    const config = ckpt.config as unknown as TrainConfig;
    const trainer = await Trainer.create(config);
    trainer.restore(ckpt, out);
    const ids = Array.from('the keeper', (ch) => config.vocab!.indexOf(ch));
    const logits = noGrad(() => trainer.model.run(new Tensor(Int32Array.from(ids), [1, ids.length])).output);
    const V = config.vocab!.length;
    expectClose(logits.data.subarray((ids.length - 1) * V, ids.length * V), torchOut.last);
  }, 60_000);
});

