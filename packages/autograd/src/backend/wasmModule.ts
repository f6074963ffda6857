/**
 * Compiling the WebAssembly modules, and the copies into and out of a module's memory.
 *
 * Every module is compiled synchronously from the base64 bytes that `pnpm build:wasm` generates,
 * so the API stays synchronous in Node and in browsers. Where compilation fails, the TypeScript
 * backend runs instead; when the reason is a Content-Security-Policy without 'wasm-unsafe-eval',
 * the library says so once (console.warn, with the fix), and `kernels.backend()` reports it.
 */
import type { FloatArray } from './types.js';

/** The members of the WebAssembly JS API used here (the project's lib is ES2022, without DOM). */
export interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  validate(bytes: Uint8Array): boolean;
}
export interface WasmMemory {
  buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** The runtime's WebAssembly, or undefined where there is none. */
export const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

export const PAGE_BYTES = 65536;

export function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Why WebAssembly is not used, when it is not (null while every module compiled). */
let unavailable: string | null = wasmApi === undefined ? 'this runtime has no WebAssembly' : null;
let warned = false;

/** The reason the WebAssembly backend is not in use, or null. */
export function wasmUnavailableReason(): string | null {
  return unavailable;
}

/** What seqgrad prints (once) when a page's Content-Security-Policy blocks WebAssembly. */
export const CSP_MESSAGE =
  "seqgrad: this page's Content-Security-Policy does not allow compiling WebAssembly, so seqgrad runs its " +
  "TypeScript kernels, many times slower. Fix: add 'wasm-unsafe-eval' to the script-src directive " +
  "(Content-Security-Policy: script-src 'self' 'wasm-unsafe-eval').";

/**
 * Records that compiling `what` failed with `error`: a CSP refusal is reported once with its fix;
 * a runtime without SIMD, or anything else, is recorded for `kernels.backend()`.
 */
export function recordCompileFailure(what: string, error: unknown): void {
  const text = String(error);
  if (/unsafe-eval|Content.Security.Policy|\bCSP\b/i.test(text)) {
    unavailable = `WebAssembly compilation is blocked by the page's Content-Security-Policy (${what}: ${text}); add 'wasm-unsafe-eval' to script-src`;
    if (!warned) {
      warned = true;
      console.warn(CSP_MESSAGE);
    }
  } else {
    unavailable ??= `${what} did not compile (${text}): this runtime lacks WebAssembly SIMD`;
  }
}

/** Compiles a module from its base64 bytes, or returns null (recording why). */
export function compile(what: string, base64: string): object | null {
  if (wasmApi === undefined) return null;
  try {
    return new wasmApi.Module(decodeBase64(base64));
  } catch (e) {
    recordCompileFailure(what, e);
    return null;
  }
}

/**
 * Copies rows×cols of `src` (row stride `ld`, from `start`) into `mem` at element `dst` (row stride
 * `dstLd`): one copy when both are contiguous.
 */
export function stage(mem: FloatArray, src: FloatArray, start: number, ld: number, rows: number, cols: number, dst: number, dstLd = cols): void {
  if ((ld === cols && dstLd === cols) || rows === 1) {
    mem.set(src.subarray(start, start + (rows - 1) * ld + cols), dst);
    return;
  }
  for (let r = 0; r < rows; r++) mem.set(src.subarray(start + r * ld, start + r * ld + cols), dst + r * dstLd);
}

/** Copies the rows×cols tile at element `tile` of `mem` (row stride `tileLd`) out into C (row stride `ldc`, from `start`). */
export function unstage(mem: FloatArray, tile: number, tileLd: number, rows: number, cols: number, C: FloatArray, start: number, ldc: number): void {
  if ((tileLd === cols && ldc === cols) || rows === 1) {
    C.set(mem.subarray(tile, tile + (rows - 1) * tileLd + cols), start);
    return;
  }
  for (let r = 0; r < rows; r++) C.set(mem.subarray(tile + r * tileLd, tile + r * tileLd + cols), start + r * ldc);
}
