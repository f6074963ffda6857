/**
 * WebAssembly SIMD elementwise binary kernels (elementwise.wat, assembled into
 * elementwiseBytes.generated.ts): out = a ⊙ b for add, mul, div over float32 (f32x4) and
 * float64 (f64x2), both operands full arrays of n values, one of them a single value, or b a
 * row repeated along the leading axes (a bias: (N, C) ⊙ (C)). The
 * results are bit-identical to the TypeScript loops (IEEE operations in both); the gain is
 * SIMD and no per-element float32 ↔ double conversion: 6–7× on 8192 float32 values, copies
 * included. Compiled synchronously on first use, like the GEMM.
 */
import type { FloatArray } from '../kernels/gemm.js';
import { ELEMENTWISE_WASM_BASE64 } from './elementwiseBytes.generated.js';
import { decodeBase64 } from './gemm.js';

// The few WebAssembly JS API members used here (the project's lib is ES2022, without DOM).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};

/** The operations this module has (the rest of BinaryOp stays in TypeScript). */
export type WasmBinaryOp = 'add' | 'mul' | 'div';

type Kernel = (n: number) => void;
type ScalarKernel = (n: number, s: number) => void;
interface Kernels { vv: Kernel; vs: ScalarKernel; sv: ScalarKernel }

/** Byte offset of b's area; a's area (also the result) starts at 0. */
const B_AREA = 65536;

let loaded: { exports: Record<string, unknown>; mem32: Float32Array; mem64: Float64Array } | null | undefined;

/** The module's one instance (compiled on first use), or null without WebAssembly SIMD. */
function instance(): typeof loaded {
  if (loaded !== undefined) return loaded;
  try {
    if (typeof WebAssembly !== 'object') return (loaded = null);
    const module = new WebAssembly.Module(decodeBase64(ELEMENTWISE_WASM_BASE64));
    const exports = new WebAssembly.Instance(module, {}).exports as Record<string, unknown>;
    const buffer = (exports.memory as { buffer: ArrayBuffer }).buffer;
    loaded = { exports, mem32: new Float32Array(buffer), mem64: new Float64Array(buffer) };
  } catch {
    loaded = null; // no WebAssembly, or no SIMD: the TypeScript loops stay
  }
  return loaded;
}

/** Below this many values the TypeScript loop is as fast as the copies and the call. */
export const WASM_BINARY_MIN = 256;

/**
 * Builds the WebAssembly elementwise kernel, or returns null where WebAssembly SIMD is
 * unavailable. The returned function computes out = a ⊙ b and returns true, or returns false
 * (doing nothing) for what it does not handle: another op, mixed or integer arrays, fewer than
 * WASM_BINARY_MIN values, or lengths other than (n, n), (n, 1), (1, n) and, with `bRow`,
 * (n, bRow): b repeated n / bRow times (bRow must divide n and fit a chunk).
 */
export function createWasmBinary(): ((op: string, out: FloatArray, a: FloatArray, b: FloatArray, n: number, bRow?: number) => boolean) | null {
  const inst = instance();
  if (!inst) return null;
  const { exports, mem32, mem64 } = inst;
  const table = (t: 'f32' | 'f64') => {
    const k = {} as Record<WasmBinaryOp, Kernels>;
    for (const op of ['add', 'mul', 'div'] as const) {
      k[op] = { vv: exports[`${op}_vv_${t}`] as Kernel, vs: exports[`${op}_vs_${t}`] as ScalarKernel, sv: exports[`${op}_sv_${t}`] as ScalarKernel };
    }
    return k;
  };
  const f32 = table('f32');
  const f64 = table('f64');

  return (op, out, a, b, n, bRow = 0) => {
    if (n < WASM_BINARY_MIN || (op !== 'add' && op !== 'mul' && op !== 'div')) return false;
    const is64 = out instanceof Float64Array;
    if (is64 ? !(a instanceof Float64Array && b instanceof Float64Array) : !(out instanceof Float32Array && a instanceof Float32Array && b instanceof Float32Array)) return false;
    const aFull = a.length === n;
    const bFull = b.length === n;
    const k = (is64 ? f64 : f32)[op];
    const mem: FloatArray = is64 ? mem64 : mem32;
    let chunk = B_AREA / (is64 ? 8 : 4);
    const bOff = chunk; // b's area, in elements
    if (bRow > 1 && !bFull) {
      // b is a row: tile it over b's area once, then run whole rows per chunk.
      if (!aFull || b.length !== bRow || n % bRow !== 0 || bRow > chunk) return false;
      chunk -= chunk % bRow;
      for (let r = 0; r < chunk; r += bRow) mem.set(b, bOff + r);
      for (let i = 0; i < n; i += chunk) {
        const m = Math.min(chunk, n - i);
        mem.set(a.subarray(i, i + m), 0);
        k.vv(m);
        out.set(mem.subarray(0, m), i);
      }
      return true;
    }
    if (!(aFull && (bFull || b.length === 1)) && !(bFull && a.length === 1)) return false;
    for (let i = 0; i < n; i += chunk) {
      const m = Math.min(chunk, n - i);
      if (aFull && bFull) {
        mem.set(a.subarray(i, i + m), 0);
        mem.set(b.subarray(i, i + m), bOff);
        k.vv(m);
      } else if (aFull) {
        mem.set(a.subarray(i, i + m), 0);
        k.vs(m, b[0]!);
      } else {
        mem.set(b.subarray(i, i + m), 0);
        k.sv(m, a[0]!);
      }
      out.set(mem.subarray(0, m), i);
    }
    return true;
  };
}

/**
 * Builds the WebAssembly row sum, or null without WebAssembly SIMD: out (cols) += the sum of the
 * rows × cols values of x, row after row, in x's element type: the same additions in the same
 * order as the TypeScript reduction over leading axes, so bit-identical. Returns false (doing
 * nothing) for mixed or integer arrays, fewer than WASM_BINARY_MIN values, or rows wider than a chunk.
 */
export function createWasmSumRows(): ((out: FloatArray, x: FloatArray, rows: number, cols: number) => boolean) | null {
  const inst = instance();
  if (!inst) return null;
  const { exports, mem32, mem64 } = inst;
  const f32 = exports.add_rows_f32 as (rows: number, cols: number) => void;
  const f64 = exports.add_rows_f64 as (rows: number, cols: number) => void;
  return (out, x, rows, cols) => {
    if (rows * cols < WASM_BINARY_MIN) return false;
    const is64 = out instanceof Float64Array;
    if (is64 ? !(x instanceof Float64Array) : !(out instanceof Float32Array && x instanceof Float32Array)) return false;
    const chunk = B_AREA / (is64 ? 8 : 4);
    if (cols > chunk) return false;
    const mem: FloatArray = is64 ? mem64 : mem32;
    const kernel = is64 ? f64 : f32;
    const rowsPerChunk = Math.floor(chunk / cols);
    mem.set(out, chunk); // the accumulator row, in b's area
    for (let r = 0; r < rows; r += rowsPerChunk) {
      const m = Math.min(rowsPerChunk, rows - r);
      mem.set(x.subarray(r * cols, (r + m) * cols), 0);
      kernel(m, cols);
    }
    out.set(mem.subarray(chunk, chunk + cols));
    return true;
  };
}
