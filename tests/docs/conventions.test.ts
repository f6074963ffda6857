import {
  Generator, type Tensor, add, concat, linear, mul, randn, sigmoid, stack, sub, tanh, tensor,
} from '@seqgrad/autograd';
import { GRU, GRUCell, LSTM, LSTMCell, RNNCell } from '@seqgrad/layers';
import { clipGradNorm, gradNorm } from '@seqgrad/optim';
import { describe, expect, test } from 'vitest';
import { maxAbsDiff } from '../setup/allclose.js';

/**
 * Numerical proofs of the claims in docs/conventions.md: the course-notation mappings (RNN,
 * LSTM, GRU with the other update-gate convention), the bias rules of the two GRU reset
 * placements, the state shapes, and the clipping formula seqgrad implements.
 * The course equations are ../shared/course/recurrent-neural-networks.md.
 */

const f64 = { dtype: 'float64' } as const;
const I = 3;
const H = 4;
const B = 2;

/** float64 results that must agree to 1e-12 absolute. */
const TOL = { atol: 1e-12, rtol: 0 };

/** The course's weights: one (H, H + I) matrix per gate acting on [h_{t−1}, x_t], and one bias. */
interface CourseGate {
  W: Tensor;
  b: Tensor;
}

function courseGate(g: Generator): CourseGate {
  return { W: randn([H, H + I], { ...f64, generator: g }), b: randn([H], { ...f64, generator: g }) };
}

/** W · [h, x] + b on row vectors: [h, x] Wᵀ + b. */
const affine = (gate: CourseGate, hx: Tensor) => linear(hx, gate.W, gate.b);

/**
 * conventions.md, "The course notation": a gate's W is (H, H + I); its first H columns are that
 * gate's rows of weight_hh and its last I columns the same rows of weight_ih; b = bias_ih + bias_hh.
 * Gates are stacked in seqgrad's order. The bias is split between bias_ih and bias_hh at random:
 * only the sum may matter.
 */
function toSeqgrad(gates: CourseGate[], g: Generator): Record<string, Tensor> {
  const hh = gates.map((q) => q.W.narrow(1, 0, H));
  const ih = gates.map((q) => q.W.narrow(1, H, I));
  const bias = concat(gates.map((q) => q.b));
  const split = randn(bias.shape, { ...f64, generator: g });
  return {
    weight_ih: concat(ih, 0).detach(),
    weight_hh: concat(hh, 0).detach(),
    bias_ih: split.detach(),
    bias_hh: sub(bias, split).detach(),
  };
}

/** Rows [start, start + n) of every tensor negated (copies). */
function negateRows(sd: Record<string, Tensor>, start: number, n: number): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(sd)) {
    const t = v.clone().detach();
    const cols = v.ndim === 2 ? v.shape[1]! : 1;
    for (let e = start * cols; e < (start + n) * cols; e++) t.data[e] = -t.data[e]!;
    out[k] = t;
  }
  return out;
}

/** Renames cell parameters to layer 0 of an RNN/LSTM/GRU layer. */
const asLayer = (sd: Record<string, Tensor>) => Object.fromEntries(Object.entries(sd).map(([k, v]) => [`${k}_l0`, v]));

describe('conventions.md: the course notation maps onto seqgrad weights', () => {
  test('conventions: course RNN h = tanh(W_xh x + W_hh h + b_h) is RNNCell with W_xh = weight_ih, W_hh = weight_hh', () => {
    const g = new Generator(1);
    const Wxh = randn([H, I], { ...f64, generator: g });
    const Whh = randn([H, H], { ...f64, generator: g });
    const bh = randn([H], { ...f64, generator: g });
    const x = randn([B, I], { ...f64, generator: g });
    const h = randn([B, H], { ...f64, generator: g });
    const course = tanh(add(add(linear(x, Wxh), linear(h, Whh)), bh));
    const cell = new RNNCell(I, H, f64);
    cell.loadStateDict({ weight_ih: Wxh, weight_hh: Whh, bias_ih: bh.mul(0.25), bias_hh: bh.mul(0.75) });
    expect(cell.forward(x, { h }).h).toBeAllclose(course, TOL);
  });

  test('conventions: course LSTM (W_f · [h, x] + b_f, ...) is LSTMCell after stacking the gates as i, f, g, o', () => {
    const g = new Generator(2);
    const [Wi, Wf, Wc, Wo] = [courseGate(g), courseGate(g), courseGate(g), courseGate(g)] as const;
    const x = randn([B, I], { ...f64, generator: g });
    const h = randn([B, H], { ...f64, generator: g });
    const c = randn([B, H], { ...f64, generator: g });
    // The course's equations, as written.
    const hx = concat([h, x], -1);
    const f = sigmoid(affine(Wf, hx));
    const i = sigmoid(affine(Wi, hx));
    const cTilde = tanh(affine(Wc, hx));
    const o = sigmoid(affine(Wo, hx));
    const cNext = add(mul(f, c), mul(i, cTilde));
    const hNext = mul(o, tanh(cNext));
    const cell = new LSTMCell(I, H, f64);
    cell.loadStateDict(toSeqgrad([Wi, Wf, Wc, Wo], g));
    const out = cell.forward(x, { h, c });
    expect(out.h).toBeAllclose(hNext, TOL);
    expect(out.c).toBeAllclose(cNext, TOL);
  });
});

describe('conventions.md: course GRU → seqgrad GRU (resetAfter: false) by negating the update-gate rows', () => {
  const g = new Generator(3);
  const [Wr, Wz, Wh] = [courseGate(g), courseGate(g), courseGate(g)] as const;

  /**
   * One step of the course's GRU, straight from its equations:
   *   z_t = σ(W_z · [h_{t−1}, x_t] + b_z)
   *   r_t = σ(W_r · [h_{t−1}, x_t] + b_r)
   *   h̃_t = tanh(W_h · [r_t * h_{t−1}, x_t] + b_h)
   *   h_t = (1 − z_t) * h_{t−1} + z_t * h̃_t
   */
  function courseGruStep(x: Tensor, h: Tensor): Tensor {
    const z = sigmoid(affine(Wz, concat([h, x], -1)));
    const r = sigmoid(affine(Wr, concat([h, x], -1)));
    const hTilde = tanh(affine(Wh, concat([mul(r, h), x], -1)));
    return add(mul(sub(1, z), h), mul(z, hTilde));
  }

  // Course layout in seqgrad's gate order r, z, n (h̃ is n), then the conversion of conventions.md.
  const courseLayout = toSeqgrad([Wr, Wz, Wh], g);
  const converted = negateRows(courseLayout, H, H);

  test('conventions: GRUCell(resetAfter: false) with the negated z rows equals the course step', () => {
    const x = randn([B, I], { ...f64, generator: g });
    const h = randn([B, H], { ...f64, generator: g });
    const cell = new GRUCell(I, H, { ...f64, resetAfter: false });
    cell.loadStateDict(converted);
    expect(cell.forward(x, { h }).h).toBeAllclose(courseGruStep(x, h), TOL);
    // Without the negation, or with PyTorch's reset placement, the functions differ.
    const unconverted = new GRUCell(I, H, { ...f64, resetAfter: false });
    unconverted.loadStateDict(courseLayout);
    expect(unconverted.forward(x, { h }).h).not.toBeAllclose(courseGruStep(x, h), { atol: 1e-3, rtol: 0 });
    const resetAfter = new GRUCell(I, H, { ...f64, resetAfter: true });
    resetAfter.loadStateDict(converted);
    expect(resetAfter.forward(x, { h }).h).not.toBeAllclose(courseGruStep(x, h), { atol: 1e-3, rtol: 0 });
  });

  for (const impl of ['fused', 'composed'] as const) {
    test(`conventions: GRU layer (resetAfter: false, impl ${impl}) over a sequence equals the course recurrence`, () => {
      const T = 6;
      const x = randn([B, T, I], { ...f64, generator: g });
      const h0 = randn([B, H], { ...f64, generator: g });
      const hs: Tensor[] = [];
      let h = h0;
      for (let t = 0; t < T; t++) hs.push((h = courseGruStep(x.select(1, t), h)));
      const gru = new GRU(I, H, { ...f64, resetAfter: false, impl });
      gru.loadStateDict(asLayer(converted));
      const out = gru.forward(x, { h: h0.reshape([1, B, H]) });
      expect(out.output).toBeAllclose(stack(hs, 1), TOL);
      expect(out.state.h).toBeAllclose(h.reshape([1, B, H]), TOL);
    });
  }
});

describe('conventions.md: biases and shapes', () => {
  test('conventions: only bias_ih + bias_hh matters, except for the GRU n gate with resetAfter', () => {
    const g = new Generator(4);
    const x = randn([B, I], { ...f64, generator: g });
    const h = randn([B, H], { ...f64, generator: g });
    const shift = (cell: LSTMCell | GRUCell, rows: [number, number]) => {
      const sd = cell.stateDict();
      const moved = { ...sd, bias_ih: sd.bias_ih!.clone(), bias_hh: sd.bias_hh!.clone() };
      for (let k = rows[0]; k < rows[1]; k++) {
        moved.bias_ih.data[k] = moved.bias_ih.data[k]! + 0.7;
        moved.bias_hh.data[k] = moved.bias_hh.data[k]! - 0.7;
      }
      const copy = cell instanceof LSTMCell ? new LSTMCell(I, H, f64) : new GRUCell(I, H, { ...f64, resetAfter: cell.resetAfter });
      copy.loadStateDict(moved);
      const state = (cell instanceof LSTMCell ? { h, c: h } : { h }) as never;
      return maxAbsDiff(copy.forward(x, state).h, cell.forward(x, state).h);
    };
    const lstm = new LSTMCell(I, H, { ...f64, generator: g });
    expect(shift(lstm, [0, 4 * H])).toBeLessThan(1e-12);
    for (const resetAfter of [true, false]) {
      const gru = new GRUCell(I, H, { ...f64, resetAfter, generator: g });
      expect(shift(gru, [0, 2 * H])).toBeLessThan(1e-12); // r and z: the sum is all that matters
      const nGate = shift(gru, [2 * H, 3 * H]);
      if (resetAfter) expect(nGate).toBeGreaterThan(1e-3);
      else expect(nGate).toBeLessThan(1e-12);
    }
  });

  test('conventions: states are (numLayers·D, B, H) for batchFirst true and false; outputs follow the layout', () => {
    const x = randn([B, 5, I]);
    const lstm = new LSTM(I, H, { numLayers: 2, bidirectional: true });
    const a = lstm.forward(x);
    expect([a.output.shape, a.state.h.shape, a.state.c.shape]).toEqual([[B, 5, 2 * H], [4, B, H], [4, B, H]]);
    const tb = new LSTM(I, H, { numLayers: 2, bidirectional: true, batchFirst: false });
    const b = tb.forward(randn([5, B, I]));
    expect([b.output.shape, b.state.h.shape, b.state.c.shape]).toEqual([[5, B, 2 * H], [4, B, H], [4, B, H]]);
    const unbatched = lstm.forward(randn([5, I]));
    expect([unbatched.output.shape, unbatched.state.h.shape]).toEqual([[5, 2 * H], [4, H]]);
    const proj = new LSTM(I, H, { projSize: 2 }).forward(x);
    expect([proj.output.shape, proj.state.h.shape, proj.state.c.shape]).toEqual([[B, 5, 2], [1, B, 2], [1, B, H]]);
  });

  test('conventions: weight shapes (G·H, I) for layer 0, (G·H, D·H) above, (G·H, D·P) above with projSize', () => {
    const shapes = (m: LSTM | GRU) => Object.fromEntries(m.namedParameters().map(([n, t]) => [n, t.shape]));
    const gru = shapes(new GRU(I, H, { numLayers: 2, bidirectional: true }));
    expect([gru.weight_ih_l0, gru.weight_ih_l1_reverse, gru.weight_hh_l1, gru.bias_hh_l1]).toEqual([[3 * H, I], [3 * H, 2 * H], [3 * H, H], [3 * H]]);
    const lstm = shapes(new LSTM(I, H, { numLayers: 2, bidirectional: true, projSize: 2 }));
    expect([lstm.weight_ih_l0, lstm.weight_ih_l1, lstm.weight_hh_l1_reverse, lstm.weight_hr_l1]).toEqual([[4 * H, I], [4 * H, 2 * 2], [4 * H, 2], [2, H]]);
  });
});

describe('conventions.md: gradient clipping formulas', () => {
  /** Two float64 parameters with the given gradients. */
  function params(g1: number[], g2: number[]): Tensor[] {
    return [g1, g2].map((gv) => {
      const p = tensor(gv.map(() => 0), { ...f64, requiresGrad: true });
      p.grad = tensor(gv, f64);
      return p;
    });
  }
  const values = (ps: Tensor[]) => ps.flatMap((p) => Array.from(p.grad!.data));

  test('conventions: clipGradNorm scales every gradient by min(1, maxNorm / (total + 1e-6))', () => {
    const g = new Generator(5);
    for (const [scale, maxNorm] of [[10, 1], [0.1, 1], [3, 2.5], [1, 100]] as const) {
      const g1 = Array.from({ length: 4 }, () => scale * g.normal());
      const g2 = Array.from({ length: 3 }, () => scale * g.normal());
      const total = Math.hypot(...g1, ...g2);
      const ps = params(g1, g2);
      expect(clipGradNorm(ps, maxNorm)).toBeCloseTo(total, 12); // the norm before clipping
      const want = Math.min(1, maxNorm / (total + 1e-6));
      values(ps).forEach((v, k) => expect(v).toBeCloseTo([...g1, ...g2][k]! * want, 14));
    }
  });

  test('conventions: a gradient whose norm equals maxNorm is still scaled by maxNorm / (maxNorm + 1e-6)', () => {
    const ps = params([3], [4]); // total 5
    clipGradNorm(ps, 5);
    expect(values(ps)).toEqual([3 * (5 / (5 + 1e-6)), 4 * (5 / (5 + 1e-6))]);
    expect(values(ps)[0]).not.toBe(3); // TensorFlow's c / max(total, c) would leave it unchanged
  });

  test("conventions: clipGradNorm agrees with the course's clip_gradients up to the 1e-6", () => {
    // course: if total > max_norm: g *= max_norm / total
    const ps = params([30, -40], [0, 120]); // total 130
    clipGradNorm(ps, 13);
    values(ps).forEach((v, k) => expect(v).toBeCloseTo([30, -40, 0, 120][k]! * (13 / 130), 5));
    expect(gradNorm(ps)).toBeLessThanOrEqual(13);
  });

  test('conventions: global clipping keeps the direction of the whole update; per-variable clipping does not', () => {
    const global = params([10, 0], [0, 1]);
    clipGradNorm(global, 1);
    const [a, , , d] = values(global);
    expect(a! / d!).toBeCloseTo(10, 10); // same ratio as before
    const perVariable = params([10, 0], [0, 1]);
    for (const p of perVariable) clipGradNorm([p], 1); // Keras clipnorm: each variable on its own norm
    const [a2, , , d2] = values(perVariable);
    expect(a2! / d2!).toBeCloseTo(1, 4); // the ratio changed from 10 to ~1
  });
});
