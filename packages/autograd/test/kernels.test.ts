import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { kernels } from '@seqgrad/autograd';
import { filled } from './helpers.js';

type FloatArray = kernels.FloatArray;
type GemmKernel = kernels.GemmKernel;

/** A GEMM call: every argument of the kernel, with the arrays already filled. */
interface GemmCase {
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  aOff: number;
  bOff: number;
  cOff: number;
  lda: number;
  ldb: number;
  ldc: number;
  A: FloatArray;
  B: FloatArray;
  C: FloatArray;
}


function makeCase(
  f64: boolean, transA: boolean, transB: boolean, M: number, N: number, K: number,
  pads: { aOff: number; bOff: number; cOff: number; padA: number; padB: number; padC: number },
  alpha: number, beta: number, seed: number,
): GemmCase {
  const lda = (transA ? M : K) + pads.padA;
  const ldb = (transB ? K : N) + pads.padB;
  const ldc = N + pads.padC;
  return {
    transA, transB, M, N, K, alpha, beta, lda, ldb, ldc,
    aOff: pads.aOff, bOff: pads.bOff, cOff: pads.cOff,
    A: filled(pads.aOff + lda * (transA ? K : M), f64, seed),
    B: filled(pads.bOff + ldb * (transB ? N : K), f64, seed + 1),
    C: filled(pads.cOff + ldc * M + pads.padC, f64, seed + 2),
  };
}

function run(kernel: GemmKernel, c: GemmCase): FloatArray {
  const C = c.C.slice();
  kernel(c.transA, c.transB, c.M, c.N, c.K, c.alpha, c.A, c.aOff, c.lda, c.B, c.bOff, c.ldb, c.beta, C, c.cOff, c.ldc);
  return C;
}

/** Plain triple loop in float64: the definition, with the scale of each entry's rounding error. */
function reference(c: GemmCase): { C: Float64Array; scale: Float64Array } {
  const C = Float64Array.from(c.C);
  const scale = new Float64Array(C.length);
  for (let i = 0; i < c.M; i++) {
    for (let j = 0; j < c.N; j++) {
      let sum = 0;
      let abs = 0;
      for (let k = 0; k < c.K; k++) {
        const a = c.A[c.aOff + (c.transA ? k * c.lda + i : i * c.lda + k)]!;
        const b = c.B[c.bOff + (c.transB ? j * c.ldb + k : k * c.ldb + j)]!;
        sum += a * b;
        abs += Math.abs(a * b);
      }
      const at = c.cOff + i * c.ldc + j;
      const old = c.C[at]!;
      C[at] = c.alpha * sum + (c.beta === 0 ? 0 : c.beta * old);
      scale[at] = Math.abs(c.alpha) * abs + Math.abs(c.beta * old);
    }
  }
  return { C, scale };
}

/** Entries inside the (M, N) window agree to rounding (K steps of eps); entries outside are untouched. */
const references = new WeakMap<GemmCase, ReturnType<typeof reference>>();

function expectGemm(actual: FloatArray, c: GemmCase, what: string): void {
  if (!references.has(c)) references.set(c, reference(c));
  const { C, scale } = references.get(c)!;
  const eps = actual instanceof Float64Array ? 2 ** -52 : 2 ** -23;
  const tol = (c.K + 4) * eps;
  for (let at = 0; at < C.length; at++) {
    const inside = at >= c.cOff && (at - c.cOff) % c.ldc < c.N && Math.floor((at - c.cOff) / c.ldc) < c.M;
    if (!inside) {
      if (!Object.is(actual[at], c.C[at])) throw new Error(`${what}: C[${at}] outside the window changed`);
      continue;
    }
    const err = Math.abs(actual[at]! - C[at]!);
    if (!(err <= tol * scale[at]! + 1e-300)) {
      throw new Error(`${what}: C[${at}] = ${actual[at]} but expected ${C[at]} (error ${err}, tolerance ${tol * scale[at]!})`);
    }
  }
}

const wasm = kernels.gemmWasm;
const padsArb = fc.record({
  aOff: fc.nat(3), bOff: fc.nat(3), cOff: fc.nat(3), padA: fc.nat(2), padB: fc.nat(2), padC: fc.nat(2),
});
const caseArb = (maxDim: number) =>
  fc.record({
    f64: fc.boolean(),
    transA: fc.boolean(),
    transB: fc.boolean(),
    M: fc.integer({ min: 1, max: maxDim }),
    N: fc.integer({ min: 1, max: maxDim }),
    K: fc.integer({ min: 1, max: maxDim }),
    pads: padsArb,
    alpha: fc.constantFrom(1, -1, 0.5, 2.25, 0),
    beta: fc.constantFrom(0, 1, -0.5, 3),
    seed: fc.nat(1000),
  });

describe('gemm kernels', () => {
  test('gemmWasm: available in Node (WebAssembly SIMD) and installed as the default GEMM', () => {
    expect(kernels.wasmSimdAvailable()).toBe(true);
    expect(wasm).not.toBeNull();
    const previous = kernels.setGemmKernel(kernels.gemmJs);
    kernels.setGemmKernel(previous);
    expect(previous).toBe(wasm);
  });

  test('gemmJs, gemmWasm: equal the triple loop for every transpose, offset, ld, alpha and beta', () => {
    fc.assert(
      fc.property(caseArb(40), ({ f64, transA, transB, M, N, K, pads, alpha, beta, seed }) => {
        const c = makeCase(f64, transA, transB, M, N, K, pads, alpha, beta, seed);
        expectGemm(run(kernels.gemmJs, c), c, 'gemmJs');
        expectGemm(run(wasm!, c), c, 'gemmWasm');
      }),
    );
  });

  test('gemmJs, gemmWasm: agree across block edges (M > 64, N > 512, K > 256, odd sizes)', () => {
    for (const f64 of [false, true]) {
      for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
        const c = makeCase(f64, transA, transB, 67, 517, 261, { aOff: 1, bOff: 2, cOff: 3, padA: 1, padB: 2, padC: 1 }, 0.75, 0.5, 7);
        expectGemm(run(kernels.gemmJs, c), c, `gemmJs ${f64 ? 'f64' : 'f32'} ${transA} ${transB}`);
        expectGemm(run(wasm!, c), c, `gemmWasm ${f64 ? 'f64' : 'f32'} ${transA} ${transB}`);
      }
    }
  });

  test('gemmWasm: beta = 0 overwrites C, so NaN already in C does not leak', () => {
    for (const f64 of [false, true]) {
      const c = makeCase(f64, false, true, 9, 13, 33, { aOff: 0, bOff: 0, cOff: 0, padA: 0, padB: 0, padC: 0 }, 1, 0, 3);
      c.C.fill(NaN);
      const out = run(wasm!, c);
      expect(out.every((v) => Number.isFinite(v))).toBe(true);
    }
  });

  test('gemmWasm: mixed element types go to the TypeScript kernel and still compute', () => {
    const c = makeCase(true, false, false, 20, 20, 20, { aOff: 0, bOff: 0, cOff: 0, padA: 0, padB: 0, padC: 0 }, 1, 1, 5);
    c.A = Float32Array.from(c.A);
    expectGemm(run(wasm!, c), c, 'gemmWasm mixed');
  });

  test('gemmWasm: repeated large calls reuse the fixed memory (memory declared with max = min pages)', () => {
    const wat = readFileSync(new URL('../src/wasm/gemm.wat', import.meta.url), 'utf8');
    expect(wat).toMatch(/\(memory \(export "memory"\) (\d+) \1\)/);
    const c = makeCase(false, true, false, 70, 600, 270, { aOff: 0, bOff: 0, cOff: 0, padA: 0, padB: 0, padC: 0 }, 1, 1, 9);
    for (let r = 0; r < 3; r++) expectGemm(run(wasm!, c), c, `gemmWasm repeat ${r}`);
  });

  test('gemmBytes.generated.ts: assembled from the current gemm.wat (else run pnpm build:wasm)', () => {
    const wat = readFileSync(new URL('../src/wasm/gemm.wat', import.meta.url));
    const generated = readFileSync(new URL('../src/wasm/gemmBytes.generated.ts', import.meta.url), 'utf8');
    const recorded = /GEMM_WAT_SHA256 = '([0-9a-f]{64})'/.exec(generated)?.[1];
    expect(recorded).toBe(createHash('sha256').update(wat).digest('hex'));
  });
});
