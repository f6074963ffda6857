import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  Generator, SeqgradError, type Tensor, add, chunk, defineFunction, dropout, explainScan, gather, grad, linear,
  mul, noGrad, randn, scan, sigmoid, softmax, sum, tanh, tensor, zeros,
} from '@seqgrad/autograd';
import { type GrammarSpec, grammarFields, grammarParams, grammarShapes, grammarStep } from '../../../tests/setup/cellGrammar.js';

/**
 * scan compiled against scan op by op (compile: false): outputs and gradients of x, the
 * initial state and every parameter agree to 1e-12 in float64, over random cells built from a
 * grammar of ops (gates from linear maps of x and h, layer norms, elementwise chains,
 * splits and concatenations), with lengths and reverse. Steps that cannot be traced fall back
 * and say why.
 */

const close = { atol: 1e-12, rtol: 1e-12 };
type S = { h: Tensor; c?: Tensor } & Record<string, Tensor>;

interface CellSpec extends GrammarSpec {
  B: number; T: number; I: number; H: number;
  reverse: boolean;
  lengths: number[] | null;
  seed: number;
}

const specArb: fc.Arbitrary<CellSpec> = fc
  .record({
    B: fc.integer({ min: 1, max: 3 }), T: fc.integer({ min: 1, max: 5 }), I: fc.integer({ min: 1, max: 3 }), H: fc.integer({ min: 1, max: 4 }),
    ...grammarFields, reverse: fc.boolean(), withLengths: fc.boolean(), seed: fc.nat(1000),
  })
  .chain((s) =>
    fc.array(fc.integer({ min: 1, max: s.T }), { minLength: s.B, maxLength: s.B }).map((l) => ({ ...s, lengths: s.withLengths ? l : null })),
  );

/** A cell interpreted from a spec: its parameters and its step. */
function buildCell(spec: CellSpec) {
  const gen = new Generator(spec.seed);
  const params = grammarShapes(spec, spec.I, spec.H).map(([, shape]) => randn(shape, { dtype: 'float64', generator: gen, requiresGrad: true, std: 0.6 }));
  const grouped = grammarParams(spec, params);
  const step = (x: Tensor, s: S): S => grammarStep(spec, grouped, x, s) as S;
  return { step, params };
}

/** Outputs and gradients (x, h0, c0, parameters) of a weighted sum of the output and the final state. */
function run(spec: CellSpec, compile: boolean) {
  const { B, T, I, H } = spec;
  const { step, params } = buildCell(spec);
  const gen = new Generator(spec.seed + 1);
  const x = randn([B, T, I], { dtype: 'float64', generator: gen, requiresGrad: true });
  const h0 = randn([B, H], { dtype: 'float64', generator: gen, requiresGrad: true });
  const c0 = randn([B, H], { dtype: 'float64', generator: gen, requiresGrad: true });
  const init: S = spec.withC ? { h: h0, c: c0 } : { h: h0 };
  const r = scan(step, x, init, { reverse: spec.reverse, lengths: spec.lengths, compile });
  const wOut = randn([B, T, H], { dtype: 'float64', generator: gen });
  const wH = randn([B, H], { dtype: 'float64', generator: gen });
  let loss = add(sum(mul(r.output, wOut)), sum(mul(r.state.h, wH)));
  if (r.state.c) loss = add(loss, sum(mul(r.state.c, wH)));
  const inputs = [x, h0, ...(spec.withC ? [c0] : []), ...params];
  const grads = grad(loss, inputs, { allowUnused: true });
  const explained = explainScan(step, x, init, { reverse: spec.reverse });
  return { output: r.output, state: r.state, grads, explained };
}

describe('scan', () => {
  test('scan: a compiled random cell equals the op-by-op scan to 1e-12 (outputs, x, state, parameter gradients)', () => {
    fc.assert(fc.property(specArb, (spec) => {
    const eager = run(spec, false);
    const compiled = run(spec, true);
    expect(compiled.explained.compiled, compiled.explained.text).toBe(true);
    expect(compiled.output).toBeAllclose(eager.output, close);
    expect(compiled.state.h).toBeAllclose(eager.state.h, close);
    if (spec.withC) expect(compiled.state.c!).toBeAllclose(eager.state.c!, close);
    // An input the step never reads gets no gradient op by op, and zeros from the compiled scan (one node reads everything).
    compiled.grads.forEach((g, i) => {
      const e = eager.grads[i];
      const zero = Array.from({ length: (g ?? e)?.size ?? 0 }, () => 0);
      expect(g === null ? zero : Array.from(g.data), `gradient ${i}`).toBeAllclose(e === null ? zero : Array.from(e.data), close);
    });
    }));
  });

  test('scan: an LSTM step hoists its input projection into one GEMM and sums W_hh\'s gradient in one GEMM', () => {
    const gen = new Generator(3);
    const p = (shape: number[]) => randn(shape, { dtype: 'float64', generator: gen, requiresGrad: true });
    const [wIh, wHh, b] = [p([16, 3]), p([16, 4]), p([16])];
    const step = (x: Tensor, s: { h: Tensor; c: Tensor }) => {
      const [i, f, g, o] = chunk(add(linear(x, wIh, b), linear(s.h, wHh)), 4, -1) as [Tensor, Tensor, Tensor, Tensor];
      const c = add(mul(sigmoid(f), s.c), mul(sigmoid(i), tanh(g)));
      return { h: mul(sigmoid(o), tanh(c)), c };
    };
    const x = randn([2, 6, 3], { dtype: 'float64', generator: gen });
    const e = explainScan(step, x, { h: zeros([2, 4], { dtype: 'float64' }), c: zeros([2, 4], { dtype: 'float64' }) });
    expect(e.compiled).toBe(true);
    expect(e.plan).toMatchObject({ hoistedGemms: 1, deferredGemms: 1 });
    expect(e.text).toMatch(/^compiled: \d+ ops/);
  });

  test('scan: collect returns every step of another state entry, zero past each length, equal op by op', () => {
    const gen = new Generator(5);
    const w = randn([3, 2], { dtype: 'float64', generator: gen, requiresGrad: true });
    const step = (x: Tensor, s: { h: Tensor; c: Tensor }) => {
      const c = add(s.c, linear(x, w));
      return { h: tanh(c), c };
    };
    const x = randn([2, 4, 2], { dtype: 'float64', generator: gen });
    const init = { h: zeros([2, 3], { dtype: 'float64' }), c: zeros([2, 3], { dtype: 'float64' }) };
    const opts = { lengths: [4, 2], collect: ['c'], reverse: true };
    const a = scan(step, x, init, opts);
    const b = scan(step, x, init, { ...opts, compile: false });
    expect(a.sequences.c!).toBeAllclose(b.sequences.c!, close);
    expect(Array.from(a.sequences.c!.data.subarray(12, 24)).slice(6)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  test('scan: second-order gradients through a compiled scan equal those op by op (createGraph)', () => {
    const gen = new Generator(9);
    const w = randn([3, 3], { dtype: 'float64', generator: gen, requiresGrad: true });
    const u = randn([3, 2], { dtype: 'float64', generator: gen, requiresGrad: true });
    const step = (x: Tensor, s: { h: Tensor }) => ({ h: tanh(add(linear(s.h, w), linear(x, u))) });
    const x = randn([2, 3, 2], { dtype: 'float64', generator: gen });
    const second = (compile: boolean) => {
      const r = scan(step, x, { h: zeros([2, 3], { dtype: 'float64' }) }, { compile });
      const [dw] = grad(sum(mul(r.output, r.output)), [w], { createGraph: true });
      return grad(sum(mul(dw!, dw!)), [w, u]);
    };
    const [a, b] = [second(true), second(false)];
    expect(a[0]!).toBeAllclose(b[0]!, close);
    expect(a[1]!).toBeAllclose(b[1]!, close);
  });

  test('scan: float32 runs compiled and matches op by op to float32 rounding', () => {
    const gen = new Generator(4);
    const w = randn([8, 3], { generator: gen, requiresGrad: true });
    const u = randn([8, 8], { generator: gen, requiresGrad: true });
    const step = (x: Tensor, s: { h: Tensor }) => ({ h: tanh(add(linear(x, w), linear(s.h, u))) });
    const x = randn([4, 7, 3], { generator: gen });
    const init = { h: zeros([4, 8]) };
    const a = scan(step, x, init, { lengths: [7, 1, 3, 5] });
    const b = scan(step, x, init, { lengths: [7, 1, 3, 5], compile: false });
    expect(a.output).toBeAllclose(b.output, { atol: 1e-6, rtol: 1e-5 });
    const [ga] = grad(sum(a.output), [u]);
    const [gb] = grad(sum(b.output), [u]);
    expect(ga!).toBeAllclose(gb!, { atol: 1e-5, rtol: 1e-5 });
  });

  test('scan: buffers handed from one call to the next leave every result unchanged (noGrad calls, retained graphs)', () => {
    const gen = new Generator(11);
    const w = randn([6, 2], { dtype: 'float64', generator: gen, requiresGrad: true });
    const u = randn([6, 6], { dtype: 'float64', generator: gen, requiresGrad: true });
    const step = (x: Tensor, s: { h: Tensor }) => ({ h: tanh(add(linear(x, w), linear(s.h, u))) });
    const init = { h: zeros([3, 6], { dtype: 'float64' }) };
    const gradsOf = (x: Tensor, compile: boolean, retain = false) => {
      w.grad = null;
      u.grad = null;
      const out = scan(step, x, init, { compile, lengths: [4, 2, 3] }).output;
      const loss = sum(mul(out, out));
      loss.backward(undefined, { retainGraph: retain });
      return { out, loss, dw: w.grad!, du: u.grad! };
    };
    for (let i = 0; i < 3; i++) {
      const x = randn([3, 4, 2], { dtype: 'float64', generator: gen });
      noGrad(() => scan(step, randn([3, 4, 2], { dtype: 'float64', generator: gen }), init));
      const a = gradsOf(x, true);
      const b = gradsOf(x, false);
      expect(a.out).toBeAllclose(b.out, close);
      expect(a.dw).toBeAllclose(b.dw, close);
      expect(a.du).toBeAllclose(b.du, close);
    }
    // A retained graph keeps its buffers: a later call must not overwrite what its second backward reads.
    const x = randn([3, 4, 2], { dtype: 'float64', generator: gen });
    const first = gradsOf(x, true, true);
    const dw1 = first.dw.clone();
    gradsOf(randn([3, 4, 2], { dtype: 'float64', generator: gen }), true);
    w.grad = null;
    first.loss.backward();
    expect(w.grad!).toBeAllclose(dw1, close);
  });

  test('scan: checks x, the state and lengths, naming the argument and the shapes', () => {
    const step = (x: Tensor, s: { h: Tensor }) => ({ h: add(s.h, x) });
    expect(() => scan(step, zeros([2, 3]), { h: zeros([2, 3]) })).toThrow(/scan: x must be a \(B, T, I\) tensor, got \[2,3\]/);
    expect(() => scan(step, zeros([2, 3, 1]), { h: zeros([3, 1]) })).toThrow(/init.h must be a \(B=2, n\) tensor/);
    expect(() => scan(step, zeros([2, 3, 1]), { h: zeros([2, 1]) }, { lengths: [1, 4] })).toThrow(SeqgradError);
  });
});

describe('explainScan', () => {
  const x = randn([2, 3, 2], { dtype: 'float64' });
  const w = randn([2, 2], { dtype: 'float64', requiresGrad: true });
  const init = { h: zeros([2, 2], { dtype: 'float64' }) };
  const cases: [string, (x: Tensor, s: { h: Tensor }) => { h: Tensor }, RegExp][] = [
    ['.item()', (xt, s) => ({ h: sum(s.h).item() > 0 ? tanh(add(xt, s.h)) : add(xt, s.h) }), /reads tensor values/],
    ['.data', (xt, s) => ({ h: add(xt, tensor([s.h.data[0]!], { dtype: 'float64' })) }), /reads tensor values/],
    ['dropout', (xt, s) => ({ h: dropout(add(xt, s.h), 0.5, { generator: new Generator(1) }) }), /draws random numbers/],
    ['softmax', (xt, s) => ({ h: softmax(add(linear(xt, w), s.h)) }), /reads tensor values/],
    ['gather', (xt, s) => ({ h: gather(add(xt, s.h), 1, tensor([[1, 0], [0, 1]], { dtype: 'int32' })) }), /uses 'gather', which the compiler does not handle/],
    ['a defineFunction', (xt, s) => ({ h: defineFunction({ name: 'double', forward: (_c, v: Tensor) => mul(v, 2), backward: (_c, g) => mul(g, 2) })(add(xt, s.h)) }), /calls 'double', a function defined with defineFunction/],
  ];
  for (const [what, step, reason] of cases) {
    test(`explainScan: a step that uses ${what} runs op by op, says why, and scan still gives its op-by-op result`, () => {
      const e = explainScan(step, x, init);
      expect(e.compiled).toBe(false);
      expect(e.reason).toMatch(reason);
      expect(e.text).toMatch(/^runs op by op: /);
      if (what !== 'dropout') expect(scan(step, x, init).output).toBeAllclose(scan(step, x, init, { compile: false }).output, { atol: 0, rtol: 0 });
    });
  }

  test('explainScan: a step that reads values names the line of user code that did', () => {
    const step = (xt: Tensor, s: { h: Tensor }) => ({ h: sum(s.h).item() > 0 ? xt : s.h });
    expect(explainScan(step, x, init).reason).toMatch(/compile\.test\.ts/);
  });

  test('explainScan: dropout inside a step does not consume the generator while tracing', () => {
    const g1 = new Generator(7);
    const g2 = new Generator(7);
    const stepWith = (g: Generator) => (xt: Tensor, s: { h: Tensor }) => ({ h: dropout(add(xt, s.h), 0.5, { generator: g }) });
    const a = scan(stepWith(g1), x, init);
    const b = scan(stepWith(g2), x, init, { compile: false });
    expect(a.output).toBeAllclose(b.output, { atol: 0, rtol: 0 });
  });
});
