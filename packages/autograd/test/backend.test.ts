import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import { kernels } from '@seqgrad/autograd';
import { buildProject } from '../../../tests/setup/build.js';
import { type GemmCase, filled, gemmOperands } from './helpers.js';

type FloatArray = kernels.FloatArray;

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** Throws at the first element of `actual` that differs from `expected` in any bit. */
function expectSameBits(actual: FloatArray, expected: FloatArray, what: string): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) throw new Error(`${what}: C[${i}] = ${actual[i]} but gemm gives ${expected[i]}`);
  }
}

type PackedCase = GemmCase;

/** gemmPacked with B packed once, called twice (as a recurrent step is), against gemm; releases the operand. */
function expectPackedEqualsGemm(c: PackedCase): void {
  const { lda, ldb, ldc, A, B, C0 } = gemmOperands(c);
  const expected = C0.slice();
  kernels.gemm(c.transA, c.transB, c.M, c.N, c.K, c.alpha, A, c.aOff, lda, B, c.bOff, ldb, c.beta, expected, c.cOff, ldc);
  const packed = kernels.packB(c.transB, c.K, c.N, B, c.bOff, ldb);
  try {
    for (let r = 0; r < 2; r++) {
      const actual = C0.slice();
      kernels.gemmPacked(c.transA, c.M, c.alpha, A, c.aOff, lda, packed, c.beta, actual, c.cOff, ldc);
      expectSameBits(actual, expected, `${JSON.stringify(c)} call ${r}`);
    }
  } finally {
    packed.release();
  }
}

const plain = { aOff: 0, bOff: 0, cOff: 0, padA: 0, padB: 0, padC: 0, alpha: 1, beta: 0, seed: 1 };

afterEach(() => {
  kernels.setGemmKernel(kernels.gemmWasm ?? kernels.gemmJs);
});

describe('backend', () => {
  test('backend: reports the WebAssembly SIMD backend, its thresholds and why; a kernel installed with setGemmKernel shows as custom', () => {
    const b = kernels.backend();
    expect(b.gemm).toBe('wasm-simd');
    expect(b.elementwise).toBe('wasm-simd');
    expect(b.threads).toBe(1);
    expect(b.wasm).toEqual({ available: true, problem: null });
    expect(b.reason).toMatch(/^WebAssembly SIMD, plain SIMD register tile .*; products under 1024 multiply-adds/);
    expect(b.fma).toEqual({ on: false, available: false }); // Node 20 without --experimental-wasm-relaxed-simd
    expect(b.thresholds).toBe(kernels.THRESHOLDS);
    const previous = kernels.setGemmKernel(kernels.gemmJs);
    try {
      expect(kernels.backend().gemm).toBe('custom');
    } finally {
      kernels.setGemmKernel(previous);
    }
    const was = kernels.setWasmElementwise(false);
    try {
      expect(kernels.backend().elementwise).toBe('typescript');
      expect(kernels.backend().reason).toContain('kernels.setWasmElementwise');
    } finally {
      kernels.setWasmElementwise(was);
    }
  });

  test('gemmPacked: equals gemm bit for bit over random shapes, transposes, offsets, strides, alpha, beta, float32 and float64', () => {
    fc.assert(
      fc.property(
        fc.record({
          f64: fc.boolean(), transA: fc.boolean(), transB: fc.boolean(),
          M: fc.integer({ min: 1, max: 80 }), N: fc.integer({ min: 1, max: 300 }), K: fc.integer({ min: 1, max: 300 }),
          aOff: fc.nat(3), bOff: fc.nat(3), cOff: fc.nat(3), padA: fc.nat(5), padB: fc.nat(5), padC: fc.nat(5),
          alpha: fc.constantFrom(1, -1, 0.5, 0), beta: fc.constantFrom(0, 1, -0.5), seed: fc.nat(1000),
        }),
        expectPackedEqualsGemm,
      ),
    );
  });

  test('gemmPacked: equals gemm across column blocks and K slices, and under the TypeScript GEMM (setGemmKernel)', () => {
    for (const [f64, M, N, K] of [[false, 32, 1100, 600], [true, 33, 530, 257], [false, 3, 7, 5]] as const) {
      for (const transB of [false, true]) expectPackedEqualsGemm({ ...plain, f64, transA: false, transB, M, N, K, beta: 1, bOff: 2, padB: 3 });
    }
    kernels.setGemmKernel(kernels.gemmJs);
    expectPackedEqualsGemm({ ...plain, f64: false, transA: false, transB: true, M: 32, N: 700, K: 300 });
  });

  test('packB, release: the WebAssembly memory held by packed operands is given back, and reused by the next ones', () => {
    const before = kernels.backend().packedBytes;
    const B = filled(512 * 256, false, 3);
    const a = kernels.packB(true, 256, 512, B, 0, 256);
    const b = kernels.packB(false, 512, 256, B, 0, 256);
    expect(kernels.backend().packedBytes).toBeGreaterThanOrEqual(before + 2 * 512 * 256 * 4);
    a.release();
    b.release();
    b.release(); // a second release does nothing
    expect(kernels.backend().packedBytes).toBe(before);
    expect(() => kernels.gemmPacked(false, 1, 1, B, 0, 256, a, 0, new Float32Array(512), 0, 512)).toThrow(/gemmPacked: the packed operand \(256×512\) was released/);
  });
});

describe('backend without WebAssembly', () => {
  /** Runs an ES module with node from the repository root (where @seqgrad/autograd resolves to the built dist/). */
  function runModule(source: string): { status: number | null; out: string; err: string } {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', source], { cwd: root, encoding: 'utf8', timeout: 20_000 });
    return { status: r.status, out: r.stdout, err: r.stderr };
  }

  test('backend: a Content-Security-Policy that blocks WebAssembly is reported once with the fix, and the TypeScript backend computes', () => {
    buildProject('packages/autograd');
    // What Chromium throws from new WebAssembly.Module on a page whose CSP lacks 'wasm-unsafe-eval'.
    const { status, out, err } = runModule(`
      WebAssembly.Module = function () {
        throw new WebAssembly.CompileError("WebAssembly.Module(): Refused to compile or instantiate WebAssembly module because 'unsafe-eval' is not an allowed source of script in the following Content Security Policy directive: \\"script-src 'self'\\"");
      };
      const { kernels, matmul, tensor } = await import('@seqgrad/autograd');
      const b = kernels.backend();
      const y = matmul(tensor([[1, 2], [3, 4]]), tensor([[1, 0], [0, 1]]));
      const p = kernels.packB(false, 2, 2, Float32Array.from([1, 0, 0, 1]), 0, 2);
      const C = new Float32Array(4);
      kernels.gemmPacked(false, 2, 1, Float32Array.from([1, 2, 3, 4]), 0, 2, p, 0, C, 0, 2);
      p.release();
      console.log(JSON.stringify({ gemm: b.gemm, elementwise: b.elementwise, wasm: b.wasm, reason: b.reason, y: Array.from(y.data), C: Array.from(C) }));
    `);
    expect(status, err).toBe(0);
    const warnings = err.split('\n').filter((l) => l.includes('Content-Security-Policy'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("add 'wasm-unsafe-eval' to the script-src directive");
    const r = JSON.parse(out);
    expect(r.gemm).toBe('typescript');
    expect(r.elementwise).toBe('typescript');
    expect(r.wasm.available).toBe(false);
    expect(r.wasm.problem).toMatch(/Content-Security-Policy.*wasm-unsafe-eval/);
    expect(r.reason).toMatch(/^TypeScript: WebAssembly is not used because .*Content-Security-Policy/);
    expect(r.y).toEqual([1, 2, 3, 4]);
    expect(r.C).toEqual([1, 2, 3, 4]);
  });
});

describe('relaxed-SIMD FMA GEMM', () => {
  /** Runs an ES module with node --experimental-wasm-relaxed-simd from the repository root (built dist/). */
  function runRelaxed(source: string): { status: number | null; out: string; err: string } {
    const r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--input-type=module', '-e', source], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, out: r.stdout, err: r.stderr };
  }

  // Random products (shapes across register tiles, column blocks and K slices, transposes, alpha,
  // beta), float32 and float64, run in the child and summarised per case: the largest error against
  // a float64 reference in units of the error bound, and whether FMA changed any bit.
  const child = (fma: boolean) => `
    const { kernels } = await import('@seqgrad/autograd');
    kernels.setGemmFma(${fma});
    let s = 5;
    const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5;
    const out = [];
    for (let t = 0; t < 24; t++) {
      const f64 = t % 4 === 3, T = f64 ? Float64Array : Float32Array, u = f64 ? 2 ** -53 : 2 ** -24;
      const tA = t % 2 === 1, tB = t % 3 === 1;
      const M = 1 + (t * 37) % 90, N = 1 + (t * 53) % 600, K = 1 + (t * 71) % 700;
      const alpha = [1, -0.5, 2][t % 3], beta = [0, 1, 0.25][(t >> 1) % 3];
      const A = T.from({ length: M * K }, rnd), B = T.from({ length: K * N }, rnd), C0 = T.from({ length: M * N }, rnd);
      const C = C0.slice();
      kernels.gemm(tA, tB, M, N, K, alpha, A, 0, tA ? M : K, B, 0, tB ? K : N, beta, C, 0, N);
      let worst = 0;
      for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
        let ref = 0, mag = 0;
        for (let k = 0; k < K; k++) {
          const a = tA ? A[k * M + i] : A[i * K + k], b = tB ? B[j * K + k] : B[k * N + j];
          ref += a * b; mag += Math.abs(a * b);
        }
        const exact = alpha * ref + beta * C0[i * N + j];
        // Error bound of a K-term sum, the alpha product and the beta term: (K + 2)·u·(|alpha|·Σ|a·b| + |beta·c|).
        const bound = (K + 2) * u * (Math.abs(alpha) * mag + Math.abs(beta * C0[i * N + j])) + Number.MIN_VALUE;
        worst = Math.max(worst, Math.abs(C[i * N + j] - exact) / bound);
      }
      out.push({ f64, worst, sum: Array.from(C).reduce((h, v) => (Math.imul(h, 31) + Math.round(v * 1e6)) | 0, 0) });
    }
    console.log(JSON.stringify({ fma: kernels.backend().fma, out }));
  `;

  test('setGemmFma: the FMA GEMM (float32 and float64) stays within (K + 2)·u·(|alpha|·Σ|a·b| + |beta·c|) of a float64 reference, and differs from the plain tile', () => {
    buildProject('packages/autograd');
    const fma = runRelaxed(child(true));
    const plain = runRelaxed(child(false));
    expect(fma.status, fma.err).toBe(0);
    expect(plain.status, plain.err).toBe(0);
    const f = JSON.parse(fma.out);
    const p = JSON.parse(plain.out);
    expect(f.fma).toEqual({ on: true, available: true });
    expect(p.fma).toEqual({ on: false, available: true });
    for (const c of [...f.out, ...p.out]) expect(c.worst).toBeLessThanOrEqual(1);
    // FMA rounds once per multiply-add: some float32 products come out different from the plain tile.
    expect(f.out.some((c: { f64: boolean; sum: number }, i: number) => !c.f64 && c.sum !== p.out[i].sum)).toBe(true);
  });

  test('setGemmFma(false): the plain tile in a runtime with relaxed SIMD gives exactly the results of a runtime without it', () => {
    buildProject('packages/autograd');
    const withFlag = runRelaxed(child(false));
    const without = spawnSync(process.execPath, ['--input-type=module', '-e', child(false)], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(withFlag.status, withFlag.err).toBe(0);
    expect(without.status, without.stderr).toBe(0);
    expect(JSON.parse(withFlag.out).out).toEqual(JSON.parse(without.stdout).out);
  });
});

describe('relaxed-SIMD FMA GEMM on threads', () => {
  test('enableGemmThreads: with FMA on, the threads give the single-threaded FMA GEMM\'s results bit for bit', () => {
    buildProject('packages/autograd');
    const r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--input-type=module', '-e', `
      const { kernels } = await import('@seqgrad/autograd');
      const { enableGemmThreads, disableGemmThreads } = await import('@seqgrad/autograd/threads');
      let s = 9;
      const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5;
      let differing = 0;
      for (const [M, N, K, tA, tB] of [[300, 200, 310, false, true], [40, 900, 100, true, false], [130, 130, 600, false, false]]) {
        const A = Float32Array.from({ length: M * K }, rnd), B = Float32Array.from({ length: K * N }, rnd);
        const one = new Float32Array(M * N), two = new Float32Array(M * N);
        kernels.gemm(tA, tB, M, N, K, 1.5, A, 0, tA ? M : K, B, 0, tB ? K : N, 0, one, 0, N);
        enableGemmThreads(2, { minWork: 0 });
        kernels.gemm(tA, tB, M, N, K, 1.5, A, 0, tA ? M : K, B, 0, tB ? K : N, 0, two, 0, N);
        disableGemmThreads();
        for (let i = 0; i < one.length; i++) if (!Object.is(one[i], two[i])) differing++;
      }
      console.log(JSON.stringify({ fma: kernels.backend().fma.on, differing }));
    `], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ fma: true, differing: 0 });
  });
});
