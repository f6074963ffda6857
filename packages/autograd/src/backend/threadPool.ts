/**
 * The worker-thread backend (Node only, used by `@seqgrad/autograd/threads`): a shared
 * WebAssembly memory, the worker threads that wait on it (gemmWorker.js), and the split of one
 * GEMM between them.
 *
 * Work sharing: the caller stages a job (a chunk of op(A), a block of op(B), a chunk of C) into the
 * shared memory, publishes it, and then every thread, the caller included, claims items of the
 * job (64-row blocks of the C chunk, or column ranges when M < N) from one counter with
 * `Atomics.compareExchange` until none is left (threadWork.js). A worker that is busy elsewhere or
 * descheduled simply claims fewer items, so on a loaded machine a product is never much slower
 * than on one thread. The caller then waits until every claimed item is done and copies the C
 * chunk back. Jobs follow the blocking plan (blocking.ts) in 'jik' order, so a C chunk stays in
 * the shared memory over all its K slices.
 *
 * Products with a packed operand (`runPacked`) keep a copy of op(B), packed once, in a region of the
 * shared memory until the operand is released; their jobs stage only op(A) and C, and the threads
 * claim column ranges that read the shared packed op(B) directly.
 */
// '#worker-threads' is node:worker_threads in Node and its Web Worker counterpart (browserPool.ts) in browsers.
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from '#worker-threads';
import { GEMM_WASM_SHARED_BASE64, GEMM_WASM_SHARED_FMA_BASE64 } from '../wasm/gemmBytes.generated.js';
import { applyBeta, forEachBlock, roundUp } from './blocking.js';
import {
  ALPHA, A_AT, A_COL_STRIDE, A_ROW_STRIDE, B_AT, B_BLOCK_ID, B_COL_STRIDE, B_ROW_STRIDE, BY_ROWS, CLAIM, COLS, CONTROL_INTS,
  COL_BLOCK, C_AT, C_ROW_STRIDE, DEPTH, DONE, ERROR, F64, FMA, ITEMS, KIND, LOAD, PACKED, PART, ROWS, ROW_BLOCK, SLICE, SPIN_MS, STEP,
  type PartExports, nextSpin, work,
} from './threadWork.js';
import { RegionAllocator, type SourcedPackedB } from './packed.js';
import type { FloatArray } from './types.js';
import { PAGE_BYTES, compile, stage, unstage, wasmApi } from './wasmModule.js';
import { WASM_BLOCKS, fmaAvailable, gemmFmaOn } from './wasmSimd.js';

// Shared memory layout (bytes): the control words in the first page, then each thread's packing
// area (BPACK + APACK of gemm.wat, at the thread's $base), then the staged op(B) block, op(A)
// chunk and C chunk that every thread reads (and writes, C, in disjoint items), then the region
// of packed operands (`runPacked`).
const PRIVATE_BYTES = 655360;
const B_JOB_BYTES = 524288; // per thread: KC × the NC columns one thread packs
const A_JOB_BYTES = 2 << 20;
const C_JOB_BYTES = 2 << 20; // per thread
/**
 * Bytes of the shared memory that hold copies of packed operands (`runPacked`): two float32
 * operands of 2048 × 512 (an LSTM with H = 512: W_hh for the forward and the backward pass).
 */
export const PACKED_REGION_BYTES = 8 << 20;
/** Most threads a pool takes (its memory grows with the count). */
export const MAX_THREADS = 16;

/** One job: items of a staged chunk of C, and where the staged blocks are (byte addresses, strides). */
export interface GemmJob {
  f64: boolean;
  byRows: boolean;
  /** Rows (by rows) or columns (by columns) per item. */
  step: number;
  rows: number;
  cols: number;
  depth: number;
  a: number; ars: number; acs: number;
  b: number; brs: number; bcs: number;
  c: number; cs: number;
  alpha: number;
  load: 0 | 1;
  /** Id of the staged B block: equal ids let a thread reuse what it packed (by rows only). */
  group: number;
  /** Run with the FMA build (as the single-threaded GEMM does when `setGemmFma` is on); default false. */
  fma?: boolean;
  /**
   * 'packed': `b` is op(B) packed in the shared memory (as `packB` lays it out), items are `step`
   * columns each, and `slice`, `rowBlock`, `colBlock` are KC, MC and NC (see runPackedItem in
   * threadWork.js). Default 'part'.
   */
  kind?: 'part' | 'packed';
  slice?: number;
  rowBlock?: number;
  colBlock?: number;
}

/** One job of `run`'s plan: columns j0.., rows i0.. and the K slice k0.. of C; `chunk` counts (column block, row chunk) pairs. */
interface PlannedJob {
  j0: number;
  nc: number;
  ncPad: number;
  i0: number;
  mc: number;
  k0: number;
  kc: number;
  chunk: number;
  lastK: boolean;
}

export class GemmThreadPool {
  readonly f32: Float32Array;
  readonly f64: Float64Array;
  readonly bJob: number;
  readonly aJob: number;
  readonly cJob: number;
  /** Byte address of the region of packed operands (PACKED_REGION_BYTES). */
  readonly packedAt: number;
  private readonly packedRegion: RegionAllocator;
  private readonly bytes: Uint8Array;
  private readonly ctl: Int32Array;
  private readonly alpha: Float64Array;
  /** This thread's instances: the plain build and the FMA build (where the runtime has relaxed SIMD). */
  private readonly main: [PartExports, PartExports | null];
  private readonly state = { group: -1, aGroup: -1, aRow: 0, aSlice: 0 };
  private readonly workers: { worker: Worker; port: MessagePort }[] = [];
  private readonly errors: string[] = [];
  private seq = 0;
  private group = 0;
  private stopped = false;
  private lost: string | null = null;
  /** This thread's polling budget while it waits for the workers' last items (see SPIN_MS). */
  private spinMs = SPIN_MS;

  /**
   * Starts `threads - 1` workers (unref()ed). A call that waits longer than `timeoutMs` for the
   * workers' items stops the pool, calls `onTimeout` and throws.
   */
  constructor(
    readonly threads: number,
    readonly timeoutMs: number,
    private readonly onTimeout: () => void = () => {},
  ) {
    // Two of each staging area (double buffering, see run).
    this.bJob = PAGE_BYTES + threads * PRIVATE_BYTES;
    this.aJob = this.bJob + 2 * threads * B_JOB_BYTES;
    this.cJob = this.aJob + 2 * A_JOB_BYTES;
    this.packedAt = this.cJob + 2 * threads * C_JOB_BYTES;
    this.packedRegion = new RegionAllocator(this.packedAt, PACKED_REGION_BYTES);
    const pages = Math.ceil((this.packedAt + PACKED_REGION_BYTES) / PAGE_BYTES);
    const api = wasmApi!;
    const memory = new api.Memory({ initial: pages, maximum: pages, shared: true });
    const module = compile('gemm.wat (shared)', GEMM_WASM_SHARED_BASE64);
    if (!module) throw new Error('GemmThreadPool: the shared-memory GEMM module did not compile (no WebAssembly SIMD or threads)');
    const fmaModule = fmaAvailable ? compile('gemm.wat (shared, FMA)', GEMM_WASM_SHARED_FMA_BASE64) : null;
    const instantiate = (m: object) => new api.Instance(m, { env: { memory, base: PAGE_BYTES } }).exports as PartExports;
    this.main = [instantiate(module), fmaModule ? instantiate(fmaModule) : null];
    this.f32 = new Float32Array(memory.buffer);
    this.f64 = new Float64Array(memory.buffer);
    this.bytes = new Uint8Array(memory.buffer);
    this.ctl = new Int32Array(memory.buffer, 0, CONTROL_INTS);
    this.alpha = new Float64Array(memory.buffer, 0, CONTROL_INTS / 2);
    for (let t = 1; t < threads; t++) {
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(new URL('./gemmWorker.js', import.meta.url), {
        name: `seqgrad gemm ${t}`,
        workerData: { modules: [module, fmaModule], memory, base: PAGE_BYTES + t * PRIVATE_BYTES, port: port2 },
        transferList: [port2],
      });
      // Reported by Node asynchronously, so only seen by a later call (in its timeout message).
      worker.on('error', (e) => (this.lost ??= `worker ${t} threw ${String(e)}`));
      worker.on('exit', (code) => (this.lost ??= this.stopped ? null : `worker ${t} exited with code ${code}`));
      worker.unref();
      port1.unref();
      this.workers.push({ worker, port: port1 });
    }
  }

  /** Tells the workers to leave their loop; they exit on their own (and never hold the process). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    Atomics.store(this.ctl, CLAIM, -1);
    Atomics.notify(this.ctl, CLAIM);
    for (const w of this.workers) w.port.close();
  }

  /**
   * Same contract as `GemmKernel`, for same-typed arrays, K > 0 and alpha ≠ 0.
   *
   * The product is cut into jobs (a column block × a row chunk × a KC-deep slice of K) that run
   * one after the other as a pipeline: while the threads claim the items of job i, this thread
   * first stages the op(A) and op(B) blocks of job i + 1 (and its C chunk when it starts one) into
   * the other half of the double-buffered areas, and after job i it publishes job i + 1 before
   * copying a finished C chunk back. A C chunk stays in the shared memory over all its K slices.
   */
  run(
    transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: FloatArray, aOff: number, lda: number, B: FloatArray, bOff: number, ldb: number,
    beta: number, C: FloatArray, cOff: number, ldc: number,
  ): void {
    const f64 = C instanceof Float64Array;
    const fma = gemmFmaOn() && this.main[1] !== null;
    // beta = 0 overwrites C on the first K slice (NaN in C never leaks); other betas scale C first.
    applyBeta(beta, M, N, C, cOff, ldc, false);
    const n = this.threads;
    const mem: FloatArray = f64 ? this.f64 : this.f32;
    const es = f64 ? 8 : 4;
    const nr = f64 ? 4 : 8; // register-tile columns
    const { KC, MC, NC: ncThread } = f64 ? WASM_BLOCKS.f64 : WASM_BLOCKS.f32; // a thread packs NC columns (its BPACK holds KC of them)
    // By rows when M ≥ N (64-row items; each thread packs a job's B block once); by columns
    // otherwise, with n times wider column blocks cut into 2n items, each packing its columns of B
    // and all rows of A (few and wide: narrower items repack A too often).
    const byRows = M >= N;
    const ncJob = byRows ? ncThread : n * ncThread;
    const what = `gemm (${n} threads, M=${M} N=${N} K=${K})`;
    // Rows per job: as many as the staged op(A) and C areas hold, in multiples of MC.
    const ncPadMax = roundUp(Math.min(ncJob, N), nr);
    const rowsMax = Math.max(MC, Math.floor(Math.min(A_JOB_BYTES / (KC * es), (n * C_JOB_BYTES) / (ncPadMax * es)) / MC) * MC);

    const jobs: PlannedJob[] = [];
    let chunk = -1;
    forEachBlock(M, N, K, { MC: rowsMax, KC, NC: ncJob }, 'jik', (b) => {
      if (b.firstK) chunk++;
      jobs.push({ j0: b.j0, nc: b.nc, ncPad: roundUp(b.nc, nr), i0: b.i0, mc: b.mc, k0: b.k0, kc: b.kc, chunk, lastK: b.lastK });
    });
    const aBuf = (j: number) => this.aJob + (j & 1) * A_JOB_BYTES;
    const bBuf = (j: number) => this.bJob + (j & 1) * n * B_JOB_BYTES;
    const cBuf = (p: PlannedJob) => this.cJob + (p.chunk & 1) * n * C_JOB_BYTES;

    // Stages job j's blocks of op(A) and op(B), and its C chunk when it is the chunk's first K slice and beta ≠ 0.
    const prepare = (j: number): GemmJob => {
      const p = jobs[j]!;
      const { j0, nc, ncPad, i0, mc, k0, kc } = p;
      const a = aBuf(j), b = bBuf(j), c = cBuf(p);
      // op(B)[k0:k0+kc, j0:j0+nc]: element (k, j) at b + k·brs + j·bcs.
      if (!transB) stage(mem, B, bOff + k0 * ldb + j0, ldb, kc, nc, b / es);
      else stage(mem, B, bOff + j0 * ldb + k0, ldb, nc, kc, b / es);
      // op(A)[i0:i0+mc, k0:k0+kc]: element (i, k) at a + i·ars + k·acs.
      if (!transA) stage(mem, A, aOff + i0 * lda + k0, lda, mc, kc, a / es);
      else stage(mem, A, aOff + k0 * lda + i0, lda, kc, mc, a / es);
      if (k0 === 0 && beta !== 0) stage(mem, C, cOff + i0 * ldc + j0, ldc, mc, nc, c / es, ncPad);
      return {
        f64, byRows, step: byRows ? MC : Math.min(ncThread, nr * Math.max(8, Math.ceil(nc / nr / (2 * n)))),
        rows: mc, cols: nc, depth: kc,
        a, ars: transA ? es : kc * es, acs: transA ? mc * es : es,
        b, brs: transB ? es : nc * es, bcs: transB ? kc * es : es,
        c, cs: ncPad * es, alpha, load: k0 === 0 && beta === 0 ? 0 : 1, group: (this.group = (this.group + 1) & 0x3fffffff), fma,
      };
    };

    let items = this.publish(prepare(0));
    for (let j = 0; j < jobs.length; j++) {
      const next = j + 1 < jobs.length ? prepare(j + 1) : null;
      this.finish(items, what);
      if (next) items = this.publish(next);
      const p = jobs[j]!;
      if (p.lastK) unstage(mem, cBuf(p) / es, p.ncPad, p.mc, p.nc, C, cOff + p.i0 * ldc + p.j0, ldc);
    }
  }

  /** Bytes of the region of packed operands held by copies not yet released. */
  get packedBytes(): number {
    return this.packedRegion.inUse;
  }

  /**
   * C = alpha · op(A) · op(B) + beta · C for op(B) packed by `packB`, with the same contract as
   * `run`; returns false, computing nothing, when the operand's copy does not fit the region of
   * packed operands (or a block of MC rows of op(A) does not fit its staging area): the caller then
   * runs the product another way.
   *
   * On its first use here, op(B) is packed once more into the shared memory, in the same layout
   * (column blocks of NC, each holding its K slices of KC × NC padded to NR); the copy lives until
   * the operand is released. Each call stages op(A) and (when beta ≠ 0) C, MC-row chunks at a time,
   * and the threads claim column ranges of the product, reading the shared packed op(B) directly.
   */
  runPacked(
    transA: boolean, M: number, alpha: number, A: FloatArray, aOff: number, lda: number,
    p: SourcedPackedB, beta: number, C: FloatArray, cOff: number, ldc: number,
  ): boolean {
    const { K, N } = p;
    const f64 = p.dtype === 'float64';
    const es = f64 ? 8 : 4;
    const nr = f64 ? 4 : 8;
    const { KC, MC, NC } = f64 ? WASM_BLOCKS.f64 : WASM_BLOCKS.f32;
    const nPad = roundUp(N, nr);
    const n = this.threads;
    // Rows per job: as many as the op(A) and C areas (both halves of each) hold, in multiples of MC.
    const rowsMax = Math.floor(Math.min((2 * A_JOB_BYTES) / (K * es), (2 * n * C_JOB_BYTES) / (nPad * es)) / MC) * MC;
    if (rowsMax === 0) return false;
    const b = this.packedCopy(p);
    if (b === null) return false;
    const mem: FloatArray = f64 ? this.f64 : this.f32;
    applyBeta(beta, M, N, C, cOff, ldc, false);
    // Columns per item: a power of two (so items never straddle a column block of NC), about two
    // items per thread: each item packs its op(A) slices again, so fewer items cost less, and two
    // per thread still let one thread take over what a descheduled one leaves.
    let step = nr;
    while (step < NC && step * 2 * n < N) step *= 2;
    const what = `gemmPacked (${n} threads, M=${M} N=${N} K=${K})`;
    for (let i0 = 0; i0 < M; i0 += rowsMax) {
      const mc = Math.min(rowsMax, M - i0);
      // op(A)[i0:i0+mc, :]: element (i, k) at aJob + i·ars + k·acs.
      if (!transA) stage(mem, A, aOff + i0 * lda, lda, mc, K, this.aJob / es);
      else stage(mem, A, aOff + i0, lda, K, mc, this.aJob / es);
      if (beta !== 0) stage(mem, C, cOff + i0 * ldc, ldc, mc, N, this.cJob / es, nPad);
      this.runJob({
        f64, byRows: false, step, rows: mc, cols: N, depth: K,
        a: this.aJob, ars: transA ? es : K * es, acs: transA ? mc * es : es,
        b, brs: 0, bcs: 0, c: this.cJob, cs: nPad * es, alpha, load: beta === 0 ? 0 : 1,
        group: (this.group = (this.group + 1) & 0x3fffffff), fma: gemmFmaOn() && this.main[1] !== null,
        kind: 'packed', slice: KC, rowBlock: MC, colBlock: NC,
      }, what);
      unstage(mem, this.cJob / es, nPad, mc, N, C, cOff + i0 * ldc, ldc);
    }
    return true;
  }

  /**
   * The byte address of `p`'s copy in this pool's region of packed operands, packed now if it has
   * none here yet; null when it does not fit. Packs as `packB` does: each KC × NC block of op(B)
   * staged, packed by this thread's `pack_b` into its BPACK, and copied to its place.
   */
  private packedCopy(p: SourcedPackedB): number | null {
    if (p.threadCopy !== null && p.threadCopy.owner === this) return p.threadCopy.at;
    const { K, N, B, bOff, ldb, transB } = p;
    const f64 = p.dtype === 'float64';
    const es = f64 ? 8 : 4;
    const nr = f64 ? 4 : 8;
    const { KC, NC } = f64 ? WASM_BLOCKS.f64 : WASM_BLOCKS.f32;
    const bytes = Math.max(1, roundUp(N, nr) * K * es);
    const at = this.packedRegion.allocate(bytes);
    if (at === null) return null;
    p.threadCopy?.free(); // a copy in an earlier pool
    const mem: FloatArray = f64 ? this.f64 : this.f32;
    const packB = f64 ? this.main[0].pack_b_f64 : this.main[0].pack_b_f32;
    const bpack = PAGE_BYTES; // this thread's $base: its BPACK
    for (let j0 = 0; j0 < N; j0 += NC) {
      const nc = Math.min(NC, N - j0);
      const ncPad = roundUp(nc, nr);
      for (let k0 = 0; k0 < K; k0 += KC) {
        const kc = Math.min(KC, K - k0);
        if (!transB) {
          stage(mem, B, bOff + k0 * ldb + j0, ldb, kc, nc, this.bJob / es);
          packB(this.bJob, nc * es, es, kc, nc);
        } else {
          stage(mem, B, bOff + j0 * ldb + k0, ldb, nc, kc, this.bJob / es);
          packB(this.bJob, es, kc * es, kc, nc);
        }
        const to = at + (j0 * K + k0 * ncPad) * es;
        this.bytes.copyWithin(to, bpack, bpack + kc * ncPad * es);
      }
    }
    const region = this.packedRegion;
    p.threadCopy = { owner: this, at, free: () => region.release(at, bytes) };
    return at;
  }

  /** Runs one job to the end: `publish`, then `finish` (claiming items here unless `callerWorks` is false, for tests). */
  runJob(job: GemmJob, what: string, callerWorks = true): void {
    this.finish(this.publish(job), what, callerWorks);
  }

  /** Writes `job` into the control words and wakes the workers; returns its number of items. */
  private publish(job: GemmJob): number {
    const ctl = this.ctl;
    const items = Math.ceil((job.byRows && job.kind !== 'packed' ? job.rows : job.cols) / job.step);
    ctl[F64] = job.f64 ? 1 : 0;
    ctl[BY_ROWS] = job.byRows ? 1 : 0;
    ctl[STEP] = job.step;
    ctl[ROWS] = job.rows;
    ctl[COLS] = job.cols;
    ctl[DEPTH] = job.depth;
    ctl[A_AT] = job.a;
    ctl[A_ROW_STRIDE] = job.ars;
    ctl[A_COL_STRIDE] = job.acs;
    ctl[B_AT] = job.b;
    ctl[B_ROW_STRIDE] = job.brs;
    ctl[B_COL_STRIDE] = job.bcs;
    ctl[C_AT] = job.c;
    ctl[C_ROW_STRIDE] = job.cs;
    ctl[LOAD] = job.load;
    ctl[B_BLOCK_ID] = job.group;
    ctl[FMA] = job.fma ? 1 : 0;
    ctl[KIND] = job.kind === 'packed' ? PACKED : PART;
    ctl[SLICE] = job.slice ?? 0;
    ctl[ROW_BLOCK] = job.rowBlock ?? 0;
    ctl[COL_BLOCK] = job.colBlock ?? 0;
    this.alpha[ALPHA] = job.alpha;
    ctl[ITEMS] = items;
    ctl[ERROR] = 0;
    Atomics.store(ctl, DONE, 0);
    this.seq = (this.seq + 1) & 0x7fff;
    Atomics.store(ctl, CLAIM, this.seq << 16);
    Atomics.notify(ctl, CLAIM);
    this.errors.length = 0;
    return items;
  }

  /**
   * Claims items of the published job on this thread too, and returns when all `items` are done;
   * throws, naming `what`, if one failed or the workers did not finish theirs within the timeout.
   */
  private finish(items: number, what: string, callerWorks = true): void {
    const ctl = this.ctl;
    if (callerWorks) work(this.main, ctl, this.alpha, this.state, (e) => this.errors.push(`calling thread: ${String(e)}`));

    const t0 = performance.now();
    while (Atomics.load(ctl, DONE) !== items && performance.now() - t0 < this.spinMs);
    if (Atomics.load(ctl, DONE) === items) return this.checkErrors(what);
    const deadline = t0 + this.timeoutMs;
    for (;;) {
      const done = Atomics.load(ctl, DONE);
      if (done === items) break;
      const left = deadline - performance.now();
      if (left <= 0 || Atomics.wait(ctl, DONE, done, left) === 'timed-out') {
        if (Atomics.load(ctl, DONE) === items) break;
        this.stop();
        this.onTimeout();
        throw new Error(
          `${what}: the worker threads did not finish their share within ${this.timeoutMs} ms ` +
            `(${Atomics.load(ctl, DONE)} of ${items} items done${this.lost ? `; ${this.lost}` : ''}); ` +
            'threads are disabled, the single-threaded GEMM is back in place',
        );
      }
    }
    this.spinMs = nextSpin(this.spinMs, performance.now() - t0);
    this.checkErrors(what);
  }

  /** Throws, naming `what` and the first error, if an item of the finished job failed. */
  private checkErrors(what: string): void {
    if (this.ctl[ERROR] !== 0) {
      for (const [t, w] of this.workers.entries()) {
        for (let m = receiveMessageOnPort(w.port); m; m = receiveMessageOnPort(w.port)) this.errors.push(`worker ${t + 1}: ${String(m.message)}`);
      }
      const more = this.errors.length > 1 ? ` (and ${this.errors.length - 1} more errors)` : '';
      throw new Error(`${what} failed: ${this.errors[0] ?? 'no message'}${more}`);
    }
  }
}
