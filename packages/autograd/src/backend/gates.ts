/**
 * The fused recurrent layers' float32 gate loops in WebAssembly SIMD (src/wasm/gates.wat): the
 * per-step activations and cell updates of the LSTM, GRU and tanh RNN, and their backward steps,
 * over buffers in the module's memory.
 *
 * A fused sequence takes a workspace, its state and step buffers laid out in that memory, for the
 * whole sequence: the recurrent GEMM reads h_{t−1} from it and writes h W_hhᵀ into it, the gate
 * kernel reads and updates the state there, and only the rows the cache keeps are copied out.
 * The caller releases the workspace in a `finally`; the memory then serves the next sequence (it
 * grows to the largest workspace taken and is not given back). One workspace lives at a time: a
 * fused sequence runs to completion before the next starts.
 */
import { SeqgradError } from '../errors.js';
import { GATES_ACTIVATIONS_WASM_BASE64, GATES_LSTM_WASM_BASE64, GATES_RNN_WASM_BASE64 } from '../wasm/gatesBytes.generated.js';
import { PAGE_BYTES, type WasmMemory, compile, wasmApi } from './wasmModule.js';

interface GatesExports {
  memory: WasmMemory;
  sigmoid(a: number, n: number): void;
  tanh(a: number, n: number): void;
  lstm_forward(g: number, hh: number, c: number, cprev: number, tanhc: number, hout: number, H: number): void;
  lstm_backward(g: number, tanhc: number, cprev: number, dm: number, dout: number, dc: number, dcin: number, dcout: number, da: number, H: number): void;
  rnn_tanh_forward(a: number, hh: number, h: number, H: number): void;
  gru_forward(g: number, hh: number, bhn: number, h: number, hn: number, H: number): void;
  gru_backward(g: number, hp: number, hn: number, dh: number, dout: number, dhid: number, dgi: number, dgh: number, da: number, H: number): void;
  rnn_backward(h: number, dh: number, dout: number, dhid: number, da: number, da2: number, relu: number, H: number): void;
}

/** Buffers of a fused sequence in WebAssembly memory; `release()` gives them back. */
export interface GateWorkspace {
  /** One Float32Array view per requested size (of that many values; the first `zeroed` of them zeroed), valid until `release()`. */
  readonly views: Float32Array[];
  /** The byte address of each view in the module's memory (never 0: 0 means "none" to the kernels). */
  readonly ptrs: number[];
  /** The whole memory as float32 (element i at byte 4i), for copies between the views with `copyWithin`. */
  readonly heap: Float32Array;
  release(): void;
}

/**
 * The gate kernels. Pointers are byte addresses from a workspace's `ptrs`; H is a multiple of 4
 * (`fits`); one call handles one batch row. See gates.wat for the arithmetic of each.
 */
export interface WasmGates {
  /** Whether float32 rows of these sizes can run here: every size a multiple of 4 (one f32x4 vector). */
  fits(...sizes: number[]): boolean;
  /**
   * Buffers of `sizes[k]` float32 values each in the module's memory; the first `zeroed` of them
   * (all by default) are zeroed, the others hold what the previous workspace left there.
   */
  workspace(sizes: readonly number[], zeroed?: number): GateWorkspace;
  /** g (4H) ← i, f, g, o of g + hh; c (H) ← c_t, cprev ← c_{t−1}, tanhc ← tanh c_t, hout ← o ⊙ tanh c_t. */
  lstmForward(g: number, hh: number, c: number, cprev: number, tanhc: number, hout: number, H: number): void;
  /** da (4H) from the gates, tanh c_t, c_{t−1}, dm (+ dout, added to dm in place when not 0); dc ← dc_t ⊙ f; dcin, dcout: 0 or a row (see gates.wat). */
  lstmBackward(g: number, tanhc: number, cprev: number, dm: number, dout: number, dc: number, dcin: number, dcout: number, da: number, H: number): void;
  /** a (H) ← tanh(a + hh), also written to h. */
  rnnTanhForward(a: number, hh: number, h: number, H: number): void;
  /** GRU with reset after the product: g (3H) ← r, z, n; h ← h_t; hn ← h W_hnᵀ + b_hn (bhn 0: no bias). */
  gruForward(g: number, hh: number, bhn: number, h: number, hn: number, H: number): void;
  /**
   * The GRU step (reset after the product) going back, one row. Reads r, z, n (g, 3H), h_{t−1}
   * (hp), h W_hnᵀ + b_hn (hn); with gr = dh + dout (dout 0: none), written to dhid unless it is 0:
   *   da_n = gr·(1 − z)(1 − n²), da_z = gr·(h_{t−1} − n)·z(1 − z), da_r = da_n·hn·r(1 − r);
   * dgi (3H) ← [da_r, da_z, da_n], dgh and da (3H each) ← [da_r, da_z, da_n·r], dh ← gr·z
   * (the direct part of dL/dh_{t−1}; the caller adds da W_hh).
   */
  gruBackward(g: number, hp: number, hn: number, dh: number, dout: number, dhid: number, dgi: number, dgh: number, da: number, H: number): void;
  /**
   * The RNN step going back, one row: gr = dh + dout (dout 0: none), written to dhid unless it is
   * 0; da and da2 (H each) ← gr·(1 − h²) (tanh) or gr·[h > 0] (relu ≠ 0); dh ← 0 (the caller adds
   * da W_hh).
   */
  rnnBackward(h: number, dh: number, dout: number, dhid: number, da: number, da2: number, relu: number, H: number): void;
  /** a ← sigmoid(a) over n values (n a multiple of 4), in the kernels' arithmetic: for tests. */
  sigmoid(a: number, n: number): void;
  /** a ← tanh(a) over n values (n a multiple of 4), in the kernels' arithmetic: for tests. */
  tanh(a: number, n: number): void;
}

/** Where the first buffer starts: address 0 stays free, as the kernels' "no buffer". */
const FIRST = 64;

class GatesModule implements WasmGates {
  private live = false;
  constructor(private readonly ex: GatesExports) {
    this.lstmForward = ex.lstm_forward;
    this.lstmBackward = ex.lstm_backward;
    this.rnnTanhForward = ex.rnn_tanh_forward;
    this.gruForward = ex.gru_forward;
    this.gruBackward = ex.gru_backward;
    this.rnnBackward = ex.rnn_backward;
    this.sigmoid = ex.sigmoid;
    this.tanh = ex.tanh;
  }
  readonly lstmForward: WasmGates['lstmForward'];
  readonly lstmBackward: WasmGates['lstmBackward'];
  readonly rnnTanhForward: WasmGates['rnnTanhForward'];
  readonly gruForward: WasmGates['gruForward'];
  readonly gruBackward: WasmGates['gruBackward'];
  readonly rnnBackward: WasmGates['rnnBackward'];
  readonly sigmoid: WasmGates['sigmoid'];
  readonly tanh: WasmGates['tanh'];

  fits(...sizes: number[]): boolean {
    for (const n of sizes) if (n % 4 !== 0) return false;
    return true;
  }

  workspace(sizes: readonly number[], zeroed = sizes.length): GateWorkspace {
    if (this.live) throw new SeqgradError('kernels.wasmGates().workspace', 'a gate workspace is already in use; release it first');
    const ptrs: number[] = [];
    let end = FIRST;
    for (const n of sizes) {
      if (!Number.isInteger(n) || n < 0) throw new SeqgradError('kernels.wasmGates().workspace', `sizes must be non-negative integers, got ${String(n)}`);
      ptrs.push(end);
      end += Math.ceil(n / 4) * 16; // 16-byte aligned rows
    }
    const memory = this.ex.memory;
    const have = memory.buffer.byteLength;
    if (end > have) memory.grow(Math.ceil((end - have) / PAGE_BYTES));
    const buffer = memory.buffer;
    const zeroEnd = zeroed >= sizes.length ? end : ptrs[Math.max(0, zeroed)]!;
    new Uint8Array(buffer, FIRST, zeroEnd - FIRST).fill(0);
    const views = sizes.map((n, k) => new Float32Array(buffer, ptrs[k]!, n));
    this.live = true;
    let released = false;
    return {
      views, ptrs, heap: new Float32Array(buffer),
      release: () => {
        if (released) return;
        released = true;
        this.live = false;
      },
    };
  }
}

let instance: GatesModule | null | undefined;
let on = true;

/** The modules of gates.wat (each under Chrome's 4 KB for synchronous compilation) over one memory. */
function load(): GatesModule | null {
  if (instance === undefined) {
    instance = null;
    const parts = [
      compile('gates.wat (LSTM)', GATES_LSTM_WASM_BASE64),
      compile('gates.wat (RNN, GRU)', GATES_RNN_WASM_BASE64),
      compile('gates.wat (activations)', GATES_ACTIVATIONS_WASM_BASE64),
    ];
    if (wasmApi && parts.every((m) => m !== null)) {
      const memory = new wasmApi.Memory({ initial: 1, maximum: 16384 }); // at most 1 GB
      const exports = { memory } as Partial<GatesExports>;
      for (const m of parts) Object.assign(exports, new wasmApi.Instance(m!, { env: { memory } }).exports);
      instance = new GatesModule(exports as GatesExports);
    }
  }
  return instance;
}

/**
 * The WebAssembly gate kernels for float32 fused layers, or null where the module does not
 * compile or `setWasmGates(false)` turned them off (the TypeScript loops then run).
 */
export function wasmGates(): WasmGates | null {
  return on ? load() : null;
}

/** Whether the gate kernels compile in this runtime (whether or not they are turned on). */
export function wasmGatesAvailable(): boolean {
  return load() !== null;
}

/**
 * Turns the WebAssembly gate loops of the fused float32 layers off (false: the TypeScript loops,
 * whose activations are within 1 ulp of the correctly rounded value) or back on; returns whether
 * they were on.
 */
export function setWasmGates(value: boolean): boolean {
  const was = on && load() !== null;
  on = value;
  return was;
}
