import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  checkBptt, gruBpttCell, lstmBpttCell, rnnBpttCell, type BpttCell, type Float64Record, type HandStepGrads,
} from '@seqgrad/layers';

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** a (B, K) · Wᵀ for W (N, K) → (B, N), plain loops (a user's hand code needs no kernels). */
function mulT(a: Float64Array, W: Float64Array, B: number, K: number, N: number): Float64Array {
  const out = new Float64Array(B * N);
  for (let b = 0; b < B; b++) for (let n = 0; n < N; n++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += a[b * K + k]! * W[n * K + k]!;
    out[b * N + n] = s;
  }
  return out;
}
/** a (B, N) · W for W (N, K) → (B, K). */
function mul(a: Float64Array, W: Float64Array, B: number, N: number, K: number): Float64Array {
  const out = new Float64Array(B * K);
  for (let b = 0; b < B; b++) for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[b * K + k] += a[b * N + n]! * W[n * K + k]!;
  return out;
}
/** aᵀ (N, B) · v (B, K) → (N, K). */
function outer(a: Float64Array, v: Float64Array, B: number, N: number, K: number): Float64Array {
  const out = new Float64Array(N * K);
  for (let b = 0; b < B; b++) for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[n * K + k] += a[b * N + n]! * v[b * K + k]!;
  return out;
}
function colSum(a: Float64Array, B: number, N: number): Float64Array {
  const out = new Float64Array(N);
  for (let b = 0; b < B; b++) for (let n = 0; n < N; n++) out[n] += a[b * N + n]!;
  return out;
}

interface StepCache { x: Float64Array; h: Float64Array; c: Float64Array; act: Float64Array; cNew: Float64Array; hh: Float64Array }

/** A user's textbook LSTM step, written by hand; `bug` drops the dc_{t+1}·f_{t+1} term of dc_t. */
function handLstm(I: number, H: number, bug: boolean): BpttCell<StepCache> {
  const G = 4 * H;
  return {
    ...lstmBpttCell({ inputSize: I, hiddenSize: H }),
    forward(p, x, s, B) {
      const a = mulT(x, p.weightIh!, B, I, G);
      const hh = mulT(s.h!, p.weightHh!, B, H, G);
      const act = new Float64Array(B * G);
      const c = new Float64Array(B * H);
      const h = new Float64Array(B * H);
      for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) {
        const pre = (k: number) => a[b * G + k * H + j]! + hh[b * G + k * H + j]! + p.biasIh![k * H + j]! + p.biasHh![k * H + j]!;
        const [i, f, g, o] = [sigmoid(pre(0)), sigmoid(pre(1)), Math.tanh(pre(2)), sigmoid(pre(3))];
        for (const [k, v] of [i, f, g, o].entries()) act[b * G + k * H + j] = v;
        c[b * H + j] = f * s.c![b * H + j]! + i * g;
        h[b * H + j] = o * Math.tanh(c[b * H + j]!);
      }
      return { state: { h, c }, cache: { x, h: s.h!, c: s.c!, act, cNew: c, hh } };
    },
    backward(p, k, d, B): HandStepGrads {
      const da = new Float64Array(B * G);
      const dcPrev = new Float64Array(B * H);
      for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) {
        const [i, f, g, o] = [0, 1, 2, 3].map((q) => k.act[b * G + q * H + j]!) as [number, number, number, number];
        const tc = Math.tanh(k.cNew[b * H + j]!);
        const dh = d.h![b * H + j]!;
        // dc_t = dh_t o_t (1 − tanh² c_t) + dc_{t+1} f_{t+1}   (the bug forgets the second term)
        const dc = dh * o * (1 - tc * tc) + (bug ? 0 : d.c![b * H + j]!);
        da[b * G + j] = dc * g * i * (1 - i);
        da[b * G + H + j] = dc * k.c[b * H + j]! * f * (1 - f);
        da[b * G + 2 * H + j] = dc * i * (1 - g * g);
        da[b * G + 3 * H + j] = dh * tc * o * (1 - o);
        dcPrev[b * H + j] = dc * f;
      }
      const gate = (q: number) => Float64Array.from({ length: B * H }, (_, e) => da[Math.floor(e / H) * G + q * H + (e % H)]!);
      const db = colSum(da, B, G);
      return {
        dx: mul(da, p.weightIh!, B, G, I),
        dState: { h: mul(da, p.weightHh!, B, G, H), c: dcPrev },
        dParams: { weightIh: outer(da, k.x, B, G, I), weightHh: outer(da, k.h, B, G, H), biasIh: db, biasHh: db },
        dGates: { i: gate(0), f: gate(1), g: gate(2), o: gate(3) },
      };
    },
  };
}

/** A user's GRU step (PyTorch placement) by hand; `bug` flips the sign of dz = dh ⊙ (h − n). */
function handGru(I: number, H: number, bug: boolean): BpttCell<StepCache> {
  const G = 3 * H;
  return {
    ...gruBpttCell({ inputSize: I, hiddenSize: H }),
    forward(p, x, s, B) {
      const a = mulT(x, p.weightIh!, B, I, G);
      const hh = mulT(s.h!, p.weightHh!, B, H, G);
      const act = new Float64Array(B * G);
      const h = new Float64Array(B * H);
      for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) {
        const xi = (k: number) => a[b * G + k * H + j]! + p.biasIh![k * H + j]!;
        const hi = (k: number) => hh[b * G + k * H + j]! + p.biasHh![k * H + j]!;
        const r = sigmoid(xi(0) + hi(0));
        const z = sigmoid(xi(1) + hi(1));
        const n = Math.tanh(xi(2) + r * hi(2));
        act[b * G + j] = r;
        act[b * G + H + j] = z;
        act[b * G + 2 * H + j] = n;
        hh[b * G + 2 * H + j] = hi(2);
        h[b * H + j] = (1 - z) * n + z * s.h![b * H + j]!;
      }
      return { state: { h }, cache: { x, h: s.h!, c: h, act, cNew: h, hh } };
    },
    backward(p, k, d, B): HandStepGrads {
      const dGi = new Float64Array(B * G);
      const dGh = new Float64Array(B * G);
      const dhPrev = new Float64Array(B * H);
      for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) {
        const [r, z, n] = [0, 1, 2].map((q) => k.act[b * G + q * H + j]!) as [number, number, number];
        const dh = d.h![b * H + j]!;
        const hp = k.h[b * H + j]!;
        const dz = dh * (bug ? n - hp : hp - n);
        const dan = dh * (1 - z) * (1 - n * n);
        const dar = dan * k.hh[b * G + 2 * H + j]! * r * (1 - r);
        const daz = dz * z * (1 - z);
        for (const [q, v] of [dar, daz, dan].entries()) dGi[b * G + q * H + j] = v;
        for (const [q, v] of [dar, daz, dan * r].entries()) dGh[b * G + q * H + j] = v;
        dhPrev[b * H + j] = dh * z;
      }
      const rec = mul(dGh, p.weightHh!, B, G, H);
      for (let e = 0; e < B * H; e++) dhPrev[e] += rec[e]!;
      const gate = (q: number) => Float64Array.from({ length: B * H }, (_, e) => dGi[Math.floor(e / H) * G + q * H + (e % H)]!);
      return {
        dx: mul(dGi, p.weightIh!, B, G, I),
        dState: { h: dhPrev },
        dParams: { weightIh: outer(dGi, k.x, B, G, I), weightHh: outer(dGh, k.h, B, G, H), biasIh: colSum(dGi, B, G), biasHh: colSum(dGh, B, G) },
        dGates: { r: gate(0), z: gate(1), n: gate(2) },
      };
    },
  };
}

describe('checkBptt', () => {
  // Cells with different cache types: BpttCell is invariant in its cache, so the list holds them as any.
  const builtIns: BpttCell<any>[] = [
    rnnBpttCell({ inputSize: 3, hiddenSize: 4 }),
    rnnBpttCell({ inputSize: 3, hiddenSize: 4, nonlinearity: 'relu', bias: false }),
    lstmBpttCell({ inputSize: 3, hiddenSize: 4 }),
    lstmBpttCell({ inputSize: 3, hiddenSize: 4, projSize: 2, bias: false }),
    gruBpttCell({ inputSize: 3, hiddenSize: 4 }),
    gruBpttCell({ inputSize: 3, hiddenSize: 4, resetAfter: false }),
  ];
  for (const cell of builtIns) {
    test(`checkBptt: the built-in ${cell.name} cell (${Object.keys(cell.paramShapes).join(', ')}) passes`, () => {
      const r = checkBptt(cell, { batch: 3, steps: 6, seed: 11 });
      expect(r.first?.message ?? null).toBeNull();
      expect(r.ok).toBe(true);
      expect(r.compared).toBeGreaterThan(100);
      expect(r.maxAbsDiff).toBeLessThan(1e-12);
    });
  }

  test('checkBptt: every built-in cell passes for random sizes, batch, length and seed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }), fc.integer({ min: 2, max: 5 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6 }),
        fc.boolean(), fc.nat(1000),
        (I, H, batch, steps, bias, seed) => {
          const cells: BpttCell<any>[] = [
            rnnBpttCell({ inputSize: I, hiddenSize: H, bias }),
            lstmBpttCell({ inputSize: I, hiddenSize: H, bias, projSize: seed % 2 ? H - 1 : 0 }),
            gruBpttCell({ inputSize: I, hiddenSize: H, bias, resetAfter: seed % 3 !== 0 }),
          ];
          for (const cell of cells) expect(checkBptt(cell, { batch, steps, seed }).first?.message ?? null).toBeNull();
        },
      ),
    );
  });

  test('checkBptt: a correct hand-written LSTM and GRU pass', () => {
    expect(checkBptt(handLstm(3, 4, false), { steps: 6 }).first).toBeNull();
    expect(checkBptt(handGru(3, 4, false), { steps: 6 }).first).toBeNull();
  });

  test('checkBptt: a missing f_{t+1} term in the LSTM dc is reported at the first step that has a dc_{t+1}, gate i', () => {
    // The loss reads only h, so step T−1 gets no dc from the future and is right; step T−2 is the first wrong one.
    const r = checkBptt(handLstm(3, 4, true), { steps: 6, lossOn: ['h'] });
    expect(r.ok).toBe(false);
    expect(r.first).toMatchObject({ step: 4, kind: 'gate', name: 'i' });
    expect(r.first!.message).toMatch(/^checkBptt\(lstm\): step 4, gate 'i'\[\d,\d\]: autograd .*, hand /);
    // With the loss on c too, even the last step misses the upstream dc.
    expect(checkBptt(handLstm(3, 4, true), { steps: 6 }).first).toMatchObject({ step: 5, kind: 'gate', name: 'i' });
  });

  test('checkBptt: a wrong sign in the GRU z gradient is reported at the last step, gate z, after r agreed', () => {
    const r = checkBptt(handGru(3, 4, true), { steps: 6 });
    expect(r.first).toMatchObject({ step: 5, kind: 'gate', name: 'z' });
    expect(Math.sign(r.first!.hand)).toBe(-Math.sign(r.first!.autograd));
  });

  test('checkBptt: reports a forward disagreement before any gradient', () => {
    const good = gruBpttCell({ inputSize: 2, hiddenSize: 3 });
    const cell: BpttCell<unknown> = {
      ...(good as BpttCell<unknown>),
      forward(p: Float64Record, x, s, B) {
        const r = good.forward(p, x, s, B);
        return { state: { h: r.state.h!.map((v, e) => (e === 4 ? v + 1e-3 : v)) }, cache: r.cache };
      },
    };
    expect(checkBptt(cell, { steps: 4 }).first).toMatchObject({ step: 0, kind: 'forward', name: 'h', index: [1, 1] });
  });
});
