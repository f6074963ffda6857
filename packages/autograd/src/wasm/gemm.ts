/**
 * The WebAssembly SIMD GEMM: the same contract as `gemmJs` (C = alpha · op(A) · op(B) + beta · C,
 * row-major, offsets and leading dimensions), for float32 (f32x4, 4×8 register tile) and float64
 * (f64x2, 4×4 register tile). The module (gemm.wat, assembled into gemmBytes.generated.ts) is
 * compiled synchronously when the kernels load, so the API stays synchronous in Node and in browsers.
 *
 * Blocking (GotoBLAS order): for each NC-wide column block of C and each KC-deep slice of K, the
 * op(B) block is copied into the module's memory and packed once; then for each MC-row block
 * the op(A) block is copied and packed, the C tile is copied in, the register-tiled macro kernel
 * runs, and the tile is copied back. The module's memory is fixed (1.4 MB) and never grows.
 */
import type { FloatArray, GemmKernel } from '../kernels/gemm.js';
import { GEMM_WASM_BASE64 } from './gemmBytes.generated.js';

// The few WebAssembly JS API members used here (the project's lib is ES2022, without DOM).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};

interface GemmExports {
  memory: { buffer: ArrayBuffer };
  pack_a_f32(src: number, rs: number, cs: number, mc: number, kc: number): void;
  pack_b_f32(src: number, rs: number, cs: number, kc: number, nc: number): void;
  macro_f32(mc: number, nc: number, kc: number, cs: number, alpha: number, load: number, ctile: number): void;
  pack_a_f64(src: number, rs: number, cs: number, mc: number, kc: number): void;
  pack_b_f64(src: number, rs: number, cs: number, kc: number, nc: number): void;
  macro_f64(mc: number, nc: number, kc: number, cs: number, alpha: number, load: number, ctile: number): void;
}

// Byte offsets of the areas in the module's memory (see gemm.wat).
const BRAW = 655360;
const ARAW = 1179648;
const CTILE = 1310720;

/** Block sizes per element type: B block KC×NC and A block MC×KC fill their areas exactly. */
const BLOCKS = {
  f32: { KC: 256, NC: 512, MC: 64 },
  f64: { KC: 256, NC: 256, MC: 64 },
} as const;

export function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

let loaded: { exports: GemmExports; f32: Float32Array; f64: Float64Array } | null | undefined;

function load(): typeof loaded {
  if (loaded !== undefined) return loaded;
  try {
    const module = new WebAssembly.Module(decodeBase64(GEMM_WASM_BASE64));
    const exports = new WebAssembly.Instance(module, {}).exports as unknown as GemmExports;
    const buffer = exports.memory.buffer;
    loaded = { exports, f32: new Float32Array(buffer), f64: new Float64Array(buffer) };
  } catch {
    loaded = null; // no WebAssembly, or no SIMD: the caller keeps the TypeScript kernel
  }
  return loaded;
}

/** Whether this runtime can run the WebAssembly SIMD GEMM (compiles the module on first call). */
export function wasmSimdAvailable(): boolean {
  return typeof WebAssembly === 'object' && load() != null;
}

/**
 * Smallest M·N·K for which the WebAssembly kernel is used; below it `gemmWasm` calls `fallback`
 * (copying into the module costs more than the arithmetic saves).
 */
export const WASM_MIN_WORK = 1024;

/**
 * Builds the WebAssembly GEMM, or returns null where WebAssembly SIMD is unavailable. Calls with
 * mixed element types, or too small to pay for the copies, go to `fallback`.
 */
export function createWasmGemm(fallback: GemmKernel): GemmKernel | null {
  const mod = load();
  if (!mod) return null;
  const { exports: wasm, f32: mem32, f64: mem64 } = mod;

  return (transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc) => {
    if (M === 0 || N === 0) return;
    const f64 = C instanceof Float64Array;
    const sameType = f64 ? A instanceof Float64Array && B instanceof Float64Array : A instanceof Float32Array && B instanceof Float32Array;
    if (!sameType || K === 0 || alpha === 0 || M * N * K < WASM_MIN_WORK) {
      fallback(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
      return;
    }
    // beta = 0 overwrites C on the first K slice (NaN in C never leaks); other betas scale C first.
    if (beta !== 0 && beta !== 1) {
      for (let i = 0; i < M; i++) {
        const row = cOff + i * ldc;
        for (let j = 0; j < N; j++) C[row + j]! *= beta;
      }
    }
    const mem: FloatArray = f64 ? mem64 : mem32;
    const es = f64 ? 8 : 4;
    const { KC, NC, MC } = f64 ? BLOCKS.f64 : BLOCKS.f32;
    const packA = f64 ? wasm.pack_a_f64 : wasm.pack_a_f32;
    const packB = f64 ? wasm.pack_b_f64 : wasm.pack_b_f32;
    const macro = f64 ? wasm.macro_f64 : wasm.macro_f32;
    const nr = f64 ? 4 : 8; // register-tile columns
    const bRaw = BRAW / es;
    const aRaw = ARAW / es;
    const cTile = CTILE / es;

    for (let j0 = 0; j0 < N; j0 += NC) {
      const nc = Math.min(NC, N - j0);
      const ncPad = Math.ceil(nc / nr) * nr; // row stride of the C tile, in elements
      for (let k0 = 0; k0 < K; k0 += KC) {
        const kc = Math.min(KC, K - k0);
        // op(B)[k0:k0+kc, j0:j0+nc]: B stored (K, N) row by row, or (N, K) when transposed.
        if (!transB) {
          stage(mem, B, bOff + k0 * ldb + j0, ldb, kc, nc, bRaw);
          packB(BRAW, nc * es, es, kc, nc);
        } else {
          stage(mem, B, bOff + j0 * ldb + k0, ldb, nc, kc, bRaw);
          packB(BRAW, es, kc * es, kc, nc);
        }
        const load = k0 === 0 && beta === 0 ? 0 : 1;
        for (let i0 = 0; i0 < M; i0 += MC) {
          const mc = Math.min(MC, M - i0);
          // op(A)[i0:i0+mc, k0:k0+kc]: A stored (M, K), or (K, M) when transposed.
          if (!transA) {
            stage(mem, A, aOff + i0 * lda + k0, lda, mc, kc, aRaw);
            packA(ARAW, kc * es, es, mc, kc);
          } else {
            stage(mem, A, aOff + k0 * lda + i0, lda, kc, mc, aRaw);
            packA(ARAW, es, mc * es, mc, kc);
          }
          const cStart = cOff + i0 * ldc + j0;
          if (load) stage(mem, C, cStart, ldc, mc, nc, cTile, ncPad);
          macro(mc, nc, kc, ncPad * es, alpha, load, CTILE);
          unstage(mem, cTile, ncPad, mc, nc, C, cStart, ldc);
        }
      }
    }
  };
}

/** Copies rows×cols of `src` (row stride `ld`) to `mem` at `dst` (row stride `dstLd`): one copy when both are contiguous. */
export function stage(mem: FloatArray, src: FloatArray, start: number, ld: number, rows: number, cols: number, dst: number, dstLd = cols): void {
  if ((ld === cols && dstLd === cols) || rows === 1) {
    mem.set(src.subarray(start, start + (rows - 1) * ld + cols), dst);
    return;
  }
  for (let r = 0; r < rows; r++) mem.set(src.subarray(start + r * ld, start + r * ld + cols), dst + r * dstLd);
}

/** Copies the rows×cols C tile (row stride `tileLd`) back into C (row stride `ldc`). */
export function unstage(mem: FloatArray, tile: number, tileLd: number, rows: number, cols: number, C: FloatArray, start: number, ldc: number): void {
  if ((tileLd === cols && ldc === cols) || rows === 1) {
    C.set(mem.subarray(tile, tile + (rows - 1) * tileLd + cols), start);
    return;
  }
  for (let r = 0; r < rows; r++) C.set(mem.subarray(tile + r * tileLd, tile + r * tileLd + cols), start + r * ldc);
}
