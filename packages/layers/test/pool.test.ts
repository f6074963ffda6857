import { describe, expect, test } from 'vitest';
import { Tensor, kernels, manualSeed, noGrad, randn } from '@seqgrad/autograd';
import { GRU, LSTM, RNN, emptyCache, lstmForward, lstmInference } from '@seqgrad/layers';
import { give, poolStats, take, takeZeroed } from '../src/bptt/pool.js';

describe('pool', () => {
  test('take: hands back an array that was given, of the same type and length only', () => {
    const a = new Float32Array(1000).fill(3);
    give(a);
    expect(take(new Float64Array(1), 1000)).not.toBe(a);
    expect(take(new Float32Array(1), 999)).not.toBe(a);
    expect(take(new Float32Array(1), 1000)).toBe(a);
    expect(take(new Float32Array(1), 1000)).not.toBe(a);
  });

  test('takeZeroed: a pooled array comes back zeroed', () => {
    const a = new Float32Array(777).fill(Number.NaN);
    give(a);
    const b = takeZeroed(new Float32Array(1), 777);
    expect(b).toBe(a);
    expect(b.every((v) => v === 0)).toBe(true);
  });

  test('emptyCache: lets go of every idle array; the next take allocates afresh', () => {
    const a = new Float32Array(4321);
    give(a);
    expect(poolStats().bytes).toBeGreaterThanOrEqual(4321 * 4);
    emptyCache();
    expect(poolStats()).toEqual({ arrays: 0, bytes: 0 });
    expect(take(new Float32Array(1), 4321)).not.toBe(a);
  });

  test('give: keeps at most 32 idle arrays of one length, dropping the oldest', () => {
    emptyCache();
    const arrays = Array.from({ length: 40 }, () => new Float32Array(99));
    give(...arrays);
    expect(poolStats().arrays).toBe(32);
    const back = Array.from({ length: 33 }, () => take(new Float32Array(1), 99));
    // newest first, the 8 oldest gone, then a fresh one
    expect(back.slice(0, 32).every((b, i) => b === arrays[39 - i])).toBe(true);
    expect(arrays.some((a) => a === back[32])).toBe(false);
  });

  test('give: the same array given twice is refused (two takers would share it)', () => {
    const a = new Float64Array(555);
    give(a);
    expect(() => give(a)).toThrow(/pool\.give: an array of 555 values was given back twice/);
    expect(take(new Float64Array(1), 555)).toBe(a);
  });
});

/** A fused layer's output and every gradient for one input, as plain arrays. */
function step(net: LSTM | GRU | RNN, x: Tensor, lengths?: Int32Array): number[][] {
  net.zeroGrad();
  x.grad = null;
  const { output, state } = net.forward(x, undefined, lengths ? { lengths } : undefined);
  output.square().sum().add(state.h.sum()).backward();
  return [Array.from(output.data), Array.from(x.grad!.data), ...net.parameters().map((p) => Array.from(p.grad!.data))];
}

describe('fused layers with pooled buffers', () => {
  const layers = [
    ['LSTM', (I: number, H: number) => new LSTM(I, H, { batchFirst: true, impl: 'fused' })],
    ['LSTM with projection', (I: number, H: number) => new LSTM(I, H, { batchFirst: true, impl: 'fused', projSize: 4 })],
    ['GRU', (I: number, H: number) => new GRU(I, H, { batchFirst: true, impl: 'fused' })],
    ['RNN', (I: number, H: number) => new RNN(I, H, { batchFirst: true, impl: 'fused' })],
  ] as const;

  for (const [name, make] of layers) {
    test(`${name}(fused): steps that reuse pooled buffers give what fresh ones give, across padded batches and after NaN`, () => {
      manualSeed(7);
      const net = make(5, 8);
      const x = new Tensor(randn([3, 6, 5]).data, [3, 6, 5], true);
      const padded = new Tensor(randn([3, 6, 5]).data, [3, 6, 5], true);
      const lengths = Int32Array.from([6, 2, 4]);
      // The first steps run on fresh arrays; the ones after reuse what those gave back.
      const first = step(net, x);
      const firstPadded = step(net, padded, lengths);
      expect(poolStats().arrays).toBeGreaterThan(0);
      // A step on NaN input leaves NaN in every buffer it gives back.
      const poisoned = new Tensor(new Float32Array(3 * 6 * 5).fill(Number.NaN), [3, 6, 5], true);
      step(net, poisoned);
      for (let k = 0; k < 2; k++) {
        expect(step(net, padded, lengths)).toEqual(firstPadded);
        expect(step(net, x)).toEqual(first);
      }
    });
  }

  test('LSTM(fused): backward twice with retainGraph keeps the cache until the graph is freed', () => {
    manualSeed(3);
    const net = new LSTM(4, 8, { batchFirst: true, impl: 'fused' });
    const x = new Tensor(randn([2, 5, 4]).data, [2, 5, 4], true);
    const loss = net.forward(x).output.sum();
    loss.backward(undefined, { retainGraph: true });
    const g1 = Array.from(x.grad!.data);
    // Another step in between takes whatever is idle in the pool.
    step(net, new Tensor(randn([2, 5, 4]).data, [2, 5, 4], true));
    x.grad = null;
    loss.backward();
    expect(Array.from(x.grad!.data)).toEqual(g1);
  });

  for (const [name, make] of layers) {
    test(`${name}(fused): a forward under noGrad equals the recorded forward bit for bit (lengths, reverse via bidirectional)`, () => {
      manualSeed(11);
      const net = make(5, 8);
      const x = new Tensor(randn([4, 7, 5]).data, [4, 7, 5], true);
      const lengths = Int32Array.from([7, 1, 3, 5]);
      for (const opts of [undefined, { lengths }]) {
        const a = net.forward(x, undefined, opts);
        const b = noGrad(() => net.forward(x, undefined, opts));
        expect(Array.from(b.output.data)).toEqual(Array.from(a.output.data));
        expect(Array.from(b.state.h.data)).toEqual(Array.from(a.state.h.data));
        const ca = (a.state as { c?: Tensor }).c;
        const cb = (b.state as { c?: Tensor }).c;
        expect(cb && Array.from(cb.data)).toEqual(ca && Array.from(ca.data));
      }
    });
  }
});

describe('lstmInference', () => {
  test('lstmInference: output and final state equal lstmForward bit for bit (float32 WebAssembly and TypeScript loops, float64, projection, lengths, reverse)', () => {
    manualSeed(5);
    const B = 3;
    const T = 6;
    const I = 5;
    const H = 8;
    for (const P of [0, 4]) {
      for (const dtype of ['float32', 'float64'] as const) {
        for (const wasm of [true, false]) {
          const S = P || H;
          const arr = (shape: number[]) => randn(shape, { dtype }).data as Float32Array | Float64Array;
          const p = {
            weightIh: arr([4 * H, I]), weightHh: arr([4 * H, S]), biasIh: arr([4 * H]), biasHh: arr([4 * H]),
            weightHr: P ? arr([P, H]) : null,
          };
          const x = arr([B, T, I]);
          const h0 = arr([B, S]);
          const c0 = arr([B, H]);
          const dims = { B, T, I, H, ...(P ? { P } : {}) };
          const was = kernels.setWasmGates(wasm);
          try {
            for (const opts of [{}, { lengths: Int32Array.from([6, 2, 4]) }, { reverse: true, lengths: Int32Array.from([1, 6, 3]) }]) {
              const want = lstmForward(p, x, h0, c0, dims, opts);
              const got = lstmInference(p, x, h0, c0, dims, opts);
              expect(Array.from(got.output)).toEqual(Array.from(want.output));
              expect(Array.from(got.hT)).toEqual(Array.from(want.hT));
              expect(Array.from(got.cT)).toEqual(Array.from(want.cT));
            }
          } finally {
            kernels.setWasmGates(was);
          }
        }
      }
    }
  });
});
