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
  }

  /** Throws, naming `op`, when the operand was released. */
  check(op: string): void {
    if (this.released) throw new Error(`${op}: the packed operand (${this.K}×${this.N}) was released`);
  }

  /** Gives back what the packed blocks hold. */
  protected abstract free(): void;
}
