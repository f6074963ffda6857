import { afterEach, describe, expect, test } from 'vitest';
import { kernels } from '@seqgrad/autograd';
import { gruBackward, gruForward, lstmBackward, lstmForward, rnnBackward, rnnForward } from '@seqgrad/layers';

/** Records every GEMM call (M, N, K) while still computing it. */
const calls: Array<{ M: number; N: number; K: number }> = [];
let previous: kernels.GemmKernel | null = null;
function recordGemms(): void {
  calls.length = 0;
  previous = kernels.setGemmKernel((tA, tB, M, N, K, ...rest) => {
    calls.push({ M, N, K });
    kernels.gemmJs(tA, tB, M, N, K, ...rest);
  });
}
afterEach(() => {
  if (previous) kernels.setGemmKernel(previous);
  previous = null;
});

const B = 3, T = 7, I = 5, H = 4;
const dims = { B, T, I, H };
const arr = (n: number) => Float64Array.from({ length: n }, (_, e) => Math.sin(e));
const params = (G: number) => ({ weightIh: arr(G * H * I), weightHh: arr(G * H * H), biasIh: arr(G * H), biasHh: arr(G * H) });

describe('hand BPTT GEMM arrangement', () => {
  test('rnnForward/rnnBackward: one GEMM for the input projection, one per gradient over all steps, only h·W_hhᵀ in the loop', () => {
    const p = params(1);
    recordGemms();
    const f = rnnForward(p, arr(B * T * I), null, dims);
    expect(calls[0]).toEqual({ M: B * T, N: H, K: I }); // x W_ihᵀ for every step at once
    expect(calls.slice(1)).toEqual(Array(T).fill({ M: B, N: H, K: H })); // h W_hhᵀ per step
    calls.length = 0;
    rnnBackward(p, f.cache, arr(B * T * H), null);
    expect(calls.slice(0, T)).toEqual(Array(T).fill({ M: B, N: H, K: H })); // da W_hh per step
    expect(calls.slice(T)).toEqual([
      { M: B * T, N: I, K: H }, // dx
      { M: I, N: H, K: B * T }, // dW_ihᵀ = xᵀ da summed over all steps (then transposed)
      { M: H, N: H, K: B * T }, // dW_hhᵀ = h_prevᵀ da summed over all steps (then transposed)
    ]);
  });

  test('lstmForward/lstmBackward: the same arrangement with 4H gate rows', () => {
    const p = params(4);
    recordGemms();
    const f = lstmForward(p, arr(B * T * I), null, null, dims);
    expect(calls.length).toBe(1 + T);
    calls.length = 0;
    lstmBackward(p, f.cache, null, arr(B * H), null);
    expect(calls.length).toBe(T + 3);
    expect(calls.slice(T).map((c) => c.K)).toEqual([4 * H, B * T, B * T]);
  });

  test('gruForward/gruBackward: the reset-before placement needs a second in-loop GEMM and a second dW_hh GEMM', () => {
    const p = params(3);
    for (const resetAfter of [true, false]) {
      recordGemms();
      const f = gruForward(p, arr(B * T * I), null, dims, { resetAfter });
      expect(calls.length).toBe(1 + (resetAfter ? 1 : 2) * T);
      calls.length = 0;
      gruBackward(p, f.cache, arr(B * T * H), null);
      expect(calls.length).toBe((resetAfter ? 1 : 2) * T + (resetAfter ? 3 : 4));
      kernels.setGemmKernel(previous!);
      previous = null;
    }
  });
});
