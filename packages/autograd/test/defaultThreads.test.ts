import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { defaultNumThreads, disableGemmThreads, gemmThreads, setNumThreads } from '@seqgrad/autograd/threads';
import { buildProject } from '../../../tests/setup/build.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** Runs an ES module with node from the repository root (the built package, through its Node entry). */
function runModule(source: string, env: Record<string, string> = {}, args: string[] = []): { status: number | null; out: string; err: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [...args, '--input-type=module', '-e', source], {
    cwd: root, encoding: 'utf8', timeout: 20_000, env: { ...process.env, SEQGRAD_NUM_THREADS: '', ...env },
  });
  return { status: r.status, out: r.stdout, err: r.stderr, ms: Date.now() - t0 };
}

afterEach(() => disableGemmThreads());

describe('thread count', () => {
  test('setNumThreads: sets the count (1 = no worker threads), rejects anything but an integer from 1 to 16 or auto, naming the function', () => {
    setNumThreads(1);
    expect(gemmThreads()).toBe(1);
    setNumThreads(2);
    expect(gemmThreads()).toBe(2);
    setNumThreads(1);
    expect(gemmThreads()).toBe(1);
    expect(() => setNumThreads(0)).toThrow(/^setNumThreads: threads must be 'auto' or an integer from 1 to 16, got 0$/);
    expect(() => setNumThreads(1.5)).toThrow(/got 1\.5/);
    setNumThreads('auto');
    expect(gemmThreads()).toBe(defaultNumThreads());
  });

  const product = `
    const { kernels } = await import('@seqgrad/autograd');
    const n = 512, A = new Float32Array(n * n).fill(0.5), B = new Float32Array(n * n).fill(2), C = new Float32Array(n * n);
    for (let r = 0; r < 3; r++) kernels.gemm(false, false, n, n, n, 1, A, 0, n, B, 0, n, 0, C, 0, n);
    if (C[0] !== n || C[n * n - 1] !== n) throw new Error('wrong product ' + C[0]);
    console.log(JSON.stringify({ threads: kernels.backend().threads, gemm: kernels.backend().gemm }));
  `;

  test('@seqgrad/autograd (Node entry): SEQGRAD_NUM_THREADS=1 means no worker threads; =2 splits products and the process still exits by itself', () => {
    buildProject('packages/autograd');
    const one = runModule(product, { SEQGRAD_NUM_THREADS: '1' });
    expect(one.status, one.err).toBe(0);
    expect(JSON.parse(one.out)).toEqual({ threads: 1, gemm: 'wasm-simd' });
    const two = runModule(product, { SEQGRAD_NUM_THREADS: '2' });
    expect(two.status, two.err).toBe(0);
    expect(JSON.parse(two.out)).toEqual({ threads: 2, gemm: 'wasm-simd-threads' });
    expect(two.ms).toBeLessThan(10_000); // a worker keeping the process alive would hit the 20 s kill
  });

  test('@seqgrad/autograd (Node entry): a SEQGRAD_NUM_THREADS that is not a count is reported once and means one thread', () => {
    buildProject('packages/autograd');
    const r = runModule(product, { SEQGRAD_NUM_THREADS: 'many' });
    expect(r.status, r.err).toBe(0);
    expect(r.err).toContain("seqgrad: SEQGRAD_NUM_THREADS must be an integer from 1 to 16, got 'many'; using 1 thread");
    expect(JSON.parse(r.out).threads).toBe(1);
  });

  test('@seqgrad/autograd/threads (browser condition): where the page is not cross-origin isolated, setNumThreads says so once, naming COOP and COEP, and the GEMM stays on one thread', () => {
    buildProject('packages/autograd');
    const r = runModule(`
      const t = await import('@seqgrad/autograd/threads');
      t.setNumThreads(2);
      t.enableGemmThreads(2);
      console.log(t.gemmThreads(), t.defaultNumThreads());
    `, {}, ['--conditions=browser']);
    expect(r.status, r.err).toBe(0);
    expect(r.out).toBe('1 1\n');
    const warnings = r.err.split('\n').filter((l) => l.startsWith('seqgrad:'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/not cross-origin isolated.*Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp/);
  });
});
