import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { loadSafetensors } from '@seqgrad/io';
import { type TrainConfig, Trainer, loadCheckpointTensors, main, readCheckpointHeader, saveCheckpoint, specOf, validateConfig } from 'seqgrad';
import { buildCli, seqgrad, tmp } from './helpers.js';

/**
 * `seqgrad train --input-dropout / --recurrent-dropout / --zoneout`: the CLI trains with the
 * masks (built-in and custom cells), seeded, recorded in the checkpoint so that --resume draws
 * the same masks and `sample` rebuilds the same model in evaluation mode.
 */

beforeAll(() => buildCli(), 300_000);
afterEach(() => vi.restoreAllMocks());

/** Runs `seqgrad <args>` in this process through `main`, returning its status and stdout. */
async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

const heldOut = (stdout: string) => Number(/held-out loss ([\d.]+)/.exec(stdout)![1]);
const tiny = ['--task', 'echo', '--cell', 'lstm', '--hidden', '12', '--batch', '8', '--seq-len', '8', '--delay', '2', '--progress', 'none'];

describe('seqgrad train with recurrent dropout', () => {
  test('train: --recurrent-dropout 0.25 trains (the held-out loss falls), is seeded, and differs from the run without it', async () => {
    const dir = tmp();
    const ck = (name: string) => join(dir, `${name}.safetensors`);
    const one = await run(['train', ...tiny, '--recurrent-dropout', '0.25', '--steps', '1', '--out', ck('one')]);
    expect(one.code, one.stderr).toBe(0);
    const a = await run(['train', ...tiny, '--recurrent-dropout', '0.25', '--steps', '150', '--lr', '0.02', '--out', ck('a')]);
    const b = await run(['train', ...tiny, '--recurrent-dropout', '0.25', '--steps', '150', '--lr', '0.02', '--out', ck('b')]);
    const plain = await run(['train', ...tiny, '--steps', '150', '--lr', '0.02', '--out', ck('plain')]);
    for (const r of [a, b, plain]) expect(r.code, r.stderr).toBe(0);
    expect(a.stderr).toMatch(/lstm hidden 12×1, recurrent dropout 0.25, /);
    expect(heldOut(a.stdout)).toBeLessThan(0.8 * heldOut(one.stdout));
    // Seeded: two runs write the same bytes.
    expect(Buffer.compare(readFileSync(ck('a')), readFileSync(ck('b')))).toBe(0);
    expect(a.stdout.split('\n')[0]).toBe(b.stdout.split('\n')[0]);
    // The masks change training: other weights than the run without dropout.
    const wa = loadSafetensors(readFileSync(ck('a'))).tensors.get('rnn.weight_hh_l0')!.data;
    const wp = loadSafetensors(readFileSync(ck('plain'))).tensors.get('rnn.weight_hh_l0')!.data;
    let diff = 0;
    for (let i = 0; i < wa.length; i++) diff = Math.max(diff, Math.abs(wa[i]! - wp[i]!));
    expect(diff).toBeGreaterThan(1e-3);
    // The checkpoint records the rate (and the mask generator); a run without dropout records neither.
    const md = loadSafetensors(readFileSync(ck('a'))).metadata;
    expect(JSON.parse(md.config!).recurrentDropout).toBe(0.25);
    expect(md.maskRng).toBeDefined();
    const mdPlain = loadSafetensors(readFileSync(ck('plain'))).metadata;
    expect(JSON.parse(mdPlain.config!)).not.toHaveProperty('recurrentDropout');
    expect(mdPlain.maskRng).toBeUndefined();
  }, 120_000);

  test('train: a run with dropout and zoneout resumed from a checkpoint continues bit for bit (the mask generator is restored)', () => {
    const config: TrainConfig = {
      task: 'adding', cell: 'gru', hidden: 6, layers: 2, bidirectional: false, steps: 20, batch: 4, lr: 0.01, clip: 1, seed: 3,
      seqLen: 6, delay: 5, symbols: 8, embed: 16, text: '', inputDropout: 0.2, recurrentDropout: 0.3, zoneout: 0.1,
    };
    const whole = Trainer.create({ ...config });
    for (let i = 0; i < 12; i++) whole.trainStep();
    const first = Trainer.create({ ...config });
    for (let i = 0; i < 6; i++) first.trainStep();
    const path = join(tmp(), 'ck.safetensors');
    saveCheckpoint(path, first.checkpoint());
    const header = readCheckpointHeader(path);
    const resumed = Trainer.create(validateConfig(header.config, path));
    resumed.restore(loadCheckpointTensors(header, specOf(resumed.model.namedParameters())), path);
    for (let i = 0; i < 6; i++) resumed.trainStep();
    const sa = whole.model.stateDict(), sb = resumed.model.stateDict();
    for (const k of Object.keys(sa)) expect(Array.from(sb[k]!.data), k).toEqual(Array.from(sa[k]!.data));
    // Without the mask generator's state the resumed run would draw other masks: refused.
    const data = first.checkpoint();
    delete data.maskRng;
    const again = Trainer.create({ ...config });
    expect(() => again.restore(data, 'x.safetensors')).toThrow(/mask generator is missing, though the config has dropout or zoneout/);
  });

  test('train: a custom cell and a per-entry zoneout; sample rebuilds the model in evaluation mode, seeded', async () => {
    const dir = tmp();
    const out = join(dir, 'lm.safetensors');
    const args = ['--task', 'charlm', '--hidden', '8', '--batch', '4', '--seq-len', '8', '--progress', 'none', '--steps', '6'];
    const r = await run(['train', ...args, '--cell', 'lstm', '--zoneout', 'h=0.05,c=0.5', '--input-dropout', '0.1', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(loadSafetensors(readFileSync(out)).metadata.config!).zoneout).toEqual({ h: 0.05, c: 0.5 });
    const s1 = await run(['sample', '--checkpoint', out, '--length', '20']);
    const s2 = await run(['sample', '--checkpoint', out, '--length', '20']);
    expect(s1.code, s1.stderr).toBe(0);
    expect(s1.stdout).toBe(s2.stdout);
    const custom = join(dir, 'custom.safetensors');
    const c = await run(['train', ...args, '--cell', 'tests/cli/fixtures/class-cell.mjs', '--recurrent-dropout', '0.3', '--out', custom]);
    expect(c.code, c.stderr).toBe(0);
    expect(JSON.parse(loadSafetensors(readFileSync(custom)).metadata.config!).recurrentDropout).toBe(0.3);
  }, 120_000);
});

describe('seqgrad experiment with dropout', () => {
  test('experiment: --recurrent-dropout and --zoneout reach every run and name themselves in the labels and the settings', async () => {
    const out = join(tmp(), 'report');
    const args = ['experiment', '--tasks', 'adding', '--cells', 'gru,lstm', '--clip', 'none', '--steps', '4', '--hidden', '6', '--batch', '4', '--seq-len', '5', '--jobs', '1', '--progress', 'none', '--out', out];
    const r = await run([...args, '--recurrent-dropout', '0.2', '--zoneout', '0.1']);
    expect(r.code, r.stderr).toBe(0);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(results.runs.map((x: { label: string }) => x.label)).toEqual([
      'gru · no clipping · recurrent dropout 0.2, zoneout 0.1', 'lstm · no clipping · recurrent dropout 0.2, zoneout 0.1',
    ]);
    expect(results.settings['dropout and zoneout (training only)']).toBe('recurrent dropout 0.2, zoneout 0.1');
    // The rates change training: the final losses differ from the runs without them.
    const plainOut = join(tmp(), 'report');
    expect((await run([...args.slice(0, -1), plainOut])).code).toBe(0);
    const plain = JSON.parse(readFileSync(join(plainOut, 'results.json'), 'utf8'));
    expect(plain.runs[0].label).toBe('gru · no clipping');
    expect(plain.runs[0].finalLoss).not.toBe(results.runs[0].finalLoss);
  }, 120_000);
});

describe('seqgrad train --resume with dropout', () => {
  test('bad input: a resumed run refuses a dropout that differs from the checkpoint', async () => {
    const out = join(tmp(), 'ck.safetensors');
    expect((await seqgrad(['train', ...tiny, '--recurrent-dropout', '0.25', '--steps', '2', '--out', out])).code).toBe(0);
    const r = await seqgrad(['train', '--resume', '--out', out, '--recurrent-dropout', '0.5']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--recurrent-dropout 0.5 differs from the checkpoint's 0.25/);
  });
});
