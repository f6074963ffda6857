/**
 * The WebAssembly SIMD backend: the GEMM of gemm.wat (float32 f32x4 with a 4×8 register tile,
 * float64 f64x2 with 4×4) and the add/mul/div and row sums of elementwise.wat, over copies of the
 * operands in the modules' memories. Results are bit-identical to the TypeScript backend's for the
 * elementwise kernels (IEEE operations on both sides); the GEMM follows the same contract and
 * blocking plan, with float32 sums accumulated in float32.
 *
 * GEMM (blocking plan order 'jki'): for each column block and K slice, op(B) is copied into the
 * module's memory and packed once; for each row block, op(A) is copied and packed, the C tile is
 * copied in (unless beta = 0 on the first slice), the register-tiled macro kernel runs, and the
 * tile is copied back. The module's memory is fixed (22 pages, 1.4 MB) and never grows.
 *
 * Packed operands (`packB`, `gemmPacked`) live in a second instance of the same module over a
 * growable memory: its first 22 pages are the same staging areas, and each packed op(B) takes an
 * area above them until it is released. The memory grows to the largest set of operands alive at
 * once and is reused after that.
 */
import {
  GEMM_MC, GEMM_MR, GEMM_WASM_BASE64, GEMM_WASM_FMA_BASE64, GEMM_WASM_RESIDENT_BASE64, GEMM_WASM_RESIDENT_FMA_BASE64,
} from '../wasm/gemmBytes.generated.js';
import { ELEMENTWISE_WASM_BASE64 } from '../wasm/elementwiseBytes.generated.js';
import { type BlockSizes, applyBeta, forEachBlock, roundUp } from './blocking.js';
import { RegionAllocator, SourcedPackedB } from './packed.js';
import { THRESHOLDS, routeGemm, sameFloatType } from './policy.js';
import { gemmJs, typescriptBackend } from './typescript.js';
import type { AnyArray, Backend, FloatArray, GemmKernel, PackedB } from './types.js';
import { PAGE_BYTES, type WasmMemory, compile, decodeBase64, stage, unstage, wasmApi } from './wasmModule.js';

interface GemmExports {
  pack_a_f32(src: number, rs: number, cs: number, mc: number, kc: number): void;
  pack_b_f32(src: number, rs: number, cs: number, kc: number, nc: number): void;
  macro_f32(mc: number, nc: number, kc: number, cs: number, alpha: number, load: number, ctile: number, bpack: number): void;
  pack_a_f64(src: number, rs: number, cs: number, mc: number, kc: number): void;
  pack_b_f64(src: number, rs: number, cs: number, kc: number, nc: number): void;
  macro_f64(mc: number, nc: number, kc: number, cs: number, alpha: number, load: number, ctile: number, bpack: number): void;
}

// Byte offsets of the areas in the module's memory (see gemm.wat).
const BPACK = 0;
const BRAW = 655360;
const ARAW = 1179648;
const CTILE = 1310720;
const STAGING_PAGES = 22;

/** Block sizes per element type: the B block KC×NC and the A block MC×KC fit their areas (MC a multiple of the tile's MR rows). */
export const WASM_BLOCKS: { f32: BlockSizes; f64: BlockSizes } = {
  f32: { KC: 256, NC: 512, MC: GEMM_MC },
  f64: { KC: 256, NC: 256, MC: GEMM_MC },
};
/** Rows of the register tile. */
export const WASM_MR = GEMM_MR;
/** Register-tile columns (the width of a packed op(B) panel). */
const NR = { f32: 8, f64: 4 } as const;

/** Typed views of a module's memory, refreshed when it grows. */
class MemoryViews {
  f32: Float32Array;
  f64: Float64Array;
  bytes: Uint8Array;
  constructor(readonly memory: WasmMemory) {
    this.f32 = new Float32Array(memory.buffer);
    this.f64 = new Float64Array(memory.buffer);
    this.bytes = new Uint8Array(memory.buffer);
  }
  /** Grows the memory to at least `bytes` and refreshes the views. */
  ensure(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes <= have) return;
    this.memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
    this.f32 = new Float32Array(this.memory.buffer);
    this.f64 = new Float64Array(this.memory.buffer);
    this.bytes = new Uint8Array(this.memory.buffer);
  }
}

/** One instance of the GEMM module over its memory. */
interface GemmInstance {
  exports: GemmExports;
  views: MemoryViews;
}

function instantiate(what: string, base64: string, views?: MemoryViews): GemmInstance | null {
  const module = compile(what, base64);
  if (!module || !wasmApi) return null;
  const exports = new wasmApi.Instance(module, views ? { env: { memory: views.memory } } : {}).exports as GemmExports & { memory?: WasmMemory };
  return { exports, views: views ?? new MemoryViews(exports.memory!) };
}

/**
 * Whether this runtime validates the relaxed-SIMD FMA build (f32x4.relaxed_madd): current
 * Chromium, Node ≥ 22, Node 20 with --experimental-wasm-relaxed-simd.
 */
export const fmaAvailable: boolean = (() => {
  try {
    return wasmApi !== undefined && wasmApi.validate(decodeBase64(GEMM_WASM_FMA_BASE64));
  } catch {
    return false;
  }
})();
/** Whether the FMA register tile runs (see `setGemmFma`). */
let fmaOn = fmaAvailable;

const plainMain = instantiate('gemm.wat', GEMM_WASM_BASE64);
let fmaMain: GemmInstance | null = null;

/** The instance the GEMM runs on: the FMA build when it is on, else the plain one. */
function mainInstance(): GemmInstance {
  return fmaOn ? (fmaMain ??= instantiate('gemm.wat (FMA)', GEMM_WASM_FMA_BASE64)!) : plainMain!;
}

/**
 * Chooses the register tile of the WebAssembly GEMM: `true` for relaxed-SIMD FMA (one rounding per
 * multiply-add; the default where `WebAssembly.validate` accepts it), `false` for the plain SIMD
 * tile (a multiply and an add, each rounded: deterministic, the same result in every runtime).
 * Returns whether FMA was on. Asking for FMA where the runtime lacks it leaves the plain tile.
 */
export function setGemmFma(on: boolean): boolean {
  const was = fmaOn;
  fmaOn = on && fmaAvailable;
  return was;
}

/** Whether the FMA register tile is in use. */
export function gemmFmaOn(): boolean {
  return fmaOn;
}

/**
 * C += alpha · op(A) · op(B) for one block of the plan on `inst`: op(A) staged and packed, the C
 * tile staged (when `load`), the macro kernel over the packed op(B) at byte `bpack`, the tile
 * copied back.
 */
function runBlock(
  inst: GemmInstance, f64: boolean, transA: boolean, A: FloatArray, aOff: number, lda: number,
  i0: number, mc: number, k0: number, kc: number, j0: number, nc: number,
  alpha: number, load: number, C: FloatArray, cOff: number, ldc: number, bpack: number,
): void {
  const es = f64 ? 8 : 4;
  const mem: FloatArray = f64 ? inst.views.f64 : inst.views.f32;
  const w = inst.exports;
  const ncPad = roundUp(nc, f64 ? NR.f64 : NR.f32); // row stride of the C tile, in elements
  // op(A)[i0:i0+mc, k0:k0+kc]: A stored (M, K), or (K, M) when transposed.
  if (!transA) {
    stage(mem, A, aOff + i0 * lda + k0, lda, mc, kc, ARAW / es);
    (f64 ? w.pack_a_f64 : w.pack_a_f32)(ARAW, kc * es, es, mc, kc);
  } else {
    stage(mem, A, aOff + k0 * lda + i0, lda, kc, mc, ARAW / es);
    (f64 ? w.pack_a_f64 : w.pack_a_f32)(ARAW, es, mc * es, mc, kc);
  }
  const cStart = cOff + i0 * ldc + j0;
  if (load) stage(mem, C, cStart, ldc, mc, nc, CTILE / es, ncPad);
  (f64 ? w.macro_f64 : w.macro_f32)(mc, nc, kc, ncPad * es, alpha, load, CTILE, bpack);
  unstage(mem, CTILE / es, ncPad, mc, nc, C, cStart, ldc);
}

/** Copies op(B)[k0:k0+kc, j0:j0+nc] into the staging area and packs it at BPACK. */
function packBlockB(inst: GemmInstance, f64: boolean, transB: boolean, B: FloatArray, bOff: number, ldb: number, k0: number, kc: number, j0: number, nc: number): void {
  const es = f64 ? 8 : 4;
  const mem: FloatArray = f64 ? inst.views.f64 : inst.views.f32;
  const packB = f64 ? inst.exports.pack_b_f64 : inst.exports.pack_b_f32;
  // B stored (K, N) row by row, or (N, K) when transposed.
  if (!transB) {
    stage(mem, B, bOff + k0 * ldb + j0, ldb, kc, nc, BRAW / es);
    packB(BRAW, nc * es, es, kc, nc);
  } else {
    stage(mem, B, bOff + j0 * ldb + k0, ldb, nc, kc, BRAW / es);
    packB(BRAW, es, kc * es, kc, nc);
  }
}

/**
 * The WebAssembly SIMD GEMM, or null where the module did not compile. Calls the policy routes to
 * TypeScript (mixed element types, K = 0, alpha = 0, fewer than `THRESHOLDS.wasmGemmMinWork`
 * multiply-adds) go to `gemmJs`.
 */
export const gemmWasm: GemmKernel | null = plainMain && ((transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc) => {
  if (M === 0 || N === 0) return;
  if (routeGemm(M, N, K, alpha, sameFloatType(A, B, C), 1) === 'typescript') {
    gemmJs(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
    return;
  }
  const f64 = C instanceof Float64Array;
  const main = mainInstance();
  // beta = 0 overwrites C on the first K slice; other betas scale C first.
  applyBeta(beta, M, N, C, cOff, ldc, false);
  forEachBlock(M, N, K, f64 ? WASM_BLOCKS.f64 : WASM_BLOCKS.f32, 'jki', (b) => {
    if (b.i0 === 0) packBlockB(main, f64, transB, B, bOff, ldb, b.k0, b.kc, b.j0, b.nc);
    runBlock(main, f64, transA, A, aOff, lda, b.i0, b.mc, b.k0, b.kc, b.j0, b.nc, alpha, b.firstK && beta === 0 ? 0 : 1, C, cOff, ldc, BPACK);
  });
});

// ---- Packed operands -------------------------------------------------------------------------

/**
 * The instances over the growable memory that holds packed operands (created on first use): the
 * plain build, and the FMA build over the same memory, so an operand packed once serves both.
 */
let resident: { plain: GemmInstance; fma: GemmInstance | null; views: MemoryViews } | null | undefined;
/** The areas above the staging pages that packed operands take and give back. */
const residentAreas = new RegionAllocator(STAGING_PAGES * PAGE_BYTES, 0);

function residentInstances(): typeof resident {
  if (resident === undefined) {
    const views = wasmApi ? new MemoryViews(new wasmApi.Memory({ initial: STAGING_PAGES })) : null;
    const plain = views && instantiate('gemm.wat (resident)', GEMM_WASM_RESIDENT_BASE64, views);
    resident = plain && views ? { plain, fma: null, views } : null;
  }
  return resident;
}

/** The resident instance the GEMM runs on (FMA or plain, as `mainInstance`). */
function residentInstance(): GemmInstance {
  const r = resident!;
  return fmaOn ? (r.fma ??= instantiate('gemm.wat (resident, FMA)', GEMM_WASM_RESIDENT_FMA_BASE64, r.views)!) : r.plain;
}

/** Byte address of an area of `bytes` for a packed operand, growing the resident memory when none is free. */
function allocate(views: MemoryViews, bytes: number): number {
  const at = residentAreas.allocate(bytes);
  if (at !== null) return at;
  views.ensure(residentAreas.growFor(bytes));
  return residentAreas.allocate(bytes)!;
}

function release(at: number, bytes: number): void {
  residentAreas.release(at, bytes);
}

/** Bytes of the resident memory held by packed operands not yet released (for tests and `kernels.backend()`). */
export function packedBytesInUse(): number {
  return residentAreas.inUse;
}

class WasmPackedB extends SourcedPackedB {
  /**
   * One instance that is never used, so that an instance of this class is always alive. Packed
   * operands live for one sequence; a full GC that finds none alive frees their hidden class
   * (reached only through weak transitions), and V8 then discards the optimized code of every
   * function that checks for it (`gemmPacked`, the fused layers' time loops), which runs slower
   * for some ten steps until it is optimized again.
   */
  static readonly keepHiddenClass = new WasmPackedB(false, 0, 0, new Float32Array(0), 0, 0, 0, 0);
  constructor(
    transB: boolean, K: number, N: number, B: FloatArray, bOff: number, ldb: number,
    /** Byte address of the packed blocks in the resident memory, and their size. */
    readonly at: number, readonly bytes: number,
  ) {
    super(K, N, transB, B, bOff, ldb);
  }
  protected free(): void {
    release(this.at, this.bytes);
  }
}

/**
 * Packs op(B) once into the resident memory: column block j0 (nc wide, padded to NR) holds its K
 * slices one after another, kc·ncPad elements each, exactly as `pack_b` leaves them at BPACK.
 * Where the resident module is missing, the TypeScript backend packs.
 */
function wasmPackB(transB: boolean, K: number, N: number, B: FloatArray, bOff: number, ldb: number): PackedB {
  const r = residentInstances();
  if (!r) return typescriptBackend.packB(transB, K, N, B, bOff, ldb);
  const inst = r.plain; // packing is the same code in both builds
  const f64 = B instanceof Float64Array;
  const es = f64 ? 8 : 4;
  const nr = f64 ? NR.f64 : NR.f32;
  const bytes = Math.max(1, roundUp(N, nr) * K * es);
  const at = allocate(r.views, bytes);
  const { KC, NC } = f64 ? WASM_BLOCKS.f64 : WASM_BLOCKS.f32;
  for (let j0 = 0; j0 < N; j0 += NC) {
    const nc = Math.min(NC, N - j0);
    const ncPad = roundUp(nc, nr);
    for (let k0 = 0; k0 < K; k0 += KC) {
      const kc = Math.min(KC, K - k0);
      packBlockB(inst, f64, transB, B, bOff, ldb, k0, kc, j0, nc);
      const to = at + (j0 * K + k0 * ncPad) * es;
      r.views.bytes.copyWithin(to, BPACK, BPACK + kc * ncPad * es);
    }
  }
  return new WasmPackedB(transB, K, N, B, bOff, ldb, at, bytes);
}

/**
 * `gemmWasm` with op(B) packed beforehand: calls the policy sends to TypeScript (small, mixed types,
 * alpha = 0) run `gemmJs` on the operand's source, the rest the same blocks over the packed op(B),
 * so the result is `gemmWasm`'s.
 */
function wasmGemmPacked(
  transA: boolean, M: number, alpha: number, A: FloatArray, aOff: number, lda: number,
  packed: PackedB, beta: number, C: FloatArray, cOff: number, ldc: number,
): void {
  if (!(packed instanceof WasmPackedB)) {
    typescriptBackend.gemmPacked(transA, M, alpha, A, aOff, lda, packed, beta, C, cOff, ldc);
    return;
  }
  packed.check('gemmPacked');
  const { K, N, B } = packed;
  if (M === 0 || N === 0) return;
  if (routeGemm(M, N, K, alpha, sameFloatType(A, B, C), 1) === 'typescript') {
    gemmJs(transA, packed.transB, M, N, K, alpha, A, aOff, lda, B, packed.bOff, packed.ldb, beta, C, cOff, ldc);
    return;
  }
  const f64 = packed.dtype === 'float64';
  applyBeta(beta, M, N, C, cOff, ldc, false);
  const inst = residentInstance();
  const es = f64 ? 8 : 4;
  const nr = f64 ? NR.f64 : NR.f32;
  forEachBlock(M, N, K, f64 ? WASM_BLOCKS.f64 : WASM_BLOCKS.f32, 'jki', (b) => {
    const bpack = packed.at + (b.j0 * K + b.k0 * roundUp(b.nc, nr)) * es;
    runBlock(inst, f64, transA, A, aOff, lda, b.i0, b.mc, b.k0, b.kc, b.j0, b.nc, alpha, b.firstK && beta === 0 ? 0 : 1, C, cOff, ldc, bpack);
  });
}

// ---- Elementwise -----------------------------------------------------------------------------

type Kernel = (n: number) => void;
type ScalarKernel = (n: number, s: number) => void;
interface OpKernels { vv: Kernel; vs: ScalarKernel; sv: ScalarKernel }
type WasmBinaryOp = 'add' | 'mul' | 'div';

/** Byte offset of b's area in the elementwise module; a's area (also the result) starts at 0. */
const B_AREA = 65536;

const elementwise = (() => {
  const module = compile('elementwise.wat', ELEMENTWISE_WASM_BASE64);
  if (!module || !wasmApi) return null;
  const exports = new wasmApi.Instance(module, {}).exports as Record<string, unknown>;
  const buffer = (exports.memory as WasmMemory).buffer;
  const table = (t: 'f32' | 'f64') => {
    const k = {} as Record<WasmBinaryOp, OpKernels>;
    for (const op of ['add', 'mul', 'div'] as const) {
      k[op] = { vv: exports[`${op}_vv_${t}`] as Kernel, vs: exports[`${op}_vs_${t}`] as ScalarKernel, sv: exports[`${op}_sv_${t}`] as ScalarKernel };
    }
    return k;
  };
  return {
    mem32: new Float32Array(buffer), mem64: new Float64Array(buffer), f32: table('f32'), f64: table('f64'),
    rows32: exports.add_rows_f32 as (rows: number, cols: number) => void,
    rows64: exports.add_rows_f64 as (rows: number, cols: number) => void,
  };
})();

/**
 * out = a ⊙ b for add, mul, div over 64 KB chunks: both full, one a single value, or b a row
 * (bRow values, dividing n and fitting a chunk) tiled over b's area once. false for other ops,
 * mixed or integer arrays and fewer than `THRESHOLDS.wasmElementwiseMin` values.
 */
function wasmBinary(op: string, out: AnyArray, a: AnyArray, b: AnyArray, n: number, bRow: number): boolean {
  if (!elementwise || n < THRESHOLDS.wasmElementwiseMin || (op !== 'add' && op !== 'mul' && op !== 'div')) return false;
  const is64 = out instanceof Float64Array;
  if (is64 ? !(a instanceof Float64Array && b instanceof Float64Array) : !(out instanceof Float32Array && a instanceof Float32Array && b instanceof Float32Array)) return false;
  const aFull = a.length === n;
  const bFull = b.length === n;
  const k = (is64 ? elementwise.f64 : elementwise.f32)[op];
  const mem: FloatArray = is64 ? elementwise.mem64 : elementwise.mem32;
  const src = out as FloatArray;
  let chunk = B_AREA / (is64 ? 8 : 4);
  const bOff = chunk; // b's area, in elements
  if (bRow > 1 && !bFull) {
    if (!aFull || b.length !== bRow || n % bRow !== 0 || bRow > chunk) return false;
    chunk -= chunk % bRow;
    for (let r = 0; r < chunk; r += bRow) mem.set(b as FloatArray, bOff + r);
    for (let i = 0; i < n; i += chunk) {
      const m = Math.min(chunk, n - i);
      mem.set((a as FloatArray).subarray(i, i + m), 0);
      k.vv(m);
      src.set(mem.subarray(0, m), i);
    }
    return true;
  }
  if (!(aFull && (bFull || b.length === 1)) && !(bFull && a.length === 1)) return false;
  for (let i = 0; i < n; i += chunk) {
    const m = Math.min(chunk, n - i);
    if (aFull && bFull) {
      mem.set((a as FloatArray).subarray(i, i + m), 0);
      mem.set((b as FloatArray).subarray(i, i + m), bOff);
      k.vv(m);
    } else if (aFull) {
      mem.set((a as FloatArray).subarray(i, i + m), 0);
      k.vs(m, b[0]!);
    } else {
      mem.set((b as FloatArray).subarray(i, i + m), 0);
      k.sv(m, a[0]!);
    }
    src.set(mem.subarray(0, m), i);
  }
  return true;
}

/**
 * out (cols) += the rows of x, row after row, in x's element type: the same additions in the same
 * order as the TypeScript loop. false for mixed or integer arrays, fewer than
 * `THRESHOLDS.wasmElementwiseMin` values, or rows wider than a chunk.
 */
function wasmSumRows(out: FloatArray, x: AnyArray, rows: number, cols: number): boolean {
  if (!elementwise || rows * cols < THRESHOLDS.wasmElementwiseMin) return false;
  const is64 = out instanceof Float64Array;
  if (is64 ? !(x instanceof Float64Array) : !(out instanceof Float32Array && x instanceof Float32Array)) return false;
  const chunk = B_AREA / (is64 ? 8 : 4);
  if (cols > chunk) return false;
  const mem: FloatArray = is64 ? elementwise.mem64 : elementwise.mem32;
  const kernel = is64 ? elementwise.rows64 : elementwise.rows32;
  const rowsPerChunk = Math.floor(chunk / cols);
  mem.set(out, chunk); // the accumulator row, in b's area
  for (let r = 0; r < rows; r += rowsPerChunk) {
    const m = Math.min(rowsPerChunk, rows - r);
    mem.set((x as FloatArray).subarray(r * cols, (r + m) * cols), 0);
    kernel(m, cols);
  }
  out.set(mem.subarray(chunk, chunk + cols));
  return true;
}

/** Whether the elementwise module compiled. */
export const wasmElementwiseAvailable = elementwise !== null;

/** The WebAssembly SIMD backend, or null where its modules did not compile. */
export const wasmSimdBackend: Backend | null = gemmWasm && {
  name: 'wasm-simd',
  gemm: gemmWasm,
  packB: wasmPackB,
  gemmPacked: wasmGemmPacked,
  binary: wasmBinary,
  unary: () => false, // measured no faster than the TypeScript float32 activations: see docs/performance.md
  sumRows: wasmSumRows,
};
