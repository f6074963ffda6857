import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import { Generator, kernels } from '@seqgrad/autograd';
import {
  type CellParams, type FloatArray, gruBackward, gruForward, gruInference, lstmBackward, lstmCells, lstmForward, rnnBackward, rnnForward,
  rnnInference,
} from '@seqgrad/layers';
import { inputProjection, scanTimes } from '../src/bptt/common.js';
import { gruForwardWasm, rnnForwardWasm, setChunkFloats } from '../src/bptt/wasmSteps.js';

/** max |a − b| / max(1, |b|) over the elements. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return m;
}

interface Case {
  B: number; T: number; I: number; H: number; P: number;
  lengths: Int32Array | undefined; reverse: boolean; seed: number;
  /** The chunk budget of the WebAssembly loops in floats: 1 gives one step per chunk. */
  chunk?: number;
  /** The RNN's nonlinearity (tanh when absent). */
  relu?: boolean;
}

/** Sizes the WebAssembly gate kernels take (H, P multiples of 4), with and without lengths, reversed or not. */
const caseArb: fc.Arbitrary<Case> = fc.record({
  B: fc.integer({ min: 1, max: 5 }), T: fc.integer({ min: 1, max: 7 }), I: fc.integer({ min: 1, max: 6 }),
  H4: fc.integer({ min: 1, max: 5 }), P4: fc.integer({ min: 0, max: 3 }), ragged: fc.boolean(), reverse: fc.boolean(), seed: fc.nat(),
  chunk: fc.constantFrom(1, 400, 1500, 1 << 22), relu: fc.boolean(),
}).map(({ B, T, I, H4, P4, ragged, reverse, seed, chunk, relu }) => ({
  B, T, I, H: 4 * H4, P: P4 < H4 ? 4 * P4 : 0, chunk, relu,
  lengths: ragged ? Int32Array.from({ length: B }, (_, b) => 1 + ((b * 5 + seed) % T)) : undefined, reverse, seed,
}));

type Arrays = { [k: string]: Float64Array | null };

/** Parameters and inputs in float64, U(−1/√H, 1/√H) weights and standard-ish inputs. */
function values(c: Case, G: number): Arrays {
  const gen = new Generator(c.seed);
  const S = c.P || c.H;
  const u = (n: number, s: number) => Float64Array.from({ length: n }, () => s * (2 * gen.uniform() - 1));
  const k = 1 / Math.sqrt(c.H);
  return {
    weightIh: u(G * c.H * c.I, k), weightHh: u(G * c.H * S, k), biasIh: u(G * c.H, k), biasHh: u(G * c.H, k),
    weightHr: c.P ? u(c.P * c.H, k) : null,
    x: u(c.B * c.T * c.I, 2), h0: u(c.B * S, 0.5), c0: u(c.B * c.H, 0.5),
    dOutput: u(c.B * c.T * S, 1), dhT: u(c.B * S, 1), dcT: u(c.B * c.H, 1), dCells: u(c.B * c.T * c.H, 1),
  };
}

const as32 = (v: Arrays): Record<string, FloatArray | null> =>
  Object.fromEntries(Object.entries(v).map(([k, a]) => [k, a ? Float32Array.from(a) : null]));

function params(v: Record<string, FloatArray | null>): CellParams {
  return { weightIh: v.weightIh!, weightHh: v.weightHh!, biasIh: v.biasIh, biasHh: v.biasHh, weightHr: v.weightHr };
}

/** Every result array of a forward and backward of `family` on these values. */
function run(family: 'lstm' | 'gru' | 'rnn', c: Case, v: Record<string, FloatArray | null>): Record<string, FloatArray> {
  const p = params(v);
  const dims = { B: c.B, T: c.T, I: c.I, H: c.H, ...(c.P ? { P: c.P } : {}) };
  const opts = { lengths: c.lengths, reverse: c.reverse };
  if (family === 'lstm') {
    const f = lstmForward(p, v.x!, v.h0, v.c0, dims, opts);
    const g = lstmBackward(p, f.cache, v.dOutput, v.dhT, v.dcT, { dCells: v.dCells!, keepStateGrads: true });
    return {
      output: f.output, hT: f.hT, cT: f.cT, gates: f.cache.gates, cells: lstmCells(f.cache), dx: g.dx, dh0: g.dh0, dc0: g.dc0,
      dWeightIh: g.dWeightIh, dWeightHh: g.dWeightHh, dBiasIh: g.dBiasIh!, dCell: g.dCell!, dHidden: g.dHidden!,
      ...(g.dWeightHr ? { dWeightHr: g.dWeightHr } : {}),
    };
  }
  if (family === 'gru') {
    const f = gruForward(p, v.x!, v.h0, dims, opts);
    const g = gruBackward(p, f.cache, v.dOutput, v.dhT, { keepStateGrads: true });
    return {
      output: f.output, hT: f.hT, gates: f.cache.gates, hPrev: f.cache.hPrev, hn: f.cache.hn, dx: g.dx, dh0: g.dh0,
      dWeightIh: g.dWeightIh, dWeightHh: g.dWeightHh, dBiasIh: g.dBiasIh!, dBiasHh: g.dBiasHh!, dGates: g.dGates, dHidden: g.dHidden!,
    };
  }
  const f = rnnForward(p, v.x!, v.h0, dims, { ...opts, nonlinearity: c.relu ? 'relu' : 'tanh' });
  const g = rnnBackward(p, f.cache, v.dOutput, v.dhT, { keepStateGrads: true });
  return {
    output: f.output, hT: f.hT, h: f.cache.h, hPrev: f.cache.hPrev, dx: g.dx, dh0: g.dh0,
    dWeightIh: g.dWeightIh, dWeightHh: g.dWeightHh, dBiasIh: g.dBiasIh!, dBiasHh: g.dBiasHh!, dGates: g.dGates, dHidden: g.dHidden!,
  };
}

afterEach(() => {
  kernels.setWasmGates(true);
});

describe('fused layers with the WebAssembly gate loops (float32)', () => {
  test('kernels.backend: reports the WebAssembly gate loops, and setWasmGates(false) the TypeScript ones', () => {
    expect(kernels.wasmGatesAvailable()).toBe(true);
    expect(kernels.backend().gates).toBe('wasm-simd');
    expect(kernels.setWasmGates(false)).toBe(true);
    expect(kernels.backend().gates).toBe('typescript');
    expect(kernels.wasmGates()).toBeNull();
    expect(kernels.backend().reason).toContain('kernels.setWasmGates');
  });

  for (const family of ['lstm', 'gru', 'rnn'] as const) {
    test(`${family}Forward, ${family}Backward: float32 with WebAssembly gates, and with the TypeScript gates, within 2e-5 of float64 and of each other (lengths, reverse, chunks down to one step${family === 'lstm' ? ', projection, dCells' : ''})`, () => {
      fc.assert(fc.property(caseArb, (c0) => {
        // tanh here; the relu RNN in its own test below
        const c = family === 'lstm' ? c0 : { ...c0, P: 0, relu: false };
        const v = values(c, family === 'lstm' ? 4 : family === 'gru' ? 3 : 1);
        const ref = run(family, c, v);
        const v32 = as32(v);
        kernels.setWasmGates(true);
        const previous = setChunkFloats(c.chunk ?? 1 << 22);
        let wasm: Record<string, FloatArray>;
        try {
          wasm = run(family, c, v32);
        } finally {
          setChunkFloats(previous);
        }
        kernels.setWasmGates(false);
        const js = run(family, c, v32);
        kernels.setWasmGates(true);
        for (const k of Object.keys(ref)) {
          expect(wasm[k], k).toBeInstanceOf(Float32Array);
          expect(relErr(wasm[k]!, ref[k]!), `${k} (WebAssembly)`).toBeLessThan(2e-5);
          expect(relErr(js[k]!, ref[k]!), `${k} (TypeScript)`).toBeLessThan(2e-5);
          expect(relErr(wasm[k]!, js[k]!), `${k} (WebAssembly against TypeScript)`).toBeLessThan(2e-5);
        }
      }));
    });
  }

  test('rnnBackward: relu in float32 with the WebAssembly backward loop within 2e-5 of the TypeScript loop (lengths, reverse, chunks down to one step)', () => {
    // Both runs share the float32 forward (relu forward is TypeScript either way), so h and the
    // relu masks agree exactly; against float64 a mask may flip where a pre-activation is near 0.
    fc.assert(fc.property(caseArb, (c0) => {
      const c = { ...c0, P: 0, relu: true };
      const v32 = as32(values(c, 1));
      const previous = setChunkFloats(c.chunk ?? 1 << 22);
      let wasm: Record<string, FloatArray>;
      try {
        wasm = run('rnn', c, v32);
      } finally {
        setChunkFloats(previous);
      }
      kernels.setWasmGates(false);
      const js = run('rnn', c, v32);
      kernels.setWasmGates(true);
      for (const k of Object.keys(js)) expect(relErr(wasm[k]!, js[k]!), k).toBeLessThan(2e-5);
    }));
  });

  test('gruForwardWasm, rnnForwardWasm: null cache arrays (inference) give the same outputs and final state, and leave pre untouched', () => {
    fc.assert(fc.property(caseArb, (c0) => {
      const c = { ...c0, P: 0 };
      for (const family of ['gru', 'rnn'] as const) {
        const G = family === 'gru' ? 3 : 1;
        const v = as32(values(c, G));
        const p = params(v);
        const { B, T, I, H } = c;
        const opts = { lengths: c.lengths, reverse: c.reverse };
        const times = scanTimes(B, T, opts);
        const ref = family === 'gru'
          ? gruForward(p, v.x!, v.h0, c, opts)
          : rnnForward(p, v.x!, v.h0, c, opts);
        const pre = inputProjection(p, v.x!, B * T, I, G * H, family === 'gru' ? 2 * H : H);
        const preCopy = pre.slice();
        const output = new Float32Array(B * T * H);
        const wg = kernels.wasmGates()!;
        const wHh = kernels.packB(true, H, G * H, p.weightHh, 0, H);
        const previous = setChunkFloats(c.chunk ?? 1 << 22);
        let hT: FloatArray;
        try {
          hT = family === 'gru'
            ? gruForwardWasm(wg, B, T, H, times, v.h0, wHh, p.biasHh, { pre, gates: null, hPrev: null, hn: null, output })
            : rnnForwardWasm(wg, B, T, H, times, v.h0, wHh, { pre, hs: null, hPrev: null, output });
        } finally {
          setChunkFloats(previous);
          wHh.release();
        }
        expect(Array.from(output), `${family} output`).toEqual(Array.from(ref.output));
        expect(Array.from(hT), `${family} hT`).toEqual(Array.from(ref.hT));
        expect(Array.from(pre), `${family} pre`).toEqual(Array.from(preCopy));
      }
    }));
  });

  test('gruInference, rnnInference: output and final state equal gruForward, rnnForward bit for bit (WebAssembly and TypeScript loops, float64, reset placements, relu, lengths, reverse)', () => {
    fc.assert(fc.property(caseArb, fc.boolean(), fc.boolean(), (c0, wasm, f64) => {
      const c = { ...c0, P: 0 };
      const opts = { lengths: c.lengths, reverse: c.reverse };
      const was = kernels.setWasmGates(wasm);
      try {
        for (const family of ['gru', 'rnn'] as const) {
          const v64 = values(c, family === 'gru' ? 3 : 1);
          const v = f64 ? v64 : as32(v64);
          const p = params(v);
          for (const variant of [false, true]) {
            const want = family === 'gru'
              ? gruForward(p, v.x!, v.h0, c, { ...opts, resetAfter: !variant })
              : rnnForward(p, v.x!, v.h0, c, { ...opts, nonlinearity: variant ? 'relu' : 'tanh' });
            const got = family === 'gru'
              ? gruInference(p, v.x!, v.h0, c, { ...opts, resetAfter: !variant })
              : rnnInference(p, v.x!, v.h0, c, { ...opts, nonlinearity: variant ? 'relu' : 'tanh' });
            expect(got.output, `${family} output`).toBeInstanceOf(f64 ? Float64Array : Float32Array);
            expect(Array.from(got.output), `${family} output`).toEqual(Array.from(want.output));
            expect(Array.from(got.hT), `${family} hT`).toEqual(Array.from(want.hT));
          }
        }
      } finally {
        kernels.setWasmGates(was);
      }
    }));
  });

  test('gruInference, rnnInference: bad options name the function', () => {
    const c: Case = { B: 2, T: 3, I: 4, H: 8, P: 0, lengths: undefined, reverse: false, seed: 1 };
    const p = params(as32(values(c, 3)));
    const x = new Float32Array(2 * 3 * 4);
    expect(() => gruInference(p, x, null, c, { resetAfter: 'yes' as never })).toThrow('gruInference: opts.resetAfter must be a boolean');
    expect(() => gruInference(p, x, new Float32Array(3), c)).toThrow('gruInference');
    const q = params(as32(values(c, 1)));
    expect(() => rnnInference(q, x, null, c, { nonlinearity: 'gelu' as never })).toThrow("rnnInference: opts.nonlinearity must be 'tanh' or 'relu'");
  });

  test('lstmCells: equals the forward pass\'s c_t bit for bit with the WebAssembly gates (c_t = f·c + i·g rounded once)', () => {
    const c: Case = { B: 3, T: 5, I: 4, H: 8, P: 0, lengths: undefined, reverse: false, seed: 3 };
    const v = as32(values(c, 4));
    const f = lstmForward(params(v), v.x!, v.h0, v.c0, c);
    const cells = lstmCells(f.cache);
    for (let b = 0; b < c.B; b++) {
      for (let j = 0; j < c.H; j++) expect(cells[(b * c.T + c.T - 1) * c.H + j]).toBe(f.cT[b * c.H + j]);
    }
  });

  test('lstmForward: gives its gate workspace back when a step throws, so the next sequence runs', () => {
    const c: Case = { B: 2, T: 3, I: 4, H: 8, P: 0, lengths: undefined, reverse: false, seed: 5 };
    const v = as32(values(c, 4));
    // a GEMM that fails on the recurrent products (M = B) only, inside the time loop
    const previous = kernels.setGemmKernel((...args) => {
      if (args[2] === c.B) throw new Error('injected GEMM failure');
      kernels.gemmJs(...args);
    });
    try {
      expect(() => lstmForward(params(v), v.x!, v.h0, v.c0, c)).toThrow('injected GEMM failure');
    } finally {
      kernels.setGemmKernel(previous);
    }
    const f = lstmForward(params(v), v.x!, v.h0, v.c0, c);
    expect(f.output.every(Number.isFinite)).toBe(true);
    // and a workspace can be taken again (none is left in use)
    kernels.wasmGates()!.workspace([4]).release();
  });

  for (const family of ['gru', 'rnn'] as const) {
    test(`${family}Backward: runs its WebAssembly loop in a gate workspace and gives it back when a step's GEMM throws`, () => {
      const c: Case = { B: 2, T: 3, I: 4, H: 8, P: 0, lengths: undefined, reverse: false, seed: 7 };
      const v = as32(values(c, family === 'gru' ? 3 : 1));
      const p = params(v);
      const f = family === 'gru' ? gruForward(p, v.x!, v.h0, c) : rnnForward(p, v.x!, v.h0, c);
      const backward = () => family === 'gru'
        ? gruBackward(p, f.cache as ReturnType<typeof gruForward>['cache'], v.dOutput, v.dhT)
        : rnnBackward(p, f.cache as ReturnType<typeof rnnForward>['cache'], v.dOutput, v.dhT);
      // a GEMM that fails on the recurrent products (M = B) only, inside the time loop, after
      // noting whether a gate workspace is held at that moment
      let held = false;
      const previous = kernels.setGemmKernel((...args) => {
        if (args[2] === c.B) {
          try {
            kernels.wasmGates()!.workspace([4]).release();
          } catch {
            held = true;
          }
          throw new Error('injected GEMM failure');
        }
        kernels.gemmJs(...args);
      });
      try {
        expect(backward).toThrow('injected GEMM failure');
      } finally {
        kernels.setGemmKernel(previous);
      }
      expect(held).toBe(true);
      kernels.wasmGates()!.workspace([4]).release();
      const g = backward();
      expect(g.dWeightHh.every(Number.isFinite)).toBe(true);
    });
  }
});
