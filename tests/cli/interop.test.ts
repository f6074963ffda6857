import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor, noGrad } from '@seqgrad/autograd';
import { LSTM } from '@seqgrad/layers';
import { describe, expect, test } from 'vitest';
import { loadSafetensors } from '@seqgrad/io';
import { Trainer, loadCheckpointTensors, readCheckpointHeader, specOf, validateConfig } from 'seqgrad';
import { buildCli, root, seqgrad, tmp } from './helpers.js';

const fixtures = join(root, 'tests/cli/fixtures');
const PYTHON = '/usr/bin/python3';

/** |actual − torch| ≤ 1e-5·(1 + |torch|): float32 against PyTorch's float32. */
const TORCH_TOL = { atol: 1e-5, rtol: 1e-5 };

describe('PyTorch interop', () => {
  test('interop: a torch.nn.LSTM written by make_safetensors.py loads into a seqgrad LSTM with the same outputs', () => {
    const file = loadSafetensors(readFileSync(join(fixtures, 'torch_lstm.safetensors')), { source: 'torch_lstm.safetensors' });
    expect(file.metadata.source).toBe('torch.nn.LSTM');
    const ref = JSON.parse(readFileSync(join(fixtures, 'torch_lstm_outputs.json'), 'utf8'));
    const { input_size: I, hidden_size: H, num_layers: L } = ref.config;
    const lstm = new LSTM(I, H, { numLayers: L, batchFirst: true });
    const sd: Record<string, Tensor> = {};
    for (const [name, t] of file.tensors) sd[name] = new Tensor(t.data, t.shape);
    lstm.loadStateDict(sd);
    const x = new Tensor(Float32Array.from(ref.x.flat(2)), [ref.x.length, ref.x[0].length, I]);
    const r = noGrad(() => lstm.forward(x));
    expect(r.output.data).toBeAllclose(ref.output.flat(2), TORCH_TOL);
    expect(r.state.h.data).toBeAllclose(ref.h.flat(2), TORCH_TOL);
    expect(r.state.c.data).toBeAllclose(ref.c.flat(2), TORCH_TOL);
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

    const ck = readCheckpointHeader(out);
    const config = validateConfig(ck.config, out);
    const trainer = Trainer.create(config);
    trainer.restore(loadCheckpointTensors(ck, specOf(trainer.model.namedParameters())), out);
    const ids = Array.from('the keeper', (ch) => config.vocab!.indexOf(ch));
    const logits = noGrad(() => trainer.model.run(new Tensor(Int32Array.from(ids), [1, ids.length])).output);
    const V = config.vocab!.length;
    expect(logits.data.subarray((ids.length - 1) * V, ids.length * V)).toBeAllclose(torchOut.last, TORCH_TOL);
  }, 60_000);
});

