import { describe, expect, test } from 'vitest';
import {
  Generator, type Tensor, add, chunk, div, sigmoid, expand, explainScan, grad, linear, mean, mul, permute, randn, reshape, scan, sqrt, sub, sum, tanh, tensor,
  variance,
} from '@seqgrad/autograd';
import { type GrammarSpec, grammarParams, grammarShapes, grammarStep } from '../setup/cellGrammar.js';

/**
 * The fusions of the compiled plan, each against the same step op by op (compile: false) in
 * float64 to 1e-12, outputs and gradients of x, the initial state and every parameter, with
 * lengths and reverse: layer norms over the last axis in each form the cell grammar writes
 * (with a gain, without one and with the unbiased variance, with the normalised value read
 * twice), in the recurrent part and hoisted out of it; and the cases the plan must not fuse.
 */

type S = { h: Tensor; c?: Tensor } & Record<string, Tensor>;
const B = 3;
const T = 5;
const I = 3;
const H = 4;

function compare(step: (x: Tensor, s: S) => S, params: Tensor[], seed: number, opts: { reverse: boolean; lengths: number[] | null }) {
  const results = [true, false].map((compile) => {
    const gen = new Generator(seed);
    const x = randn([B, T, I], { dtype: 'float64', generator: gen, requiresGrad: true });
    const h0 = randn([B, H], { dtype: 'float64', generator: gen, requiresGrad: true });
    const r = scan(step, x, { h: h0 } as S, { ...opts, compile });
    const w = randn([B, T, H], { dtype: 'float64', generator: gen });
    const loss = add(sum(mul(r.output, w)), sum(mul(r.state.h, r.state.h)));
    return [r.output, r.state.h, ...grad(loss, [x, h0, ...params], { allowUnused: true })];
  });
  const [compiled, eager] = results as [(Tensor | null)[], (Tensor | null)[]];
  compiled.forEach((t, i) => {
    const e = eager[i] ?? null;
    // A parameter the step does not read has no gradient either way.
    expect(t === null, `result ${i}`).toBe(e === null);
    if (t === null || e === null) return;
    const diff = Math.max(0, ...Array.from(t!.data, (v, j) => Math.abs(v - e.data[j]!) / Math.max(1, Math.abs(e.data[j]!))));
    expect(diff, `result ${i}`).toBeLessThan(1e-12);
  });
}

/** As compare, for a step with state h and c: outputs, final h and c, and the gradients of x, h0, c0 and every parameter. */
function compareLSTM(step: (x: Tensor, s: S) => S, params: Tensor[], seed: number, opts: { reverse: boolean; lengths: number[] | null }) {
  const results = [true, false].map((compile) => {
    const gen = new Generator(seed);
    const x = randn([B, T, I], { dtype: 'float64', generator: gen, requiresGrad: true });
    const h0 = randn([B, H], { dtype: 'float64', generator: gen, requiresGrad: true });
    const c0 = randn([B, H], { dtype: 'float64', generator: gen, requiresGrad: true });
    const r = scan(step, x, { h: h0, c: c0 } as S, { ...opts, compile });
    const w = randn([B, T, H], { dtype: 'float64', generator: gen });
    const loss = add(add(sum(mul(r.output, w)), sum(mul(r.state.h, r.state.h))), sum(mul(r.state.c!, r.state.c!)));
    return [r.output, r.state.h, r.state.c!, ...grad(loss, [x, h0, c0, ...params])];
  });
  const [compiled, eager] = results as [Tensor[], Tensor[]];
  expect(compiled.length).toBe(eager.length);
  compiled.forEach((t, i) => {
    const e = eager[i]!;
    const diff = Math.max(0, ...Array.from(t.data, (v, j) => Math.abs(v - e.data[j]!) / Math.max(1, Math.abs(e.data[j]!))));
    expect(diff, `result ${i}`).toBeLessThan(1e-12);
  });
}

function grammarCell(gates: GrammarSpec['gates'], seed: number) {
  const spec: GrammarSpec = { withC: false, gates, split: true, exprH: { bin: 0, a: { leaf: 0 }, b: { leaf: gates.length } }, exprC: { leaf: 0 }, mix: false };
  const gen = new Generator(seed);
  const params = grammarShapes(spec, I, H).map(([, shape]) => randn(shape, { dtype: 'float64', generator: gen, requiresGrad: true, std: 0.6 }));
  const grouped = grammarParams(spec, params);
  return { step: (x: Tensor, s: S) => grammarStep(spec, grouped, x, s) as S, params };
}

const settings = [
  { reverse: false, lengths: null },
  { reverse: true, lengths: [5, 2, 4] },
];

describe('compiled plan fusion', () => {
  for (const lnForm of [0, 1, 2]) {
    for (const opts of settings) {
      test(`scan: layer norms of form ${lnForm} (recurrent and hoisted) run fused and equal op by op to 1e-12 (${JSON.stringify(opts)})`, () => {
        const gates = [
          { act: 1, useH: true, ln: true, lnForm },
          { act: 0, useH: false, ln: true, lnForm },
        ];
        const { step, params } = grammarCell(gates, 10 + lnForm);
        const e = explainScan(step, randn([B, T, I], { dtype: 'float64' }), { h: randn([B, H], { dtype: 'float64' }) } as S);
        expect(e.plan?.fusedLayerNorms).toBe(2);
        expect(e.text).toMatch(/2 layer norms fused into one kernel each/);
        compare(step, params, 20 + lnForm, opts);
      });
    }
  }

  test('scan: a layer norm with a gain and a shift fuses both; one whose variance is centred on another mean is left op by op', () => {
    const gen = new Generator(3);
    const w = randn([H, H], { dtype: 'float64', generator: gen, requiresGrad: true });
    const u = randn([H, I], { dtype: 'float64', generator: gen, requiresGrad: true });
    const gain = randn([H], { dtype: 'float64', generator: gen, requiresGrad: true });
    const shift = randn([H], { dtype: 'float64', generator: gen, requiresGrad: true });
    const norm = (v: Tensor) => div(sub(v, mean(v, -1, true)), sqrt(add(variance(v, -1, { keepdim: true, correction: 0 }), 1e-5)));
    const affine = (x: Tensor, s: S): S => ({ h: tanh(add(mul(norm(add(linear(s.h, w), linear(x, u))), gain), shift)) });
    const fused = explainScan(affine, randn([B, T, I], { dtype: 'float64' }), { h: randn([B, H], { dtype: 'float64' }) } as S);
    expect(fused.plan?.fusedLayerNorms).toBe(1);
    for (const opts of settings) compare(affine, [w, u, gain, shift], 4, opts);

    // (v − mean(v)) / √(mean((v − mean(2v)/2 … )²)): the variance's centring reads another value.
    const other = (x: Tensor, s: S): S => {
      const v = add(linear(s.h, w), linear(x, u));
      const v2 = mul(v, 1);
      const c = sub(v, mean(v, -1, true));
      const c2 = sub(v, mean(v2, -1, true));
      return { h: tanh(div(c, sqrt(add(div(sum(mul(c2, c2), -1, true), H), 1e-5)))) };
    };
    const plain = explainScan(other, randn([B, T, I], { dtype: 'float64' }), { h: randn([B, H], { dtype: 'float64' }) } as S);
    expect(plain.compiled).toBe(true);
    expect(plain.plan?.fusedLayerNorms).toBe(0);
    for (const opts of settings) compare(other, [w, u], 5, opts);
  });

  test('scan: a layer norm whose epsilon needs a gradient runs unfused and still gives the op-by-op gradient of epsilon', () => {
    const gen = new Generator(6);
    const w = randn([H, H], { dtype: 'float64', generator: gen, requiresGrad: true });
    const u = randn([H, I], { dtype: 'float64', generator: gen, requiresGrad: true });
    const eps = tensor(0.3, { dtype: 'float64', requiresGrad: true });
    const step = (x: Tensor, s: S): S => {
      const v = add(linear(s.h, w), linear(x, u));
      return { h: tanh(div(sub(v, mean(v, -1, true)), sqrt(add(variance(v, -1, { keepdim: true, correction: 0 }), eps)))) };
    };
    const e = explainScan(step, randn([B, T, I], { dtype: 'float64' }), { h: randn([B, H], { dtype: 'float64' }) } as S);
    expect(e.compiled).toBe(true);
    expect(e.plan?.fusedLayerNorms).toBe(0);
    for (const opts of settings) compare(step, [w, u, eps], 7, opts);
  });

  test('scan: the LSTM step fuses each gate activation with its slice of the pre-activations and equals op by op to 1e-12', () => {
    const gen = new Generator(11);
    const w = randn([4 * H, H], { dtype: 'float64', generator: gen, requiresGrad: true });
    const u = randn([4 * H, I], { dtype: 'float64', generator: gen, requiresGrad: true });
    const bias = randn([4 * H], { dtype: 'float64', generator: gen, requiresGrad: true });
    const step = (x: Tensor, s: S): S => {
      const [ai, af, ag, ao] = chunk(add(linear(x, u, bias), linear(s.h, w)), 4, -1) as [Tensor, Tensor, Tensor, Tensor];
      const c = add(mul(sigmoid(af), s.c!), mul(sigmoid(ai), tanh(ag)));
      return { h: mul(sigmoid(ao), tanh(c)), c };
    };
    const init = () => ({ h: randn([B, H], { dtype: 'float64' }), c: randn([B, H], { dtype: 'float64' }) }) as S;
    const e = explainScan(step, randn([B, T, I], { dtype: 'float64' }), init());
    expect(e.compiled, e.reason ?? '').toBe(true);
    // the four gate activations, and c' = f c + i g
    expect(e.plan?.fusedChains).toBe(5);
    for (const opts of settings) compareLSTM(step, [w, u, bias], 12, opts);
  });

  test('scan: a sum of two products whose factors repeat (v·v + v·h) runs fused and equals op by op to 1e-12', () => {
    const gen = new Generator(15);
    const w = randn([H, H], { dtype: 'float64', generator: gen, requiresGrad: true });
    const u = randn([H, I], { dtype: 'float64', generator: gen, requiresGrad: true });
    const step = (x: Tensor, s: S): S => {
      const v = tanh(add(linear(x, u), linear(s.h, w)));
      return { h: tanh(add(mul(v, v), mul(v, s.h))) };
    };
    const e = explainScan(step, randn([B, T, I], { dtype: 'float64' }), { h: randn([B, H], { dtype: 'float64' }) } as S);
    expect(e.compiled, e.reason ?? '').toBe(true);
    expect(e.plan?.fusedChains).toBe(1);
    for (const opts of settings) compare(step, [w, u], 16, opts);
  });

  test('scan: a slice read by two nodes, or by a non-activation, is not fused and still equals op by op to 1e-12', () => {
    const gen = new Generator(13);
    const w = randn([2 * H, H], { dtype: 'float64', generator: gen, requiresGrad: true });
    const u = randn([2 * H, I], { dtype: 'float64', generator: gen, requiresGrad: true });
    const step = (x: Tensor, s: S): S => {
      const [a, b] = chunk(add(linear(x, u), linear(s.h, w)), 2, -1) as [Tensor, Tensor];
      // a feeds a sigmoid and a product, b only a product: neither may fuse
      return { h: tanh(add(mul(sigmoid(a), a), mul(b, 0.5))) };
    };
    const e = explainScan(step, randn([B, T, I], { dtype: 'float64' }), { h: randn([B, H], { dtype: 'float64' }) } as S);
    expect(e.compiled, e.reason ?? '').toBe(true);
    expect(e.plan?.fusedChains).toBe(0);
    for (const opts of settings) compare(step, [w, u], 14, opts);
  });

  test('scan: index-mapped primitives (permute, expand, a sum over a leading axis, broadcasting both ways) equal op by op to 1e-12', () => {
    const gen = new Generator(8);
    const w = randn([H, H], { dtype: 'float64', generator: gen, requiresGrad: true });
    const u = randn([H, I], { dtype: 'float64', generator: gen, requiresGrad: true });
    const col = randn([H, 1], { dtype: 'float64', generator: gen, requiresGrad: true });
    const step = (x: Tensor, s: S): S => {
      const v = tanh(add(linear(s.h, w), linear(x, u))); // (B, H)
      const p = permute(reshape(v, [B, 2, H / 2]), [2, 0, 1]); // (H/2, B, 2)
      const back = reshape(permute(p, [1, 2, 0]), [B, H]);
      const lead = expand(sum(v, 0, true), [B, H]); // (1, H) summed over the batch, then repeated
      const both = mul(add(mul(back, 0.5), lead), reshape(expand(col, [H, B]), [B, H]));
      return { h: tanh(add(both, s.h)) };
    };
    const e = explainScan(step, randn([B, T, I], { dtype: 'float64' }), { h: randn([B, H], { dtype: 'float64' }) } as S);
    expect(e.compiled, e.reason ?? '').toBe(true);
    for (const opts of settings) compare(step, [w, u, col], 9, opts);
  });
});
