import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import {
  Generator, SeqgradError, type Tensor, add, explainScan, grad, linear, mul, randn, scan, stack, sum, tanh, unbind, where,
  type ScanOptions, type ScanStep, type ScanState, tensor, zeros,
} from '@seqgrad/autograd';
import { GRUCell, LSTMCell, RNNCell } from '@seqgrad/layers';
import { grammarArb, grammarParams, grammarShapes, grammarStep } from '../setup/cellGrammar.js';

/**
 * scan's `probe`: a (B, T, H) tensor added to every new h, whose gradient, for zeros, is
 * dL/dh_t at every step. Checked against the loop a user writes without scan, keeping each
 * step's h and asking autograd for the gradient of each, in float64.
 */

const f64 = { dtype: 'float64' as const };
type S = ScanState;

/**
 * The reference: a plain loop over time (no scan), h_t kept at every step; past a sequence's
 * length the state is frozen and the output is zero, as in scan. Returns dL/dh_t as (B, T, H).
 */
function loopGradients(step: (x: Tensor, s: S) => S, x: Tensor, init: S, loss: (output: Tensor, state: S) => Tensor, opts: { reverse?: boolean; lengths?: number[] } = {}): Tensor {
  const [B, T] = x.shape as [number, number, number];
  const xs = unbind(x, 1);
  const hs = new Array<Tensor>(T);
  const outs = new Array<Tensor>(T);
  let s = init;
  for (let k = 0; k < T; k++) {
    const t = opts.reverse ? T - 1 - k : k;
    const raw = step(xs[t]!, s);
    // h_t as a node of its own: a step may return its state's h unchanged (the same tensor).
    const next = { ...raw, h: add(raw.h, 0) } as S;
    hs[t] = next.h;
    if (opts.lengths) {
      const m = tensor(opts.lengths.map((n) => (t < n ? 1 : 0)), { ...f64, shape: [B, 1] });
      const merged: Record<string, Tensor> = {};
      for (const key of Object.keys(next)) merged[key] = where(m, next[key]!, s[key]!);
      s = merged as S;
      outs[t] = where(m, next.h, 0);
    } else {
      s = next;
      outs[t] = next.h;
    }
  }
  const gs = grad([loss(stack(outs, 1), s)], hs, { allowUnused: true });
  return stack(gs.map((g, t) => g ?? zeros(hs[t]!.shape, f64)), 1);
}

/** dL/dh_t through scan's probe, and scan's output with and without the probe. */
function probeGradients(step: ScanStep<S>, x: Tensor, init: S, loss: (output: Tensor, state: S) => Tensor, opts: ScanOptions) {
  const [B, T] = x.shape as [number, number, number];
  const probe = zeros([B, T, init.h.shape[1]!], { ...f64, requiresGrad: true });
  const r = scan(step, x, init, { ...opts, probe });
  const plain = scan(step, x, init, opts);
  const [g] = grad([loss(r.output, r.state)], [probe]);
  return { grads: g!, output: r.output, plainOutput: plain.output, state: r.state, plainState: plain.state };
}

const worst = (a: Tensor, b: Tensor) => Math.max(0, ...Array.from(a.data, (v, i) => Math.abs(v - b.data[i]!)));

function lossOf(gen: Generator, B: number, T: number, H: number) {
  const R = randn([B, T, H], { ...f64, generator: gen });
  const Q = randn([B, H], { ...f64, generator: gen });
  // Every step's output and the final state (h, and c when there is one) reach the loss.
  return (output: Tensor, state: S) => add(add(sum(mul(output, R)), sum(mul(state.h, Q))), state.c ? sum(mul(state.c, state.c)) : 0);
}

const B = 3, T = 6, I = 4, H = 5;

/** A user's cell as a plain function: h' = tanh(W x + U h) ⊙ h + x-only gate, with a second state. */
function customStep(gen: Generator) {
  const W = randn([H, I], { ...f64, generator: gen, requiresGrad: true });
  const U = randn([H, H], { ...f64, generator: gen }).mul(0.5).detach();
  U.requiresGrad = true;
  return (x: Tensor, s: S): S => {
    const a = tanh(add(linear(x, W), linear(s.h, U)));
    return { h: add(mul(a, s.c!), a), c: add(mul(s.c!, 0.5), a) };
  };
}

const cells: [string, (gen: Generator) => { step: ScanStep<S>; fn: (x: Tensor, s: S) => S; withC: boolean }][] = [
  ['RNNCell', (gen) => { const c = new RNNCell(I, H, { ...f64, generator: gen }); return { step: c as never, fn: (x, s) => c.step(x, s as never) as S, withC: false }; }],
  ['LSTMCell', (gen) => { const c = new LSTMCell(I, H, { ...f64, generator: gen }); return { step: c as never, fn: (x, s) => c.step(x, s as never) as S, withC: true }; }],
  ['GRUCell', (gen) => { const c = new GRUCell(I, H, { ...f64, generator: gen }); return { step: c as never, fn: (x, s) => c.step(x, s as never) as S, withC: false }; }],
  ['GRUCell (reset before)', (gen) => { const c = new GRUCell(I, H, { ...f64, generator: gen, resetAfter: false }); return { step: c as never, fn: (x, s) => c.step(x, s as never) as S, withC: false }; }],
  ['a custom step', (gen) => { const f = customStep(gen); return { step: f, fn: f, withC: true }; }],
];

describe.each([true, false])('scan probe (compile: %s)', (compile) => {
  const variants: [string, { reverse?: boolean; lengths?: number[] }][] = [
    ['forward', {}], ['reverse', { reverse: true }], ['lengths', { lengths: [6, 2, 4] }], ['reverse with lengths', { reverse: true, lengths: [3, 6, 1] }],
  ];
  test.each(cells)('scan: the gradient of a zero probe is dL/dh_t of the plain loop over time to 1e-12 (%s)', (_name, make) => {
    const gen = new Generator(11);
    const { step, fn, withC } = make(gen);
    for (const [label, v] of variants) {
      const x = randn([B, T, I], { ...f64, generator: gen });
      const init: S = withC
        ? { h: randn([B, H], { ...f64, generator: gen }), c: randn([B, H], { ...f64, generator: gen }) }
        : { h: randn([B, H], { ...f64, generator: gen }) };
      const loss = lossOf(gen, B, T, H);
      const want = loopGradients(fn, x, init, loss, v);
      const got = probeGradients(step, x, init, loss, { ...v, compile });
      expect(worst(got.grads, want), label).toBeLessThan(1e-12);
      // The probe is zero: the values are those of scan without it.
      expect(Array.from(got.output.data), label).toEqual(Array.from(got.plainOutput.data));
      expect(Array.from(got.state.h.data), label).toEqual(Array.from(got.plainState.h.data));
      // The gradient is zero past each length (the step's result is not used there).
      if (v.lengths) {
        const g = got.grads.toArray() as number[][][];
        v.lengths.forEach((n, b) => { for (let t = n; t < T; t++) expect(g[b]![t]!.every((e) => e === 0), label).toBe(true); });
      }
    }
    if (compile) expect(explainScan(step, randn([B, T, I], f64), withC ? { h: zeros([B, H], f64), c: zeros([B, H], f64) } : { h: zeros([B, H], f64) }, { probe: zeros([B, T, H], f64) }).compiled).toBe(true);
  });

  test('scan: probe gradients of random grammar cells equal the plain loop over time to 1e-12', () => {
    fc.assert(fc.property(grammarArb, fc.boolean(), fc.integer({ min: 0, max: 1000 }), (spec, reverse, seed) => {
      const gen = new Generator(seed);
      const made = grammarShapes(spec, I, H).map(([, shape]) => randn(shape, { ...f64, generator: gen }).mul(0.4).detach());
      made.forEach((p) => (p.requiresGrad = true));
      const params = grammarParams(spec, made);
      const fn = (x: Tensor, s: S) => grammarStep(spec, params, x, s as never) as S;
      const x = randn([B, T, I], { ...f64, generator: gen });
      // The initial state requires a gradient, so every h_t of the reference loop does.
      const leaf = () => randn([B, H], { ...f64, generator: gen, requiresGrad: true });
      const init: S = spec.withC ? { h: leaf(), c: leaf() } : { h: leaf() };
      const loss = lossOf(gen, B, T, H);
      const v = { reverse, lengths: [6, 3, 1] };
      const want = loopGradients(fn, x, init, loss, v);
      // A random cell can overflow float64 (products of states over T steps): its gradients
      // are not numbers to compare, so such a cell is skipped rather than compared NaN to NaN.
      fc.pre(want.data.every(Number.isFinite));
      const got = probeGradients(fn, x, init, loss, { ...v, compile });
      const scale = Math.max(1, ...Array.from(want.data, Math.abs));
      expect(got.grads).toBeAllclose(want, { rtol: 0, atol: 1e-12 * scale });
    }));
  });

  test('scan: a probe under checkpointed BPTT gives the gradients of plain BPTT to 1e-12', () => {
    const gen = new Generator(5);
    const cell = new LSTMCell(I, H, { ...f64, generator: gen });
    const x = randn([B, 9, I], { ...f64, generator: gen });
    const init = cell.initialState(B) as S;
    const loss = lossOf(gen, B, 9, H);
    const plain = probeGradients(cell as never, x, init, loss, { compile });
    const ckpt = probeGradients(cell as never, x, init, loss, { compile, checkpoint: 3 });
    expect(worst(ckpt.grads, plain.grads)).toBeLessThan(1e-12);
  });
});

describe('scan probe errors', () => {
  test('scan: a probe of the wrong shape or dtype is refused naming the shapes', () => {
    const step = (x: Tensor, s: S): S => ({ h: tanh(add(s.h, sum(x, -1, true))) });
    const x = zeros([2, 3, 4], f64);
    const init = { h: zeros([2, 5], f64) };
    expect(() => scan(step, x, init, { probe: zeros([2, 3, 4], f64) })).toThrow(SeqgradError);
    expect(() => scan(step, x, init, { probe: zeros([2, 3, 4], f64) })).toThrow('scan: probe must be a (B, T, H) = [2,3,5] tensor for x[2,3,4] and init.h[2,5], got [2,3,4]');
    expect(() => scan(step, x, init, { probe: zeros([2, 3, 5]) })).toThrow('scan: probe[2,3,5] is float32 but x[2,3,4] is float64');
  });
});
