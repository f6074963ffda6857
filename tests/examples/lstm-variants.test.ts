/**
 * The LSTM variants of Greff et al. (2017) in examples/cells/lstm-variants/: each one's step
 * equals its equations written out on plain numbers, each one's gradients pass gradcheck in
 * float64, and each one learns the adding problem under `Recurrent`.
 */
import * as autograd from '@seqgrad/autograd';
import { Generator, type Tensor, gradcheck, mseLoss, narrow, noGrad, randn, reshape } from '@seqgrad/autograd';
import * as layers from '@seqgrad/layers';
import { Linear, Recurrent, type RecurrentCell } from '@seqgrad/layers';
import { Adam, clipGradNorm } from '@seqgrad/optim';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';
import { addingProblem } from '../learning/tasks.js';

const dir = fileURLToPath(new URL('../../examples/cells/lstm-variants/', import.meta.url));
const lib = { autograd, layers };
type Factory = (l: typeof lib, i: number, h: number, o?: { dtype?: 'float32' | 'float64'; generator?: Generator }) => RecurrentCell;
const load = async (name: string) => ((await import(pathToFileURL(join(dir, `${name}.mjs`)).href)) as { default: Factory }).default;

const VARIANTS = ['vanilla', 'nig', 'nfg', 'nog', 'niaf', 'noaf', 'np', 'cifg', 'fgr'] as const;
type Variant = (typeof VARIANTS)[number];

// ---------------------------------------------------------------------------------------
// The equations on plain numbers, one batch row at a time, written from the paper's table
// independently of the cells (which share their scaffolding).
// ---------------------------------------------------------------------------------------

const sigma = (a: number) => 1 / (1 + Math.exp(-a));
interface Spec { gates: string; peepholes: string }
const SPECS: Record<Variant, Spec> = {
  vanilla: { gates: 'ifgo', peepholes: 'ifo' }, nig: { gates: 'fgo', peepholes: 'fo' }, nfg: { gates: 'igo', peepholes: 'io' },
  nog: { gates: 'ifg', peepholes: 'if' }, niaf: { gates: 'ifgo', peepholes: 'ifo' }, noaf: { gates: 'ifgo', peepholes: 'ifo' },
  np: { gates: 'ifgo', peepholes: '' }, cifg: { gates: 'igo', peepholes: 'io' }, fgr: { gates: 'ifgo', peepholes: 'ifo' },
};

function referenceStep(v: Variant, sd: Record<string, Tensor>, x: number[], h: number[], c: number[], gatesPrev: number[], H: number) {
  const { gates, peepholes } = SPECS[v];
  const Wih = sd.weight_ih!.data, Whh = sd.weight_hh!.data, b = sd.bias!.data;
  const I = x.length;
  const pre = (letter: string, j: number) => {
    const row = gates.indexOf(letter) * H + j;
    let s = b[row]!;
    for (let k = 0; k < I; k++) s += Wih[row * I + k]! * x[k]!;
    for (let k = 0; k < H; k++) s += Whh[row * H + k]! * h[k]!;
    if (v === 'fgr' && letter !== 'g') {
      const r = 'ifo'.indexOf(letter) * H + j;
      for (let k = 0; k < 3 * H; k++) s += sd.weight_gg!.data[r * 3 * H + k]! * gatesPrev[k]!;
    }
    return s;
  };
  const peep = (letter: string, j: number) => (peepholes.includes(letter) ? sd.peephole!.data[peepholes.indexOf(letter) * H + j]! : 0);
  const hN: number[] = [], cN: number[] = [], gN: number[] = new Array(3 * H).fill(0);
  for (let j = 0; j < H; j++) {
    const i = v === 'nig' ? 1 : sigma(pre('i', j) + peep('i', j) * c[j]!);
    const f = v === 'nfg' ? 1 : v === 'cifg' ? 1 - i : sigma(pre('f', j) + peep('f', j) * c[j]!);
    const g = v === 'niaf' ? pre('g', j) : Math.tanh(pre('g', j));
    cN[j] = f * c[j]! + i * g;
    const o = v === 'nog' ? 1 : sigma(pre('o', j) + peep('o', j) * cN[j]!);
    hN[j] = v === 'noaf' ? o * cN[j]! : o * Math.tanh(cN[j]!);
    gN[j] = i; gN[H + j] = f; gN[2 * H + j] = o;
  }
  return { h: hN, c: cN, gates: gN };
}

const rows = (t: Tensor, B: number, n: number) => Array.from({ length: B }, (_, r) => Array.from(t.data.subarray(r * n, (r + 1) * n)));

describe('examples/cells/lstm-variants: Greff et al. (2017)', () => {
  for (const v of VARIANTS) {
    test(`${v}: one step equals the variant's equations on plain numbers`, async () => {
      const [B, I, H] = [3, 4, 5];
      const cell = (await load(v))(lib, I, H, { dtype: 'float64', generator: new Generator(11) });
      const g = new Generator(12);
      const x = randn([B, I], { dtype: 'float64', generator: g });
      const state: Record<string, Tensor> = {};
      for (const [k, n] of Object.entries(cell.stateSizes)) state[k] = randn([B, n as number], { dtype: 'float64', generator: g });
      const next = cell.forward(x, state as never) as Record<string, Tensor>;
      const sd = cell.stateDict();
      const [xs, hs, cs] = [rows(x, B, I), rows(state.h!, B, H), rows(state.c!, B, H)];
      const gs = state.gates ? rows(state.gates, B, 3 * H) : xs.map(() => []);
      for (let r = 0; r < B; r++) {
        const want = referenceStep(v, sd, xs[r]!, hs[r]!, cs[r]!, gs[r]!, H);
        for (const k of Object.keys(cell.stateSizes) as ('h' | 'c' | 'gates')[]) {
          const got = rows(next[k]!, B, next[k]!.shape[1]!)[r]!;
          expect(got, `${v} ${k}[${r}]`).toBeAllclose(want[k], { atol: 1e-12, rtol: 0 });
        }
      }
    });

    test(`${v}: gradcheck in float64 for x, every state entry and every parameter`, async () => {
      const cell = (await load(v))(lib, 3, 4, { dtype: 'float64', generator: new Generator(5) });
      const g = new Generator(6);
      const keys = Object.keys(cell.stateSizes);
      const x = randn([2, 3], { dtype: 'float64', requiresGrad: true, generator: g });
      const states = keys.map((k) => randn([2, (cell.stateSizes as Record<string, number>)[k]!], { dtype: 'float64', requiresGrad: true, generator: g }));
      const step = (xx: Tensor, ...ss: Tensor[]) => {
        const next = cell.forward(xx, Object.fromEntries(keys.map((k, i) => [k, ss[i]!])) as never) as Record<string, Tensor>;
        return keys.map((k) => next[k]!);
      };
      expect(gradcheck(step, [x, ...states])).toBe(true);
      expect(gradcheck(() => step(x, ...states), cell.parameters(), { names: cell.namedParameters().map(([n]) => n) })).toBe(true);
    });
  }

  // The adding problem at T = 10: predicting the mean scores MSE ≈ 0.167. Every variant,
  // including the weak ones of the paper, gets well below that in 300 Adam steps.
  test.each(VARIANTS)('%s: learns the adding problem at T = 10 (held-out MSE < 0.05)', async (v) => {
    const [T, H, B] = [10, 12, 16];
    const cell = (await load(v))(lib, 2, H, { generator: new Generator(3) });
    const rnn = new Recurrent(cell);
    const head = new Linear(H, 1, { generator: new Generator(4) });
    const params = [...rnn.parameters(), ...head.parameters()];
    const opt = new Adam(params, { lr: 0.02 });
    const predict = (x: Tensor) => {
      const out = rnn.forward(x).output;
      return head.forward(reshape(narrow(out, 1, T - 1, 1), [x.shape[0]!, H]));
    };
    const data = new Generator(7);
    const heldOut = addingProblem(new Generator(99), 256, T);
    for (let step = 0; step < 300; step++) {
      const { x, target } = addingProblem(data, B, T);
      const loss = mseLoss(predict(x), target);
      opt.zeroGrad();
      loss.backward();
      clipGradNorm(params, 1);
      opt.step();
    }
    const mse = noGrad(() => mseLoss(predict(heldOut.x), heldOut.target).item());
    expect(mse).toBeLessThan(0.05);
  });
});
