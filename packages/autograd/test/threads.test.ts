import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import { kernels } from '@seqgrad/autograd';
import { GEMM_THREADS_MIN_WORK, disableGemmThreads, enableGemmThreads, gemmThreads } from '@seqgrad/autograd/threads';
import { GemmThreadPool, PACKED_REGION_BYTES, type GemmJob } from '../src/backend/threadPool.js';
import { install } from '../src/threadsCore.js';
import { buildProject } from '../../../tests/setup/build.js';
import { type GemmCase, filled, gemmOperands } from './helpers.js';

type FloatArray = kernels.FloatArray;
type GemmKernel = kernels.GemmKernel;

const root = fileURLToPath(new URL('../../..', import.meta.url));
const wasm = kernels.gemmWasm!;


type Case = GemmCase;

/** Runs the case through `kernel` and through `gemmWasm`; throws at the first element that differs in any bit. */
function expectSameAsWasm(kernel: GemmKernel, c: Case): void {
  const { lda, ldb, ldc, A, B, C0 } = gemmOperands(c);
  const expected = C0.slice();
  const actual = C0.slice();
  wasm(c.transA, c.transB, c.M, c.N, c.K, c.alpha, A, c.aOff, lda, B, c.bOff, ldb, c.beta, expected, c.cOff, ldc);
  kernel(c.transA, c.transB, c.M, c.N, c.K, c.alpha, A, c.aOff, lda, B, c.bOff, ldb, c.beta, actual, c.cOff, ldc);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      throw new Error(`${JSON.stringify(c)}: C[${i}] = ${actual[i]} but gemmWasm gives ${expected[i]}`);
    }
  }
}

const plain = { aOff: 0, bOff: 0, cOff: 0, padA: 0, padB: 0, padC: 0, alpha: 1, beta: 0, seed: 1 };

afterEach(() => disableGemmThreads());

describe('gemm on threads', () => {
  test('enableGemmThreads: equals gemmWasm bit for bit over random shapes, transposes, offsets, leading dimensions, alpha, beta, float32 and float64', () => {
    enableGemmThreads(2, { minWork: 0 }); // split every call, however small
    fc.assert(
      fc.property(
        fc.record({
          f64: fc.boolean(), transA: fc.boolean(), transB: fc.boolean(),
          M: fc.integer({ min: 1, max: 300 }), N: fc.integer({ min: 1, max: 300 }), K: fc.integer({ min: 1, max: 300 }),
          aOff: fc.nat(3), bOff: fc.nat(3), cOff: fc.nat(3), padA: fc.nat(5), padB: fc.nat(5), padC: fc.nat(5),
          alpha: fc.constantFrom(1, -1, 0.5, 2.25), beta: fc.constantFrom(0, 1, -0.5, 3), seed: fc.nat(1000),
        }),
        (c) => expectSameAsWasm(kernels.gemm, c),
      ),
    );
  });

  test('enableGemmThreads: with minWork 0, products under 1024 multiply-adds still give gemmWasm\'s results (which come from gemmJs there)', () => {
    enableGemmThreads(2, { minWork: 0 });
    // The property test's shrunk counterexample: the split kernel rounded differently from gemmJs.
    expectSameAsWasm(kernels.gemm, { ...plain, f64: false, transA: false, transB: false, M: 2, N: 1, K: 1, aOff: 2, bOff: 1, cOff: 2, padC: 1, beta: 3, seed: 223 });
  });

  test('enableGemmThreads: equals gemmWasm across row chunks, column blocks and K slices (sizes not multiples of any tile)', () => {
    enableGemmThreads(2, { minWork: 0 });
    const shapes: [boolean, number, number, number][] = [
      [true, 1100, 8, 600], // float64: two row chunks of op(A), three K slices, by rows
      [false, 2100, 20, 40], // float32: two row chunks
      [false, 3, 1100, 300], // by columns: two column blocks, two K slices
      [true, 5, 530, 70], // float64 by columns: two column blocks
      [false, 700, 530, 257], // by rows: two column blocks, a K slice of 1
      [false, 31, 257, 1025], // five K slices
    ];
    for (const [f64, M, N, K] of shapes) {
      for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
        for (const beta of [0, 1, -0.5]) {
          expectSameAsWasm(kernels.gemm, { ...plain, f64, transA, transB, M, N, K, aOff: 2, bOff: 1, cOff: 3, padA: 3, padB: 1, padC: 2, alpha: 1.5, beta });
        }
      }
    }
  });

  test('enableGemmThreads(3): more threads than this machine has cores still equals gemmWasm', () => {
    enableGemmThreads(3, { minWork: 0 });
    expect(gemmThreads()).toBe(3);
    for (const f64 of [false, true]) {
      expectSameAsWasm(kernels.gemm, { ...plain, f64, transA: false, transB: true, M: 333, N: 200, K: 300, beta: 1 });
      expectSameAsWasm(kernels.gemm, { ...plain, f64, transA: true, transB: false, M: 40, N: 900, K: 100, beta: 0.5 });
    }
  });

  test('enableGemmThreads: products under minWork, and mixed float32/float64 calls, go to the kernel active before', () => {
    let calls = 0;
    const counting: GemmKernel = (...args) => {
      calls++;
      wasm(...args);
    };
    const original = kernels.setGemmKernel(counting);
    try {
      enableGemmThreads(2);
      const small = Math.floor(Math.cbrt(GEMM_THREADS_MIN_WORK)) - 1; // n³ < minWork
      expectSameAsWasm(kernels.gemm, { ...plain, f64: false, transA: false, transB: false, M: small, N: small, K: small });
      expect(calls).toBe(1);
      expectSameAsWasm(kernels.gemm, { ...plain, f64: false, transA: false, transB: false, M: 256, N: 256, K: 256 });
      expect(calls).toBe(1); // 256³ ≥ minWork: split, not handed on
      const A = filled(64 * 64, true, 1);
      const B = filled(64 * 64, false, 2);
      kernels.gemm(false, false, 64, 64, 64, 1, A, 0, 64, B, 0, 64, 0, new Float64Array(64 * 64), 0, 64);
      expect(calls).toBe(2);
    } finally {
      disableGemmThreads();
      kernels.setGemmKernel(original);
    }
  });

  test('enableGemmThreads, disableGemmThreads: a round trip puts the previous kernel back; enabling again replaces the pool; threads = 1 disables', () => {
    const before = kernels.setGemmKernel(wasm);
    kernels.setGemmKernel(before);
    expect(gemmThreads()).toBe(1);
    enableGemmThreads();
    expect(gemmThreads()).toBe(2);
    const threaded = kernels.setGemmKernel(wasm);
    kernels.setGemmKernel(threaded);
    expect(threaded).not.toBe(before);
    enableGemmThreads(3);
    expect(gemmThreads()).toBe(3);
    expectSameAsWasm(kernels.gemm, { ...plain, f64: false, transA: false, transB: false, M: 200, N: 200, K: 200 });
    enableGemmThreads(1);
    expect(gemmThreads()).toBe(1);
    disableGemmThreads(); // a no-op now
    const after = kernels.setGemmKernel(wasm);
    kernels.setGemmKernel(after);
    expect(after).toBe(before);
  });

  test('disableGemmThreads: a kernel installed after enableGemmThreads stays in place', () => {
    const original = kernels.setGemmKernel(wasm);
    try {
      enableGemmThreads(2);
      kernels.setGemmKernel(kernels.gemmJs);
      disableGemmThreads();
      expect(gemmThreads()).toBe(1);
      expect(kernels.setGemmKernel(wasm)).toBe(kernels.gemmJs);
    } finally {
      kernels.setGemmKernel(original);
    }
  });

  test('enableGemmThreads: rejects a thread count outside 1..16 and a negative minWork, naming the function', () => {
    expect(() => enableGemmThreads(0)).toThrow(/enableGemmThreads: threads must be an integer from 1 to 16, got 0/);
    expect(() => enableGemmThreads(2.5)).toThrow(/got 2\.5/);
    expect(() => enableGemmThreads(17)).toThrow(/got 17/);
    expect(() => enableGemmThreads(2, { minWork: -1 })).toThrow(/enableGemmThreads: minWork must be ≥ 0/);
    expect(() => enableGemmThreads(2, { packedMinWork: Number.NaN })).toThrow(/enableGemmThreads: packedMinWork must be ≥ 0, got NaN/);
    expect(gemmThreads()).toBe(1);
  });
});

/**
 * Runs `products` products of the case with one packed op(B) through `kernels.gemmPacked` (each
 * with its own op(A) and C) and through `gemmWasm` on the source; throws at the first element that
 * differs in any bit. Returns `kernels.backend().threadPackedBytes` while the operand was alive.
 */
/** Throws, naming `what`, at the first element of `actual` that differs from `expected` in any bit. */
function expectSameBits(actual: FloatArray, expected: FloatArray, what: string): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) throw new Error(`${what}: C[${i}] = ${actual[i]} but gemmWasm gives ${expected[i]}`);
  }
}

function expectPackedSameAsWasm(c: Case, products = 3): number {
  const { lda, ldb, ldc, B } = gemmOperands(c);
  const packed = kernels.packB(c.transB, c.K, c.N, B, c.bOff, ldb);
  let held = 0;
  try {
    for (let r = 0; r < products; r++) {
      const { A, C0 } = gemmOperands({ ...c, seed: c.seed + 7 * r });
      const expected = C0.slice();
      const actual = C0.slice();
      wasm(c.transA, c.transB, c.M, c.N, c.K, c.alpha, A, c.aOff, lda, B, c.bOff, ldb, c.beta, expected, c.cOff, ldc);
      kernels.gemmPacked(c.transA, c.M, c.alpha, A, c.aOff, lda, packed, c.beta, actual, c.cOff, ldc);
      for (let i = 0; i < expected.length; i++) {
        if (!Object.is(actual[i], expected[i])) {
          throw new Error(`${JSON.stringify(c)}, product ${r}: C[${i}] = ${actual[i]} but gemmWasm gives ${expected[i]}`);
        }
      }
    }
    held = kernels.backend().threadPackedBytes;
  } finally {
    packed.release();
  }
  return held;
}

describe('gemmPacked on threads', () => {
  test('gemmPacked: split over the shared packed copy, equals gemmWasm bit for bit over random shapes, transposes, offsets, alpha, beta, float32 and float64; the copy is freed on release', () => {
    enableGemmThreads(2, { minWork: 0, packedMinWork: 0 });
    fc.assert(
      fc.property(
        fc.record({
          f64: fc.boolean(), transA: fc.boolean(), transB: fc.boolean(),
          M: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 60, max: 200 })),
          N: fc.integer({ min: 1, max: 700 }), K: fc.integer({ min: 1, max: 700 }),
          aOff: fc.nat(3), bOff: fc.nat(3), cOff: fc.nat(3), padA: fc.nat(5), padB: fc.nat(5), padC: fc.nat(5),
          alpha: fc.constantFrom(1, -1, 0.5, 2.25), beta: fc.constantFrom(0, 1, -0.5, 3), seed: fc.nat(1000),
        }),
        (c) => {
          const held = expectPackedSameAsWasm(c);
          // Products of at least 1024 multiply-adds ran on the threads, over a copy in their memory.
          const nr = c.f64 ? 4 : 8;
          expect(held).toBe(c.M * c.N * c.K >= 1024 ? Math.ceil((Math.ceil(c.N / nr) * nr * c.K * (c.f64 ? 8 : 4)) / 64) * 64 : 0);
          expect(kernels.backend().threadPackedBytes).toBe(0);
        },
      ),
    );
  });

  test('gemmPacked: on threads, equals gemmWasm across row chunks, column blocks, K slices and the recurrent shapes of the fused layers', () => {
    enableGemmThreads(2, { minWork: 0, packedMinWork: 0 });
    const shapes: [boolean, number, number, number][] = [
      [false, 32, 1024, 256], // LSTM M forward: h · W_hhᵀ
      [false, 32, 256, 1024], // LSTM M backward: da · W_hh, four K slices
      [true, 32, 300, 530], // float64: two column blocks of 256, three K slices
      [false, 33, 1029, 257], // three column blocks, the last one not a multiple of 8
      [false, 3000, 20, 300], // two row chunks of op(A)
      [true, 70, 5, 1100], // one partial panel, five K slices
    ];
    for (const [f64, M, N, K] of shapes) {
      for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
        for (const beta of [0, 1, -0.5]) {
          const held = expectPackedSameAsWasm({ ...plain, f64, transA, transB, M, N, K, aOff: 2, bOff: 1, cOff: 3, padA: 3, padB: 1, padC: 2, alpha: 1.5, beta }, 2);
          expect(held).toBeGreaterThanOrEqual(N * K * (f64 ? 8 : 4));
        }
      }
    }
  });

  test('gemmPacked: with FMA on, the threads over the packed copy give the single-threaded FMA results bit for bit', () => {
    const was = kernels.setGemmFma(true);
    try {
      enableGemmThreads(2, { minWork: 0, packedMinWork: 0 });
      for (const f64 of [false, true]) expectPackedSameAsWasm({ ...plain, f64, transA: false, transB: true, M: 32, N: 520, K: 300, beta: 1 });
    } finally {
      kernels.setGemmFma(was);
    }
  });

  test('gemmPacked: operands beyond the region of packed operands run on one thread over their packed blocks, with the same results; a released copy makes room', () => {
    enableGemmThreads(2, { minWork: 0, packedMinWork: 0 });
    // Three float32 operands of 2048 × 512 (4 MB each, as the LSTM's W_hh at H = 512): two fit the region.
    const [K, N] = [512, 2048];
    expect(2 * K * N * 4).toBe(PACKED_REGION_BYTES);
    const B = [1, 2, 3].map((s) => filled(K * N, false, s) as Float32Array);
    const packed = B.map((b) => kernels.packB(false, K, N, b, 0, N));
    const A = filled(32 * K, false, 9);
    const product = (i: number) => {
      const C = new Float32Array(32 * N);
      kernels.gemmPacked(false, 32, 1, A, 0, K, packed[i]!, 0, C, 0, N);
      const expected = new Float32Array(32 * N);
      wasm(false, false, 32, N, K, 1, A, 0, K, B[i]!, 0, N, 0, expected, 0, N);
      expectSameBits(C, expected, `operand ${i}`);
    };
    try {
      product(0);
      product(1);
      expect(kernels.backend().threadPackedBytes).toBe(PACKED_REGION_BYTES);
      product(2); // does not fit: the single-threaded packed path
      expect(kernels.backend().threadPackedBytes).toBe(PACKED_REGION_BYTES);
      packed[0]!.release();
      expect(kernels.backend().threadPackedBytes).toBe(PACKED_REGION_BYTES / 2);
      product(2); // now it fits
      expect(kernels.backend().threadPackedBytes).toBe(PACKED_REGION_BYTES);
      // A product whose operand alone is larger than the region.
      const big = filled(2100 * 1024, false, 4) as Float32Array;
      const p = kernels.packB(true, 2100, 1024, big, 0, 2100);
      const Ab = filled(16 * 2100, false, 5);
      const C = new Float32Array(16 * 1024);
      const expected = new Float32Array(16 * 1024);
      kernels.gemmPacked(false, 16, 1, Ab, 0, 2100, p, 0, C, 0, 1024);
      wasm(false, true, 16, 1024, 2100, 1, Ab, 0, 2100, big, 0, 2100, 0, expected, 0, 1024);
      expectSameBits(C, expected, 'an operand larger than the region');
      p.release();
    } finally {
      for (const p of packed) p.release();
    }
    expect(kernels.backend().threadPackedBytes).toBe(0);
    expect(kernels.backend().packedBytes).toBe(0);
  });

  test('gemmPacked: products under packedMinWork stay on one thread (no copy); a new pool makes its own copy and the old one is freed', () => {
    enableGemmThreads(2); // default packedMinWork
    const small = { ...plain, f64: false, transA: false, transB: true, M: 8, N: 256, K: 256 }; // 2¹⁹
    expect(expectPackedSameAsWasm(small)).toBe(0);
    const { ldb, B } = gemmOperands({ ...small, M: 32, N: 1024 }); // 2²³
    const packed = kernels.packB(true, 256, 1024, B, 0, ldb);
    try {
      const A = filled(32 * 256, false, 3);
      const C = new Float32Array(32 * 1024);
      kernels.gemmPacked(false, 32, 1, A, 0, 256, packed, 0, C, 0, 1024);
      expect(kernels.backend().threadPackedBytes).toBe(1024 * 256 * 4);
      enableGemmThreads(2, { packedMinWork: 0 }); // replaces the pool
      expect(kernels.backend().reason).toMatch(/\(1024 with a packed operand\)/);
      expect(kernels.backend().threadPackedBytes).toBe(0);
      const C2 = new Float32Array(32 * 1024);
      kernels.gemmPacked(false, 32, 1, A, 0, 256, packed, 0, C2, 0, 1024);
      expect(kernels.backend().threadPackedBytes).toBe(1024 * 256 * 4);
      expect(C2).toEqual(C);
    } finally {
      packed.release();
    }
    expect(kernels.backend().threadPackedBytes).toBe(0);
  });

  test('gemmPacked: while the default policy sees the cores busy, products stay on one thread over the packed operand (no copy), with the same results', () => {
    let busy = true;
    install(2, { minWork: 0, packedMinWork: 0 }, false, () => busy);
    const c = { ...plain, f64: false, transA: false, transB: true, M: 32, N: 1024, K: 256 };
    expect(expectPackedSameAsWasm(c)).toBe(0);
    busy = false;
    expect(expectPackedSameAsWasm(c)).toBe(1024 * 256 * 4);
  });

  test('gemmPacked: a released operand is rejected on threads too, naming the op', () => {
    enableGemmThreads(2, { minWork: 0, packedMinWork: 0 });
    const B = filled(256 * 256, false, 1);
    const packed = kernels.packB(false, 256, 256, B, 0, 256);
    packed.release();
    expect(() => kernels.gemmPacked(false, 32, 1, filled(32 * 256, false, 2), 0, 256, packed, 0, new Float32Array(32 * 256), 0, 256)).toThrow(/gemmPacked: the packed operand \(256×256\) was released/);
  });
});

describe('GemmThreadPool', () => {
  /** A by-rows job over the pool's staged areas: 32 items of 64 rows × 512 columns × 256 (valid addresses). */
  const bigJob = (pool: GemmThreadPool): GemmJob => ({
    f64: false, byRows: true, step: 64, rows: 2048, cols: 512, depth: 256,
    a: pool.aJob, ars: 256 * 4, acs: 4, b: pool.bJob, brs: 512 * 4, bcs: 4, c: pool.cJob, cs: 512 * 4,
    alpha: 1, load: 0, group: 1,
  });

  test('GemmThreadPool: an error in a worker is thrown by the caller, with the worker\'s message and the op', () => {
    const pool = new GemmThreadPool(2, 20_000);
    try {
      // Only the worker claims items (callerWorks = false), and its first item reads past the memory.
      const job = { ...bigJob(pool), a: 0x7ff00000 };
      expect(() => pool.runJob(job, 'gemm (test job)', false)).toThrow(/^gemm \(test job\) failed: worker 1: RuntimeError: memory access out of bounds/);
      // The pool stays usable after a failed job.
      pool.runJob({ ...bigJob(pool), rows: 64 }, 'gemm (test job)', false);
    } finally {
      pool.stop();
    }
  });

  test('GemmThreadPool: an error in a worker on a packed job is thrown by the caller, with the worker\'s message and the op', () => {
    const pool = new GemmThreadPool(2, 20_000);
    try {
      // 32 items of 8 columns over a packed op(B) at an address past the memory, claimed by the worker only.
      const job: GemmJob = {
        f64: false, byRows: false, step: 8, rows: 32, cols: 256, depth: 256,
        a: pool.aJob, ars: 256 * 4, acs: 4, b: 0x7ff00000, brs: 0, bcs: 0, c: pool.cJob, cs: 256 * 4,
        alpha: 1, load: 0, group: 1, kind: 'packed', slice: 256, rowBlock: 64, colBlock: 512,
      };
      expect(() => pool.runJob(job, 'gemmPacked (test job)', false)).toThrow(/^gemmPacked \(test job\) failed: worker 1: RuntimeError: memory access out of bounds/);
      pool.runJob({ ...job, b: pool.packedAt }, 'gemmPacked (test job)', false);
    } finally {
      pool.stop();
    }
  });

  test('GemmThreadPool: workers that do not finish in time make the call throw (naming the op and the timeout) instead of hanging', () => {
    let timedOut = 0;
    // Started just now, the worker is still booting (tens of ms) when a 1 ms timeout expires.
    const pool = new GemmThreadPool(2, 1, () => timedOut++);
    try {
      expect(() => pool.runJob(bigJob(pool), 'gemm (test job)', false)).toThrow(
        /^gemm \(test job\): the worker threads did not finish their share within 1 ms \(\d+ of 32 items done\); threads are disabled/,
      );
      expect(timedOut).toBe(1);
    } finally {
      pool.stop();
    }
  });
});

describe('gemm on threads, as a package', () => {
  /** Runs an ES module with node from the repository root (where @seqgrad/autograd resolves to the built dist/). */
  function runModule(source: string): { status: number | null; out: string; ms: number } {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', source], { cwd: root, encoding: 'utf8', timeout: 20_000 });
    return { status: r.status, out: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}`, ms: Date.now() - t0 };
  }

  test('enableGemmThreads: a process that enabled threads and used them exits by itself, within seconds', () => {
    buildProject('packages/autograd');
    const { status, out, ms } = runModule(`
      import { kernels } from '@seqgrad/autograd';
      import { enableGemmThreads, gemmThreads } from '@seqgrad/autograd/threads';
      enableGemmThreads(2);
      const n = 512, A = new Float32Array(n * n).fill(0.5), B = new Float32Array(n * n).fill(2), C = new Float32Array(n * n);
      for (let r = 0; r < 5; r++) kernels.gemm(false, false, n, n, n, 1, A, 0, n, B, 0, n, 0, C, 0, n);
      if (C[0] !== n || C[n * n - 1] !== n) throw new Error('wrong product ' + C[0]);
      console.log('ok', gemmThreads());
    `);
    expect(out).toContain('ok 2');
    expect(status).toBe(0);
    expect(ms).toBeLessThan(10_000); // node starts in well under a second; a worker keeping the process alive would hit the 20 s kill
  });

  test('docs: the "Using the second core" example of docs/performance.md runs in node', () => {
    buildProject('packages/autograd');
    const doc = readFileSync(join(root, 'docs/performance.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## Using the second core'));
    const example = /```js\n([\s\S]*?)\n```/.exec(section)?.[1];
    expect(example, 'a ```js block in the section').toBeDefined();
    const { status, out } = runModule(example!);
    expect(status, out).toBe(0);
  });

  test('@seqgrad/autograd: no module the main entry imports uses node: (it runs in browsers; only the threads subpath needs Node)', () => {
    const src = fileURLToPath(new URL('../src/', import.meta.url));
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(join(src, file), 'utf8');
      expect(text, file).not.toMatch(/from\s+['"]node:|import\(\s*['"]node:|require\(/);
      for (const m of text.matchAll(/from\s+'(\.{1,2}\/[^']+)\.js'/g)) visit(join(file, '..', `${m[1]}.ts`));
    };
    visit('index.ts');
    expect(seen.size).toBeGreaterThan(10);
    expect([...seen].some((f) => f.startsWith('threads'))).toBe(false);
    expect(readdirSync(src)).toContain('threads.ts');
  });
});
