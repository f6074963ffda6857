import * as autograd from '@seqgrad/autograd';
import { type Tensor, gradcheck, randn } from '@seqgrad/autograd';
import * as layers from '@seqgrad/layers';
import { Bidirectional, LSTMCell, Recurrent, type RecurrentCell, checkBptt } from '@seqgrad/layers';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { buildCli } from '../cli/helpers.js';

/** The example cell modules of docs/custom-cells.md, loaded the way the CLI loads them. */
const root = fileURLToPath(new URL('../..', import.meta.url));
const lib = { autograd, layers };
type Factory = (l: typeof lib, i: number, h: number, o?: { dtype?: 'float32' | 'float64' }) => RecurrentCell;
const load = async (file: string) => (await import(pathToFileURL(join(root, 'examples/cells', file)).href)) as Record<string, unknown>;
const FILES = ['peephole-lstm.mjs', 'layernorm-lstm.mjs', 'mgu.mjs'];

describe('examples/cells: the modules behind docs/custom-cells.md', () => {
  for (const file of FILES) {
    test(`${file}: gradcheck in float64 for x, every state and every parameter`, async () => {
      const cell = ((await load(file)).default as Factory)(lib, 3, 4, { dtype: 'float64' });
      const g = new autograd.Generator(3);
      const x = randn([2, 3], { dtype: 'float64', requiresGrad: true, generator: g });
      const keys = Object.keys(cell.stateSizes);
      const states = keys.map(() => randn([2, 4], { dtype: 'float64', requiresGrad: true, generator: g }));
      const step = (xx: Tensor, ...ss: Tensor[]) => {
        const next = cell.forward(xx, Object.fromEntries(keys.map((k, i) => [k, ss[i]!])) as never) as Record<string, Tensor>;
        return keys.map((k) => next[k]!);
      };
      expect(gradcheck(step, [x, ...states])).toBe(true);
      expect(gradcheck(() => step(x, ...states), cell.parameters(), { names: cell.namedParameters().map(([n]) => n) })).toBe(true);
    });

    test(`${file}: runs under Recurrent with lengths and under Bidirectional (directions initialised apart)`, async () => {
      const cell = ((await load(file)).default as Factory)(lib, 3, 5);
      const x = randn([3, 6, 3]);
      const { output, state } = new Recurrent(cell).forward(x, undefined, { lengths: [6, 4, 1] });
      expect(output.shape).toEqual([3, 6, 5]);
      expect(state.h.shape).toEqual([3, 5]);
      for (let t = 4; t < 6; t++) for (let j = 0; j < 5; j++) expect(output.data[(1 * 6 + t) * 5 + j]).toBe(0);
      const bi = new Bidirectional(cell);
      expect(bi.forward(x).output.shape).toEqual([3, 6, 10]);
      const [fw, bw] = [bi.forwardLayer.cell.parameters()[0]!, bi.backwardLayer.cell.parameters()[0]!];
      expect(Array.from(fw.data)).not.toEqual(Array.from(bw.data));
    });
  }

  test('peephole-lstm.mjs: with zero peepholes it is exactly the library LSTMCell', async () => {
    const cell = ((await load('peephole-lstm.mjs')).default as Factory)(lib, 3, 4, { dtype: 'float64' });
    const sd = cell.stateDict();
    sd.peephole!.data.fill(0);
    cell.loadStateDict(sd);
    const ref = new LSTMCell(3, 4, { dtype: 'float64' });
    ref.loadStateDict({ weight_ih: sd.weight_ih!, weight_hh: sd.weight_hh!, bias_ih: sd.bias!, bias_hh: sd.bias!.mul(0) });
    const x = randn([2, 3], { dtype: 'float64' });
    const s = { h: randn([2, 4], { dtype: 'float64' }), c: randn([2, 4], { dtype: 'float64' }) };
    const a = cell.forward(x, s as never) as Record<string, Tensor>;
    const b = ref.forward(x, s);
    for (const k of ['h', 'c'] as const) for (let i = 0; i < 8; i++) expect(a[k]!.data[i]).toBeCloseTo(b[k].data[i]!, 14);
  });

  test('mgu.mjs: the hand-written BPTT agrees with the composed step (checkBptt)', async () => {
    const mod = await load('mgu.mjs');
    const make = mod.bpttCell as (l: typeof lib, i: number, h: number) => layers.BpttCell;
    for (const [I, H, steps, seed] of [[3, 4, 6, 0], [1, 1, 3, 1], [5, 2, 10, 2]] as const) {
      const r = checkBptt(make(lib, I, H), { steps, seed, batch: 3 });
      expect(r.first?.message ?? 'ok').toBe('ok');
    }
  });
});

describe('examples/cells: through the seqgrad command', () => {
  const bin = join(root, 'packages/cli/dist/cli.js');
  const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8' });

  // The CLI tests' builder: builds take turns under a lock, as test files run in parallel.
  beforeAll(() => buildCli());

  test('seqgrad gradcheck --cell examples/cells/mgu.mjs: gradcheck and checkBptt pass', () => {
    const r = run(['gradcheck', '--cell', 'examples/cells/mgu.mjs', '--seq-len', '3', '--hidden', '3']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/checkBptt \(autograd vs hand-derived BPTT\): ok/);
    expect(r.stdout).toMatch(/verdict: PASS/);
  });

  for (const [file, param] of [['peephole-lstm.mjs', 'rnn.cell.peephole'], ['layernorm-lstm.mjs', 'rnn.cell.ln_c.weight']] as const) {
    test(`seqgrad train --cell examples/cells/${file}: trains a few steps and checkpoints the cell's parameters`, () => {
      const out = join(mkdtempSync(join(tmpdir(), 'seqgrad-cells-')), 'cell.safetensors');
      const r = run(['train', '--task', 'adding', '--cell', `examples/cells/${file}`, '--hidden', '5', '--batch', '4', '--seq-len', '6', '--steps', '5', '--progress', 'none', '--out', out]);
      expect(r.status, r.stderr).toBe(0);
      expect(existsSync(out)).toBe(true);
      // safetensors: 8-byte little-endian header length, then a JSON header naming every tensor.
      const bytes = readFileSync(out);
      const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8')) as Record<string, unknown>;
      expect(Object.keys(header)).toContain(param);
    });
  }
});
