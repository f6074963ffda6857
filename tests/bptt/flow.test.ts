import { describe, expect, test } from 'vitest';
import { Generator, type ScanState, type ScanStep, Tensor, add, eye, linear, matmul, mul, noGrad, randn, sum, tensor, zeros } from '@seqgrad/autograd';
import {
  GRU, LSTM, RNN, RNNCell, gradientFlow, gruBackward, gruForward, hiddenGradients, lstmBackward, lstmForward, rnnBackward, rnnForward, stateJacobian,
  type CellParams, type FloatArray,
} from '@seqgrad/layers';

const T = 50;
const I = 4;
const H = 8;

function uniform(gen: Generator, n: number, s: number): Float64Array {
  return Float64Array.from({ length: n }, () => s * (2 * gen.uniform() - 1));
}

function params(gen: Generator, G: number, inputSize: number, recurrentScale: number): CellParams {
  const k = 1 / Math.sqrt(H);
  return {
    weightIh: uniform(gen, G * H * inputSize, k),
    weightHh: uniform(gen, G * H * H, recurrentScale),
    biasIh: uniform(gen, G * H, k),
    biasHh: uniform(gen, G * H, k),
  };
}

describe('gradientFlow', () => {
  const gen = new Generator(5);
  const x = uniform(gen, T * I, 1);
  const dims = { B: 1, T, I, H };

  test('gradientFlow: over T = 50 a tanh RNN with small W_hh vanishes by orders of magnitude more than an LSTM with forget bias 1', () => {
    const rnn = gradientFlow('rnn', [params(gen, 1, I, 0.1)], x, dims);
    const lstmP = params(gen, 4, I, 0.1);
    for (let j = 0; j < H; j++) {
      lstmP.biasIh![H + j] = 1; // forget gate block: bias 1 in total
      lstmP.biasHh![H + j] = 0;
    }
    const lstm = gradientFlow('lstm', [lstmP], x, dims);
    // eslint-disable-next-line no-console
    console.log(`‖dL/dh_0‖/‖dL/dh_T‖ over T=${T}: tanh RNN ${rnn.ratio.toExponential(2)}, LSTM ${lstm.ratio.toExponential(2)}`);
    expect(rnn.hidden[0]![T - 1]).toBeCloseTo(Math.sqrt(H), 12); // dL/dh_T = ones
    expect(rnn.ratio).toBeGreaterThan(0);
    expect(rnn.ratio).toBeLessThan(1e-10);
    expect(rnn.ratio / lstm.ratio).toBeLessThan(1e-6);
    // The norm shrinks step after step for the RNN.
    for (let t = 1; t < T; t++) expect(rnn.hidden[0]![t - 1]).toBeLessThan(rnn.hidden[0]![t]!);
  });

  test('gradientFlow: per-step norms equal autograd of the composed stacked GRU (retained dL/dh_t)', () => {
    const L = 2;
    const Ts = 6;
    const g = new Generator(9);
    const layers = [params(g, 3, I, 0.5), params(g, 3, H, 0.5)];
    const xs = uniform(g, Ts * I, 1);
    const dOutput = uniform(g, Ts * H, 1);
    const flow = gradientFlow('gru', layers, xs, { B: 1, T: Ts, I, H }, { dOutput, resetAfter: true });
    // Composed reference with retainGrad on every h_t of both layers.
    const P = layers.map((p) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, new Tensor(v as Float64Array, k.startsWith('weightIh') ? [3 * H, v!.length / (3 * H)] : k === 'weightHh' ? [3 * H, H] : [3 * H], true)])));
    let inputs = Array.from({ length: Ts }, (_, t) => new Tensor(xs.slice(t * I, (t + 1) * I), [1, I]));
    const hs: Tensor[][] = [];
    for (let l = 0; l < L; l++) {
      const p = P[l]!;
      let h = new Tensor(new Float64Array(H), [1, H]);
      const row: Tensor[] = [];
      for (let t = 0; t < Ts; t++) {
        const [xr, xz, xn] = linear(inputs[t]!, p.weightIh!, p.biasIh).chunk(3, 1);
        const [hr, hz, hn] = linear(h, p.weightHh!, p.biasHh).chunk(3, 1);
        const r = xr!.add(hr!).sigmoid();
        const z = xz!.add(hz!).sigmoid();
        const n = xn!.add(r.mul(hn!)).tanh();
        h = z.neg().add(1).mul(n).add(z.mul(h)).retainGrad();
        row.push(h);
      }
      hs.push(row);
      inputs = row;
    }
    const loss = hs[L - 1]!.map((h, t) => h.mul(new Tensor(dOutput.slice(t * H, (t + 1) * H), [1, H])).sum()).reduce((a, b) => a.add(b));
    loss.backward();
    for (let l = 0; l < L; l++) {
      for (let t = 0; t < Ts; t++) {
        const want = hs[l]![t]!.grad!.norm().item();
        expect(Math.abs(flow.hidden[l]![t]! - want)).toBeLessThan(1e-12 * Math.max(1, want));
      }
    }
  });

  test('gradientFlow: LSTM cell-state norms equal autograd of the composed LSTM (retained dL/dc_t)', () => {
    const Ts = 5;
    const g = new Generator(4);
    const p = params(g, 4, I, 0.5);
    const xs = uniform(g, Ts * I, 1);
    const flow = gradientFlow('lstm', [p], xs, { B: 1, T: Ts, I, H });
    const leaf = (a: Float64Array, shape: number[]) => new Tensor(a, shape, true);
    const W = { ih: leaf(p.weightIh as Float64Array, [4 * H, I]), hh: leaf(p.weightHh as Float64Array, [4 * H, H]), bih: leaf(p.biasIh as Float64Array, [4 * H]), bhh: leaf(p.biasHh as Float64Array, [4 * H]) };
    let h = new Tensor(new Float64Array(H), [1, H]);
    let c = new Tensor(new Float64Array(H), [1, H]);
    const hs: Tensor[] = [];
    const cs: Tensor[] = [];
    for (let t = 0; t < Ts; t++) {
      const [i, f, gg, o] = linear(new Tensor(xs.slice(t * I, (t + 1) * I), [1, I]), W.ih, W.bih).add(linear(h, W.hh, W.bhh)).chunk(4, 1);
      c = f!.sigmoid().mul(c).add(i!.sigmoid().mul(gg!.tanh())).retainGrad();
      h = o!.sigmoid().mul(c.tanh()).retainGrad();
      hs.push(h);
      cs.push(c);
    }
    h.sum().backward(); // the default loss: L = Σ h_{T−1}
    expect(flow.cell).toHaveLength(1);
    for (let t = 0; t < Ts; t++) {
      expect(Math.abs(flow.hidden[0]![t]! - hs[t]!.grad!.norm().item())).toBeLessThan(1e-12);
      expect(Math.abs(flow.cell![0]![t]! - cs[t]!.grad!.norm().item())).toBeLessThan(1e-12);
    }
  });
});

describe('hiddenGradients', () => {
  const B = 3, Ts = 7;
  const f64 = { dtype: 'float64' as const };
  const cases: ['rnn' | 'lstm' | 'gru', { reverse?: boolean; lengths?: number[] }][] = [
    ['rnn', {}], ['lstm', {}], ['gru', {}],
    ['rnn', { reverse: true, lengths: [7, 2, 5] }], ['lstm', { reverse: true, lengths: [7, 2, 5] }], ['gru', { lengths: [3, 7, 1] }],
  ];
  test.each(cases)('hiddenGradients: dL/dh_t through scan equals the hand BPTT\'s dHidden to 1e-12 (%s, %o)', (mode, opts) => {
    const gen = new Generator(21);
    const layer = mode === 'rnn' ? new RNN(I, H, { ...f64, generator: gen }) : mode === 'lstm' ? new LSTM(I, H, { ...f64, generator: gen }) : new GRU(I, H, { ...f64, generator: gen });
    const cell = layer.cell();
    const q = layer.params[0]![0]!;
    const p: CellParams = { weightIh: q.weightIh.data as Float64Array, weightHh: q.weightHh.data as Float64Array, biasIh: q.biasIh!.data as Float64Array, biasHh: q.biasHh!.data as Float64Array };
    const x = randn([B, Ts, I], { ...f64, generator: gen });
    const R = randn([B, Ts, H], { ...f64, generator: gen });
    const Q = randn([B, H], { ...f64, generator: gen });
    const seq = { lengths: opts.lengths ? Int32Array.from(opts.lengths) : undefined, reverse: opts.reverse };
    const { grads, norms } = hiddenGradients(cell as ScanStep<ScanState>, x, cell.initialState(B) as ScanState, (r) => add(sum(mul(r.output, R)), sum(mul(r.state.h, Q))), seq);
    // The hand forward and backward, dL/dh_t kept (keepStateGrads), fed the same loss's gradients.
    const dims = { B, T: Ts, I, H };
    const xs = x.data as Float64Array;
    const keep = { keepStateGrads: true };
    let dHidden: FloatArray;
    if (mode === 'rnn') dHidden = rnnBackward(p, rnnForward(p, xs, null, dims, seq).cache, R.data as Float64Array, Q.data as Float64Array, keep).dHidden!;
    else if (mode === 'lstm') dHidden = lstmBackward(p, lstmForward(p, xs, null, null, dims, seq).cache, R.data as Float64Array, Q.data as Float64Array, null, keep).dHidden!;
    else dHidden = gruBackward(p, gruForward(p, xs, null, dims, { ...seq, resetAfter: true }).cache, R.data as Float64Array, Q.data as Float64Array, keep).dHidden!;
    expect(grads.shape).toEqual([B, Ts, H]);
    let worst = 0;
    for (let i = 0; i < dHidden.length; i++) worst = Math.max(worst, Math.abs(grads.data[i]! - dHidden[i]!));
    expect(worst).toBeLessThan(1e-12);
    for (let t = 0; t < Ts; t++) {
      let s = 0;
      for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) s += dHidden[(b * Ts + t) * H + j]! ** 2;
      expect(Math.abs(norms[t]! - Math.sqrt(s))).toBeLessThan(1e-12);
    }
  });

  test('hiddenGradients: over T = 50 the gradient reaching h_0 fades far more through a tanh RNN than through an LSTM with forget bias 1', () => {
    const gen = new Generator(3);
    const Tl = 50;
    const x = randn([2, Tl, I], { ...f64, generator: gen });
    const rnn = new RNN(I, H, { ...f64, generator: gen }).cell();
    const lstm = new LSTM(I, H, { ...f64, generator: gen, forgetBias: 1 }).cell();
    const last = (r: { state: { h: Tensor } }) => sum(r.state.h);
    const a = hiddenGradients(rnn as never, x, rnn.initialState(2) as never, last).norms;
    const b = hiddenGradients(lstm as never, x, lstm.initialState(2) as never, last).norms;
    expect(a[Tl - 1]).toBeCloseTo(4, 12); // dL/dh_{T−1} = ones (B·H = 16 of them): norm 4
    expect(a[0]! / a[Tl - 1]!).toBeLessThan((b[0]! / b[Tl - 1]!) * 1e-3);
  });

  test('hiddenGradients: refuses a loss that is not a scalar and a probe of its own', () => {
    const cell = new RNNCell(I, H, f64);
    const x = zeros([2, 3, I], f64);
    expect(() => hiddenGradients(cell as never, x, cell.initialState(2) as never, (r) => r.output)).toThrow('hiddenGradients: loss must return a scalar tensor, got [2,3,8]');
    expect(() => hiddenGradients(cell as never, x, cell.initialState(2) as never, (r) => sum(r.output), { probe: zeros([2, 3, H], f64) })).toThrow('hiddenGradients: opts.probe is set');
  });
});

describe('stateJacobian', () => {
  const f64 = (v: number[], shape: number[]) => tensor(v, { dtype: 'float64', shape });

  test('stateJacobian: a linear RNN h′ = W h + U x has J = (Wᵀ)… = W^T over T steps, and its singular values', () => {
    const n = 3;
    const steps = 4;
    const gen = new Generator(3);
    const W = randn([n, n], { dtype: 'float64', generator: gen }).mul(0.6);
    const U = randn([n, 2], { dtype: 'float64', generator: gen });
    const x = randn([steps, 2], { dtype: 'float64', generator: gen });
    const h0 = randn([n], { dtype: 'float64', generator: gen });
    const { jacobian, singularValues, final } = stateJacobian((xt, h) => matmul(W, h).add(matmul(U, xt)), x, h0);
    let power = eye(n, n, { dtype: 'float64' });
    for (let t = 0; t < steps; t++) power = matmul(W, power);
    expect(jacobian).toBeAllclose(power, { atol: 1e-12, rtol: 0 });
    // The singular values of W^T are the square roots of the eigenvalues of (W^T)ᵀ W^T: check
    // them through the invariants Σσ² = ‖J‖_F² and Πσ = |det J|.
    const frob = power.square().sum().item();
    expect(singularValues.reduce((s, v) => s + v * v, 0)).toBeCloseTo(frob, 10);
    const J = power.data;
    const det = J[0]! * (J[4]! * J[8]! - J[5]! * J[7]!) - J[1]! * (J[3]! * J[8]! - J[5]! * J[6]!) + J[2]! * (J[3]! * J[7]! - J[4]! * J[6]!);
    expect(singularValues[0]! * singularValues[1]! * singularValues[2]!).toBeCloseTo(Math.abs(det), 10);
    expect(singularValues[0]).toBeGreaterThanOrEqual(singularValues[1]!);
    expect(singularValues[1]).toBeGreaterThanOrEqual(singularValues[2]!);
    let h = h0;
    for (const xt of x.unbind(0)) h = matmul(W, h).add(matmul(U, xt));
    expect(final).toBeAllclose(h, { atol: 1e-12, rtol: 0 });
  });

  test('stateJacobian: a scaled rotation has every singular value equal to scale^T (vanishing below 1)', () => {
    const c = Math.cos(0.3);
    const s = Math.sin(0.3);
    const W = f64([0.9 * c, -0.9 * s, 0.9 * s, 0.9 * c], [2, 2]);
    const x = f64(new Array(10).fill(0), [10, 1]);
    const { singularValues } = stateJacobian((_xt, h) => matmul(W, h), x, f64([1, 2], [2]));
    expect(singularValues[0]).toBeCloseTo(0.9 ** 10, 12);
    expect(singularValues[1]).toBeCloseTo(0.9 ** 10, 12);
  });

  test('stateJacobian: an RNNCell (tanh) at h = 0, x = 0 and zero biases has J = W_hh^T exactly (tanh′(0) = 1)', () => {
    const cell = new RNNCell(2, 3, { dtype: 'float64', generator: new Generator(9) });
    noGrad(() => {
      cell.weightHh.data.forEach((_, i, a) => (a[i] = 0.1 * Math.sin(i + 1)));
      cell.biasIh!.data.fill(0);
      cell.biasHh!.data.fill(0);
    });
    const T5 = 5;
    const { jacobian } = stateJacobian((xt, h) => cell.forward(xt, { h }).h, zeros([T5, 2], { dtype: 'float64' }), zeros([3], { dtype: 'float64' }));
    let power = eye(3, 3, { dtype: 'float64' });
    for (let t = 0; t < T5; t++) power = matmul(cell.weightHh.detach(), power);
    expect(jacobian).toBeAllclose(power, { atol: 1e-15, rtol: 0 });
  });

  test('stateJacobian: bad arguments are named', () => {
    const step = (_xt: Tensor, h: Tensor) => h;
    expect(() => stateJacobian(step, zeros([3]), zeros([2]))).toThrow(/stateJacobian: x must be a \(T, I\) tensor, got \[3\]/);
    expect(() => stateJacobian(step, zeros([3, 1]), zeros([2, 2]))).toThrow(/stateJacobian: h0 must be a \(H\) tensor, got \[2,2\]/);
    expect(() => stateJacobian((_xt, h) => h.sum(), zeros([3, 1]), zeros([2]))).toThrow(/stateJacobian: step must return the next h of shape \[2\], got \[\]/);
    expect(() => stateJacobian(step, zeros([3, 1]), zeros([2], { dtype: 'float64' }))).toThrow('stateJacobian: x[3,1] is float32 but h0[2] is float64; give both the same dtype');
  });
});
