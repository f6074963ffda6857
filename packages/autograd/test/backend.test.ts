import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import { kernels } from '@seqgrad/autograd';
import { buildProject } from '../../../tests/setup/build.js';
import { filled } from './helpers.js';

type FloatArray = kernels.FloatArray;

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** Throws at the first element of `actual` that differs from `expected` in any bit. */
function expectSameBits(actual: FloatArray, expected: FloatArray, what: string): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) throw new Error(`${what}: C[${i}] = ${actual[i]} but gemm gives ${expected[i]}`);
  }
}

interface PackedCase {
  f64: boolean; transA: boolean; transB: boolean; M: number; N: number; K: number;
  aOff: number; bOff: number; cOff: number; padA: number; padB: number; padC: number;
  alpha: number; beta: number; seed: number;
}

/** gemmPacked with B packed once, called twice (as a recurrent step is), against gemm; releases the operand. */
function expectPackedEqualsGemm(c: PackedCase): void {
  const lda = (c.transA ? c.M : c.K) + c.padA;
  const ldb = (c.transB ? c.K : c.N) + c.padB;
  const ldc = c.N + c.padC;
  const A = filled(c.aOff + lda * (c.transA ? c.K : c.M), c.f64, c.seed);
  const B = filled(c.bOff + ldb * (c.transB ? c.N : c.K), c.f64, c.seed + 1);
  const C0 = filled(c.cOff + ldc * c.M + c.padC, c.f64, c.seed + 2);
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
    expect(b.reason).toMatch(/^WebAssembly SIMD; products under 1024 multiply-adds/);
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
