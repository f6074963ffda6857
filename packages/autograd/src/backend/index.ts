/**
 * The backend in use: which GEMM and elementwise implementation runs, applied through the
 * selection policy (policy.ts), and the front ends the kernels call. `kernels.backend()` reports
 * it. The default is the WebAssembly SIMD backend where its modules compile, else TypeScript;
 * `@seqgrad/autograd/threads` installs the worker-thread GEMM on top, and `setGemmKernel` lets a
 * test or a user put any GEMM in place.
 */
import { SourcedPackedB } from './packed.js';
import { THRESHOLDS, routeGemm } from './policy.js';
import { gemmJs, typescriptBackend } from './typescript.js';
import type { AnyArray, BackendName, BinaryOp, FloatArray, GemmKernel, PackedB, UnaryOp } from './types.js';
import { fmaAvailable, gemmFmaOn, gemmWasm, packedBytesInUse, setGemmFma, wasmSimdBackend } from './wasmSimd.js';
import { wasmGates, wasmGatesAvailable } from './gates.js';
import { wasmUnavailableReason } from './wasmModule.js';

/** The GEMM the policy installs: `gemmWasm` (which hands small calls to `gemmJs`), or `gemmJs`. */
const defaultGemm: GemmKernel = gemmWasm ?? gemmJs;
let activeGemm: GemmKernel = defaultGemm;
let elementwiseWasm = wasmSimdBackend !== null;

/** The worker-thread GEMM while `@seqgrad/autograd/threads` has it installed. */
let threaded: ThreadedGemm | null = null;

/** What `@seqgrad/autograd/threads` registers with its GEMM. */
export interface ThreadedGemm {
  kernel: GemmKernel;
  previous: GemmKernel;
  threads: number;
  minWork: number;
  /** Smallest M·N·K of a product with a packed operand that it splits. */
  packedMinWork: number;
  /**
   * Runs a product with a packed operand on the threads; false (nothing computed) when the policy
   * keeps it on one thread or the operand does not fit the threads' region of packed operands.
   */
  packed: (
    transA: boolean, M: number, alpha: number, A: FloatArray, aOff: number, lda: number,
    p: SourcedPackedB, beta: number, C: FloatArray, cOff: number, ldc: number,
  ) => boolean;
  /** Bytes of the threads' shared memory held by copies of packed operands not yet released. */
  packedBytes: () => number;
  /** The default policy: whether it keeps products on one thread now because other processes keep the cores busy; null when not applied. */
  busy: () => boolean | null;
}

/** Whether this runtime runs the WebAssembly SIMD backend (its modules compiled). */
export function wasmSimdAvailable(): boolean {
  return gemmWasm !== null;
}

/** C = alpha · op(A) · op(B) + beta · C with the GEMM in use (see `GemmKernel`). */
export function gemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: FloatArray, aOff: number, lda: number,
  B: FloatArray, bOff: number, ldb: number,
  beta: number, C: FloatArray, cOff: number, ldc: number,
): void {
  activeGemm(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
}

/** Replaces the GEMM (returns the previous one). Every matmul and fused-layer product uses it. */
export function setGemmKernel(kernel: GemmKernel): GemmKernel {
  const prev = activeGemm;
  activeGemm = kernel;
  return prev;
}

/** Called by `@seqgrad/autograd/threads` when it installs (or, with null, removes) its GEMM. */
export function registerThreadedGemm(info: ThreadedGemm | null): void {
  threaded = info;
}

/**
 * op(B) packed once for `gemmPacked` (in WebAssembly memory where the WebAssembly backend runs).
 * The caller owns it and must `release()` it; `B` must not change while it lives.
 */
export function packB(transB: boolean, K: number, N: number, B: FloatArray, bOff: number, ldb: number): PackedB {
  return (wasmSimdBackend ?? typescriptBackend).packB(transB, K, N, B, bOff, ldb);
}

/**
 * C = alpha · op(A) · op(B) + beta · C for op(B) packed by `packB`: the result `gemm` gives with
 * the packed B, bit for bit. With the default GEMM, op(B) is not copied or packed again. With the
 * worker threads, a product of at least their `packedMinWork` is split over a copy of the packed
 * operand in their shared memory (made on first use, freed by `release()`), smaller ones run on one
 * thread over the packed operand. Where another GEMM is installed (`setGemmKernel`), it runs on the
 * packed operand's source.
 */
export function gemmPacked(
  transA: boolean, M: number, alpha: number, A: FloatArray, aOff: number, lda: number,
  packed: PackedB, beta: number, C: FloatArray, cOff: number, ldc: number,
): void {
  const p = packed as SourcedPackedB;
  p.check('gemmPacked');
  const onThreads = threaded !== null && activeGemm === threaded.kernel && threaded.previous === defaultGemm;
  if (onThreads && threaded!.packed(transA, M, alpha, A, aOff, lda, p, beta, C, cOff, ldc)) return;
  if (onThreads || activeGemm === defaultGemm) (wasmSimdBackend ?? typescriptBackend).gemmPacked(transA, M, alpha, A, aOff, lda, p, beta, C, cOff, ldc);
  else activeGemm(transA, p.transB, M, p.N, p.K, alpha, A, aOff, lda, p.B, p.bOff, p.ldb, beta, C, cOff, ldc);
}

/**
 * Turns the WebAssembly elementwise kernels off (false) or back on (true, where available);
 * returns whether they were on. For tests and benchmarks: results are the same either way.
 */
export function setWasmElementwise(on: boolean): boolean {
  const was = elementwiseWasm;
  elementwiseWasm = on && wasmSimdBackend !== null;
  return was;
}

/** Whether the WebAssembly elementwise kernels are in use (see `setWasmElementwise`). */
export function useWasmElementwise(): boolean {
  return elementwiseWasm;
}

/** out = a op b over n values (see `Backend.binary`); false when no backend covers the case. */
export function binary(op: BinaryOp, out: AnyArray, a: AnyArray, b: AnyArray, n: number, bRow: number): boolean {
  if (elementwiseWasm && wasmSimdBackend!.binary(op, out, a, b, n, bRow)) return true;
  return typescriptBackend.binary(op, out, a, b, n, bRow);
}

/** out[i] = op(x[i]). */
export function unary(op: UnaryOp, out: FloatArray, x: AnyArray): void {
  if (elementwiseWasm && wasmSimdBackend!.unary(op, out, x)) return;
  typescriptBackend.unary(op, out, x);
}

/** out (cols) += the rows of x in order. */
export function sumRows(out: FloatArray, x: AnyArray, rows: number, cols: number): void {
  if (elementwiseWasm && wasmSimdBackend!.sumRows(out, x, rows, cols)) return;
  typescriptBackend.sumRows(out, x, rows, cols);
}

/** What `kernels.backend()` reports. */
export interface BackendReport {
  /** The implementation that runs GEMMs large enough for it ('custom': a kernel installed with `setGemmKernel`). */
  gemm: BackendName | 'custom';
  /** The implementation of add/mul/div and row sums large enough for it. */
  elementwise: 'wasm-simd' | 'typescript';
  /**
   * The gate loops of the fused float32 layers: WebAssembly SIMD (sizes a multiple of 4), or
   * TypeScript (`kernels.setWasmGates(false)`, or no WebAssembly). Float64 always runs TypeScript.
   */
  gates: 'wasm-simd' | 'typescript';
  /** Threads the GEMM splits large products between (1: no worker threads). */
  threads: number;
  /**
   * Whether the WebAssembly GEMM runs the relaxed-SIMD FMA register tile (the default where the
   * runtime has relaxed SIMD; `setGemmFma(false)` for the plain, deterministic one), and whether the runtime has it.
   */
  fma: { on: boolean; available: boolean };
  /** Why: what was chosen, what was not available and how to change it. */
  reason: string;
  /** Whether the WebAssembly modules compiled, and if not, why (e.g. a Content-Security-Policy without 'wasm-unsafe-eval'). */
  wasm: { available: boolean; problem: string | null };
  /** The thresholds of the selection policy. */
  thresholds: Readonly<typeof THRESHOLDS>;
  /** Bytes of WebAssembly memory held by packed operands not yet released. */
  packedBytes: number;
  /** Of those, the bytes in the worker threads' shared memory (copies the threaded GEMM made of packed operands). */
  threadPackedBytes: number;
}

/**
 * Which implementation runs, and why.
 *
 * @example
 * const b = kernels.backend();
 * console.log(b.gemm, b.threads, b.reason); // 'wasm-simd' 1 'WebAssembly SIMD: ...'
 */
export function backend(): BackendReport {
  const problem = wasmUnavailableReason();
  const threadPackedBytes = threaded?.packedBytes() ?? 0;
  const threads = threaded !== null && activeGemm === threaded.kernel ? threaded.threads : 1;
  let gemmName: BackendReport['gemm'];
  let reason: string;
  const tile = gemmFmaOn()
    ? 'relaxed-SIMD FMA register tile (kernels.setGemmFma(false) for the plain, deterministic one)'
    : fmaAvailable ? 'plain SIMD register tile (FMA turned off with kernels.setGemmFma)' : 'plain SIMD register tile (this runtime has no relaxed SIMD for FMA)';
  const small = `products under ${THRESHOLDS.wasmGemmMinWork} multiply-adds, or mixing float32 and float64, run in TypeScript`;
  if (threads > 1) {
    gemmName = 'wasm-simd-threads';
    const busy = threaded!.busy();
    const policy = busy === null ? '' : busy
      ? ' (default policy: other processes keep the cores busy, so products stay on one thread for now)'
      : ' (default policy: also kept on one thread while other processes keep the cores busy)';
    reason = `WebAssembly SIMD, ${tile}, on ${threads} threads for products of at least ${threaded!.minWork} multiply-adds ` +
      `(${threaded!.packedMinWork} with a packed operand)${policy}, one thread below; ${small}`;
  } else if (activeGemm === defaultGemm) {
    gemmName = gemmWasm ? 'wasm-simd' : 'typescript';
    reason = gemmWasm ? `WebAssembly SIMD, ${tile}; ${small}` : `TypeScript: WebAssembly is not used because ${problem ?? 'its modules did not compile'}`;
  } else {
    gemmName = 'custom';
    reason = 'a GEMM installed with kernels.setGemmKernel';
  }
  if (!elementwiseWasm && wasmSimdBackend) reason += '; WebAssembly elementwise kernels turned off (kernels.setWasmElementwise)';
  const gates = wasmGates() !== null;
  if (!gates && wasmGatesAvailable()) reason += '; WebAssembly gate loops turned off (kernels.setWasmGates)';
  return {
    gemm: gemmName,
    elementwise: elementwiseWasm ? 'wasm-simd' : 'typescript',
    gates: gates ? 'wasm-simd' : 'typescript',
    threads,
    fma: { on: gemmFmaOn(), available: fmaAvailable },
    reason,
    wasm: { available: gemmWasm !== null, problem },
    thresholds: THRESHOLDS,
    packedBytes: packedBytesInUse() + threadPackedBytes,
    threadPackedBytes,
  };
}

export { gemmJs, gemmWasm, setGemmFma, THRESHOLDS, routeGemm };
export type { AnyArray, BackendName, BinaryOp, FloatArray, GemmKernel, PackedB, UnaryOp };
