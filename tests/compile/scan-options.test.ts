import { describe, expect, test } from 'vitest';
import {
  Generator, SeqgradError, type Tensor, add, explainScan, gradcheck, grad, linear, mul, ones, randn, scan, sum, tanh, zeros,
  type ScanOptions,
} from '@seqgrad/autograd';
import { Bidirectional, GRUCell, LSTMCell, Recurrent } from '@seqgrad/layers';

/**
 * scan's recurrent regularisation (inputDropout, recurrentDropout, zoneout) and its
 * memory-light BPTT (checkpoint), for built-in cells and plain functions, compiled and op by op.
 */

const f64 = { dtype: 'float64' as const };
type S = { h: Tensor } & Record<string, Tensor>;

/** (B, T, n) as nested arrays. */
const arr3 = (t: Tensor) => t.toArray() as number[][][];

describe.each([true, false])('scan regularisation (compile: %s)', (compile) => {
  test('scan: recurrentDropout uses one mask per sequence, the same at every step', () => {
    // m' = the h the step sees (mask · h_prev); h' = 1, so m_t is the mask itself at every t.
    const step = (_x: Tensor, s: S) => ({ h: add(mul(s.h, 0), 1), m: s.h });
    const B = 4, T = 7, H = 50, p = 0.3;
    const r = scan(step, zeros([B, T, 2], f64), { h: ones([B, H], f64), m: zeros([B, H], f64) }, {
      recurrentDropout: p, generator: new Generator(1), collect: ['m'], compile,
    });
    const m = arr3(r.sequences.m!);
    let dropped = 0;
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) {
        const v = m[b]![0]![j]!;
        expect(v === 0 || Math.abs(v - 1 / (1 - p)) < 1e-15).toBe(true);
        if (v === 0) dropped++;
        for (let t = 1; t < T; t++) expect(m[b]![t]![j]).toBe(v);
      }
    }
    expect(dropped / (B * H)).toBeGreaterThan(0.15);
    expect(dropped / (B * H)).toBeLessThan(0.45);
    // Masks differ between sequences of the batch.
    expect(m[0]![0]).not.toEqual(m[1]![0]);
    expect(Object.keys(r.state).sort()).toEqual(['h', 'm']);
  });

  test('scan: inputDropout masks x with one mask per sequence, constant over time', () => {
    const step = (x: Tensor, s: S) => ({ h: add(mul(s.h, 0), x) });
    const r = scan(step, ones([3, 6, 40], f64), { h: zeros([3, 40], f64) }, { inputDropout: 0.5, generator: new Generator(2), compile });
    const o = arr3(r.output);
    for (let b = 0; b < 3; b++) for (let t = 1; t < 6; t++) expect(o[b]![t]).toEqual(o[b]![0]);
    expect(new Set(o.flat(2))).toEqual(new Set([0, 2]));
  });

  test('scan: zoneout draws a fresh mask per step in training and uses the expectation in eval', () => {
    const step = (_x: Tensor, s: S) => ({ h: add(s.h, 1) });
    const B = 2, T = 30, H = 20, p = 0.25;
    const x = zeros([B, T, 1], f64), h0 = zeros([B, H], f64);
    const train = arr3(scan(step, x, { h: h0 }, { zoneout: p, generator: new Generator(3), compile }).output);
    // Each unit increments when it does not zone out: h_t counts the updates so far.
    let kept = 0;
    const finals = new Set<number>();
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) {
        let prev = 0;
        for (let t = 0; t < T; t++) {
          const v = train[b]![t]![j]!;
          expect(v === prev || v === prev + 1).toBe(true);
          if (v === prev) kept++;
          prev = v;
        }
        finals.add(prev);
      }
    }
    expect(kept / (B * T * H)).toBeGreaterThan(0.18);
    expect(kept / (B * T * H)).toBeLessThan(0.32);
    expect(finals.size).toBeGreaterThan(3);
    const ev = arr3(scan(step, x, { h: h0 }, { zoneout: p, training: false, compile }).output);
    for (let t = 0; t < T; t++) expect(ev[1]![t]![5]).toBeCloseTo((t + 1) * (1 - p), 12);
  });

  test('scan: the same generator seed gives the same masks; eval mode is plain scan', () => {
    const cell = new LSTMCell(3, 5, { ...f64, generator: new Generator(0) });
    const x = randn([2, 6, 3], { ...f64, generator: new Generator(1) });
    const opts = (seed: number): ScanOptions => ({ inputDropout: 0.2, recurrentDropout: 0.3, zoneout: { c: 0.4, h: 0.1 }, generator: new Generator(seed), compile });
    const a = scan(cell, x, cell.initialState(2), opts(7)).output;
    const b = scan(cell, x, cell.initialState(2), opts(7)).output;
    const c = scan(cell, x, cell.initialState(2), opts(8)).output;
    expect(a).toBeAllclose(b, { atol: 0, rtol: 0 });
    expect(a).not.toBeAllclose(c, { atol: 1e-3, rtol: 0 });
    const plain = scan(cell, x, cell.initialState(2), { compile }).output;
    const ev = scan(cell, x, cell.initialState(2), { inputDropout: 0.2, recurrentDropout: 0.3, training: false, compile }).output;
    expect(plain).toBeAllclose(ev, { atol: 0, rtol: 0 });
  });

  test('scan: gradients through dropout and zoneout pass gradcheck with the masks fixed', () => {
    const cell = new GRUCell(2, 3, { ...f64, generator: new Generator(4) });
    const x = randn([2, 4, 2], { ...f64, generator: new Generator(5), requiresGrad: true });
    const h0 = randn([2, 3], { ...f64, generator: new Generator(6), requiresGrad: true });
    const fn = (xx: Tensor, hh: Tensor, ...params: Tensor[]) => {
      void params;
      return scan(cell, xx, { h: hh }, {
        inputDropout: 0.3, recurrentDropout: 0.4, zoneout: 0.3, generator: new Generator(9), compile, lengths: [4, 2],
      }).output;
    };
    expect(gradcheck(fn, [x, h0, ...cell.parameters()], { atol: 1e-7 })).toBe(true);
  });
});

describe('scan regularisation: compiled against op by op', () => {
  test('scan: compiled and eager agree to 1e-12 in float64 with dropout, zoneout, lengths and reverse', () => {
    for (const reverse of [false, true]) {
      const cell = new LSTMCell(3, 4, { ...f64, generator: new Generator(10) });
      const x = randn([3, 6, 3], { ...f64, generator: new Generator(11), requiresGrad: true });
      const run = (compile: boolean) => {
        const r = scan(cell, x, cell.initialState(3), {
          inputDropout: 0.2, recurrentDropout: 0.3, zoneout: { h: 0.1, c: 0.5 }, generator: new Generator(12), compile, reverse, lengths: [6, 2, 4],
        });
        const loss = add(sum(mul(r.output, r.output)), sum(r.state.c!));
        return [r.output, ...grad(loss, [x, ...cell.parameters()])] as Tensor[];
      };
      const a = run(true), b = run(false);
      a.forEach((t, i) => expect(t).toBeAllclose(b[i]!, { atol: 1e-12, rtol: 0 }));
    }
  });

  test('scan: bad rates and zoneout entries are refused by name', () => {
    const step = (_x: Tensor, s: S) => ({ h: s.h });
    const x = zeros([1, 2, 1]), h = zeros([1, 2]);
    expect(() => scan(step, x, { h }, { recurrentDropout: 1 })).toThrow(/recurrentDropout must be a number in \[0, 1\)/);
    expect(() => scan(step, x, { h }, { zoneout: { c: 0.1 } })).toThrow(/zoneout names 'c', which is not a state entry \(h\)/);
    expect(() => scan(step, x, { h }, { inputDropout: -0.1 })).toThrow(SeqgradError);
  });
});

describe('scan checkpoint', () => {
  const cases = [
    { compile: true, reverse: false, lengths: null },
    { compile: true, reverse: true, lengths: [10, 3, 7] },
    { compile: false, reverse: false, lengths: [10, 3, 7] },
    { compile: false, reverse: true, lengths: null },
    { compile: true, reverse: false, lengths: [1, 10, 4] },
  ];
  test.each(cases)('scan: checkpointed gradients equal plain BPTT to 1e-12, of x and the initial state bit for bit (%o)', ({ compile, reverse, lengths }) => {
    for (const k of [1, 3, 4, true, 10, 25] as const) {
      const cell = new LSTMCell(3, 4, { ...f64, generator: new Generator(20) });
      const x = randn([3, 10, 3], { ...f64, generator: new Generator(21), requiresGrad: true });
      const s0 = cell.initialState(3);
      const h0 = randn([3, 4], { ...f64, generator: new Generator(22), requiresGrad: true });
      const run = (checkpoint: number | boolean) => {
        const r = scan(cell, x, { ...s0, h: h0 }, { compile, reverse, lengths, checkpoint, collect: ['c'] });
        const loss = add(add(sum(mul(r.output, r.output)), sum(tanh(r.state.c!))), sum(mul(r.sequences.c!, 0.5)));
        return [r.output, r.state.h, r.state.c!, r.sequences.c!, ...grad(loss, [x, h0, ...cell.parameters()])] as Tensor[];
      };
      const plain = run(false), ck = run(k);
      plain.forEach((t, i) => expect(t).toBeAllclose(ck[i]!, { atol: 1e-12, rtol: 0 }));
      // The forward values are the same arithmetic step by step: equal bit for bit.
      for (let i = 0; i < 4; i++) expect(plain[i]!).toBeAllclose(ck[i]!, { atol: 0, rtol: 0 });
      // So are the gradients of x and the initial state: only parameter gradients are summed
      // over the steps in another order.
      expect(plain[4]!).toBeAllclose(ck[4]!, { atol: 0, rtol: 0 });
      expect(plain[5]!).toBeAllclose(ck[5]!, { atol: 0, rtol: 0 });
    }
  });

  test('scan: checkpoint with a plain function needs params, and then matches plain BPTT', () => {
    const W = randn([4, 2], { ...f64, generator: new Generator(30), requiresGrad: true });
    const U = randn([4, 4], { ...f64, generator: new Generator(31), requiresGrad: true });
    const step = (x: Tensor, s: S) => ({ h: tanh(add(linear(x, W), linear(s.h, U))) });
    const x = randn([2, 9, 2], { ...f64, generator: new Generator(32) });
    const h = zeros([2, 4], f64);
    expect(() => scan(step, x, { h }, { checkpoint: 3 })).toThrow(/checkpoint needs the tensors the step reads: pass a cell .* or a params option/);
    expect(() => scan(step, x, { h }, { checkpoint: 0, params: [W, U] })).toThrow(/checkpoint must be true or a positive integer/);
    const g = (opts: ScanOptions) => grad(sum(scan(step, x, { h }, opts).output), [W, U]);
    const a = g({}), b = g({ checkpoint: 3, params: [W, U] });
    a.forEach((t, i) => expect(t!).toBeAllclose(b[i]!, { atol: 1e-12, rtol: 0 }));
  });

  test('scan: checkpoint composes with dropout (the same masks, the same gradients)', () => {
    const cell = new LSTMCell(3, 4, { ...f64, generator: new Generator(40) });
    const x = randn([2, 8, 3], { ...f64, generator: new Generator(41) });
    const run = (checkpoint: number | boolean) => {
      const r = scan(cell, x, cell.initialState(2), { recurrentDropout: 0.3, zoneout: 0.2, generator: new Generator(42), checkpoint });
      return [r.output, ...grad(sum(r.output), cell.parameters())] as Tensor[];
    };
    const a = run(false), b = run(true);
    a.forEach((t, i) => expect(t).toBeAllclose(b[i]!, { atol: 1e-12, rtol: 0 }));
  });
});

describe('Recurrent: dropout, zoneout and checkpoint options', () => {
  test('Recurrent: masks only in training mode; checkpoint gives the same gradients', () => {
    const cell = new LSTMCell(3, 5, { ...f64, generator: new Generator(50) });
    const x = randn([2, 6, 3], { ...f64, generator: new Generator(51) });
    const plain = new Recurrent(cell).forward(x).output;
    const reg = new Recurrent(cell, { inputDropout: 0.3, recurrentDropout: 0.3, zoneout: { c: 0.5 }, generator: new Generator(52) });
    expect(reg.forward(x).output).not.toBeAllclose(plain, { atol: 1e-3, rtol: 0 });
    reg.eval();
    const ev = reg.forward(x).output;
    const zo = scan(cell, x, cell.initialState(2), { zoneout: { c: 0.5 }, training: false }).output;
    expect(ev).toBeAllclose(zo, { atol: 0, rtol: 0 });
    const ck = new Recurrent(cell, { checkpoint: 2 });
    const ga = grad(sum(new Recurrent(cell).forward(x).output), cell.parameters());
    const gb = grad(sum(ck.forward(x).output), cell.parameters());
    ga.forEach((t, i) => expect(t!).toBeAllclose(gb[i]!, { atol: 1e-12, rtol: 0 }));
    expect(() => new Recurrent(cell, { zoneout: { z: 0.1 } })).toThrow(/zoneout names 'z', which is not a state entry of LSTMCell/);
    expect(() => new Recurrent(cell, { checkpoint: 1.5 })).toThrow(/checkpoint must be a boolean or a positive integer/);
  });
});

describe('scan checkpoint: higher order', () => {
  test('scan: createGraph through a checkpointed scan gives the same second derivatives as plain BPTT', () => {
    const cell = new GRUCell(2, 3, { ...f64, generator: new Generator(60) });
    const x = randn([2, 6, 2], { ...f64, generator: new Generator(61), requiresGrad: true });
    const run = (checkpoint: number | boolean) => {
      const out = scan(cell, x, cell.initialState(2), { checkpoint, lengths: [6, 4] }).output;
      const [dx] = grad(sum(mul(out, out)), [x], { createGraph: true });
      return grad(sum(mul(dx!, dx!)), [x, ...cell.parameters()]) as Tensor[];
    };
    const a = run(false), b = run(4);
    a.forEach((t, i) => expect(t).toBeAllclose(b[i]!, { atol: 1e-12, rtol: 0 }));
  });
});

describe('scan regularisation: compiled plan', () => {
  test('explainScan: an LSTM cell with dropout and zoneout still compiles, and Bidirectional passes the options', () => {
    const cell = new LSTMCell(3, 4, { ...f64, generator: new Generator(70) });
    const x = randn([2, 5, 3], { ...f64, generator: new Generator(71) });
    const g = new Generator(73);
    const e = explainScan(cell, x, cell.initialState(2), { inputDropout: 0.1, recurrentDropout: 0.2, zoneout: { c: 0.3 }, generator: g });
    expect(g.uniform()).toBe(new Generator(73).uniform());
    expect(e.compiled).toBe(true);
    expect(e.plan!.hoistedGemms).toBeGreaterThan(0);
    const bi = new Bidirectional(cell, undefined, { recurrentDropout: 0.5, generator: new Generator(72) });
    const a = bi.forward(x).output;
    expect(a).not.toBeAllclose(bi.forward(x).output, { atol: 1e-3, rtol: 0 });
    bi.eval();
    const plain = new Bidirectional(cell, bi.backwardLayer.cell);
    expect(bi.forward(x).output).toBeAllclose(plain.forward(x).output, { atol: 0, rtol: 0 });
  });
});

describe('explainScan: checkpoint and masks', () => {
  test('explainScan: reports checkpointing with k = ⌈√T⌉ by default and the number of segments for the T given', () => {
    const cell = new GRUCell(3, 4, { ...f64, generator: new Generator(80) });
    const s0 = cell.initialState(2);
    const at = (T: number, checkpoint: number | boolean) => explainScan(cell, zeros([2, T, 3], f64), s0, { checkpoint }).checkpoint;
    expect(at(100, true)).toEqual({ every: 10, segments: 10 });
    expect(at(101, true)).toEqual({ every: 11, segments: 10 });
    expect(at(10, 3)).toEqual({ every: 3, segments: 4 });
    expect(at(2, 5)).toEqual({ every: 5, segments: 1 });
    expect(at(10, false)).toBeNull();
    const e = explainScan(cell, zeros([2, 50, 3], f64), s0, { checkpoint: true });
    expect(e.compiled).toBe(true);
    expect(e.text).toMatch(/^compiled: .*; checkpointed BPTT: the state is kept every 8 steps \(7 segments for T=50\)/);
    expect(explainScan(cell, zeros([2, 50, 3], f64), s0).text).not.toMatch(/checkpoint/);
    expect(() => explainScan(cell, zeros([2, 5, 3], f64), s0, { checkpoint: 0 })).toThrow(/checkpoint must be true or a positive integer/);
  });

  test('explainScan: says how the dropout and zoneout masks are drawn, per state entry, and that eval mode draws none', () => {
    const cell = new LSTMCell(3, 4, { ...f64, generator: new Generator(81) });
    const x = zeros([2, 6, 3], f64);
    const e = explainScan(cell, x, cell.initialState(2), { inputDropout: 0.1, recurrentDropout: 0.2, zoneout: { c: 0.3 }, checkpoint: 2 });
    expect(e.regularization).toEqual({ training: true, inputDropout: 0.1, recurrentDropout: 0.2, zoneout: { h: 0, c: 0.3 } });
    expect(e.checkpoint).toEqual({ every: 2, segments: 3 });
    expect(e.text).toMatch(/inputDropout 0.1 on x and recurrentDropout 0.2 on the h the step reads: one mask per sequence, the same at every step; zoneout \(c 0.3\): a fresh mask per step and unit; all masks drawn from the generator once per call, before the loop/);
    const ev = explainScan(cell, x, cell.initialState(2), { recurrentDropout: 0.2, zoneout: 0.3, training: false });
    expect(ev.regularization!.zoneout).toEqual({ h: 0.3, c: 0.3 });
    expect(ev.text).toMatch(/evaluation mode: no dropout; zoneout \(h 0.3, c 0.3\) by its expectation/);
    expect(explainScan(cell, x, cell.initialState(2)).regularization).toBeNull();
    // Recurrent.explain passes its options through.
    const layer = new Recurrent(cell, { recurrentDropout: 0.5, checkpoint: true });
    expect(layer.explain(zeros([2, 9, 3], f64)).checkpoint).toEqual({ every: 3, segments: 3 });
    expect(layer.explain(zeros([2, 9, 3], f64)).regularization!.recurrentDropout).toBe(0.5);
  });
});

describe('scan zoneout per state entry', () => {
  test('scan: zoneout { h, c } keeps each entry at its own rate, with a fresh mask at each step', () => {
    // h and c count their own updates: each unit of an entry stays when it zones out.
    const step = (_x: Tensor, s: S) => ({ h: add(s.h, 1), c: add(s.c!, 1) });
    const B = 4, T = 40, H = 25;
    const r = scan(step, zeros([B, T, 1], f64), { h: zeros([B, H], f64), c: zeros([B, H], f64) }, {
      zoneout: { h: 0.1, c: 0.6 }, generator: new Generator(90), collect: ['c'],
    });
    const kept = (seq: number[][][]) => {
      let n = 0;
      const perStep = new Set<string>();
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          const row: number[] = [];
          for (let j = 0; j < H; j++) {
            const prev = t === 0 ? 0 : seq[b]![t - 1]![j]!;
            const v = seq[b]![t]![j]!;
            expect(v === prev || v === prev + 1).toBe(true);
            row.push(v === prev ? 1 : 0);
            if (v === prev) n++;
          }
          perStep.add(row.join(''));
        }
      }
      return { rate: n / (B * T * H), distinctMasks: perStep.size };
    };
    const h = kept(arr3(r.output)), c = kept(arr3(r.sequences.c!));
    expect(h.rate).toBeGreaterThan(0.06);
    expect(h.rate).toBeLessThan(0.14);
    expect(c.rate).toBeGreaterThan(0.54);
    expect(c.rate).toBeLessThan(0.66);
    // Not one mask for the whole sequence: the steps' masks differ.
    expect(c.distinctMasks).toBeGreaterThan(B * T * 0.9);
    // An entry left out of the object is not zoned out.
    const onlyC = scan(step, zeros([B, T, 1], f64), { h: zeros([B, H], f64), c: zeros([B, H], f64) }, { zoneout: { c: 0.6 }, generator: new Generator(91) });
    expect(kept(arr3(onlyC.output)).rate).toBe(0);
  });

  test('scan: an LSTM with zoneout { h, c } and recurrent dropout passes gradcheck with the masks fixed', () => {
    const cell = new LSTMCell(2, 3, { ...f64, generator: new Generator(92) });
    const x = randn([2, 5, 2], { ...f64, generator: new Generator(93), requiresGrad: true });
    const c0 = randn([2, 3], { ...f64, generator: new Generator(94), requiresGrad: true });
    const fn = (xx: Tensor, cc: Tensor, ...params: Tensor[]) => {
      void params;
      const r = scan(cell, xx, { h: zeros([2, 3], f64), c: cc }, {
        recurrentDropout: 0.3, zoneout: { h: 0.2, c: 0.5 }, generator: new Generator(95), lengths: [5, 3],
      });
      return add(sum(mul(r.output, r.output)), sum(r.state.c!));
    };
    expect(gradcheck(fn, [x, c0, ...cell.parameters()], { atol: 1e-7 })).toBe(true);
  });
});
