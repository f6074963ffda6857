import type { FloatArray, PackedB } from './types.js';

/**
 * What every packed operand keeps besides its packed blocks: op(B)'s source (the caller's array,
 * offset, stride and transpose flag), so a call the policy routes elsewhere (a product too small
 * for WebAssembly, a kernel installed with `setGemmKernel`) computes from the source with exactly
 * the result it would have had without packing. The source must not change while the operand lives.
 */
export abstract class SourcedPackedB implements PackedB {
  readonly dtype: 'float32' | 'float64';
  private released = false;
  /**
   * A second copy of the packed blocks in the worker threads' shared memory (made by the threaded
   * GEMM on its first use of this operand), freed with the operand; null while there is none.
   */
  threadCopy: ThreadCopy | null = null;
  constructor(
    readonly K: number, readonly N: number,
    readonly transB: boolean, readonly B: FloatArray, readonly bOff: number, readonly ldb: number,
  ) {
    this.dtype = B instanceof Float64Array ? 'float64' : 'float32';
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.free();
    this.threadCopy?.free();
    this.threadCopy = null;
  }

  /** Throws, naming `op`, when the operand was released. */
  check(op: string): void {
    if (this.released) throw new Error(`${op}: the packed operand (${this.K}×${this.N}) was released`);
  }

  /** Gives back what the packed blocks hold. */
  protected abstract free(): void;
}

/** A copy of a packed operand held elsewhere: its owner (the memory it lives in) and byte address. */
export interface ThreadCopy {
  readonly owner: object;
  readonly at: number;
  free(): void;
}

/**
 * First-fit allocation of byte areas (multiples of 64 bytes) inside a region [start, start + size):
 * `allocate` returns null when no free area is large enough; `growFor` extends a region whose memory
 * can grow (the resident packed operands of wasmSimd.ts), a fixed one never calls it (the threads'
 * shared region).
 */
export class RegionAllocator {
  /** Free areas, [byte offset, bytes], sorted and coalesced. */
  private readonly freeAreas: [number, number][];
  /** Bytes currently allocated. */
  inUse = 0;

  constructor(readonly start: number, private size: number) {
    this.freeAreas = size > 0 ? [[start, size]] : [];
  }

  /**
   * Extends the region at its end so that an area of `bytes` fits there (with the free area that
   * already ends it, if any); returns the region's new end, for the caller to grow its memory to.
   */
  growFor(bytes: number): number {
    bytes = Math.ceil(bytes / 64) * 64;
    const end = this.start + this.size;
    const last = this.freeAreas[this.freeAreas.length - 1];
    const tail = last && last[0] + last[1] === end ? last : null;
    const more = bytes - (tail ? tail[1] : 0);
    if (more > 0) {
      this.size += more;
      if (tail) tail[1] += more;
      else this.freeAreas.push([end, more]);
    }
    return this.start + this.size;
  }

  allocate(bytes: number): number | null {
    bytes = Math.ceil(bytes / 64) * 64;
    for (let i = 0; i < this.freeAreas.length; i++) {
      const [at, size] = this.freeAreas[i]!;
      if (size < bytes) continue;
      if (size === bytes) this.freeAreas.splice(i, 1);
      else this.freeAreas[i] = [at + bytes, size - bytes];
      this.inUse += bytes;
      return at;
    }
    return null;
  }

  release(at: number, bytes: number): void {
    bytes = Math.ceil(bytes / 64) * 64;
    this.inUse -= bytes;
    const areas = this.freeAreas;
    let i = 0;
    while (i < areas.length && areas[i]![0] < at) i++;
    areas.splice(i, 0, [at, bytes]);
    if (i + 1 < areas.length && at + bytes === areas[i + 1]![0]) {
      areas[i]![1] += areas[i + 1]![1];
      areas.splice(i + 1, 1);
    }
    if (i > 0 && areas[i - 1]![0] + areas[i - 1]![1] === at) {
      areas[i - 1]![1] += areas[i]![1];
      areas.splice(i, 1);
    }
  }
}
