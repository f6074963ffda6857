/**
 * Float arrays reused between the calls of the fused layers. A training step allocates the same
 * large arrays every time (the input projection, the cache of the forward pass, the gradients of
 * the gate pre-activations); a fresh one costs the runtime's zeroing and, for the operating
 * system, a page fault per 4 KB at its first write, several times the cost of writing it again.
 * Here an array that its user has finished with is handed back (`give`) and handed out again
 * (`take`) to the next call that asks for the same type and length.
 *
 * Like PyTorch's caching allocator, the pool holds what it was given (at most `MAX_IDLE_BYTES`,
 * and `MAX_IDLE_PER_LENGTH` arrays of one type and length, the oldest dropped first) until it is
 * taken again or `emptyCache()` lets it go. (Weak references would not do: V8 keeps every target
 * of a `WeakRef` created during a synchronous job alive until the job ends, so a training loop
 * without awaits would keep every array ever given.) Only arrays nobody else references may be
 * given: `take` hands the same array to its next caller.
 */
import { SeqgradError } from '@seqgrad/autograd';
import type { FloatArray } from './types.js';

/** Idle arrays kept per type and length (a deep bidirectional stack gives back several of one size per step). */
const MAX_IDLE_PER_LENGTH = 32;
/** Idle bytes kept in all (beyond, the oldest arrays of the length being given are dropped). */
const MAX_IDLE_BYTES = 512 * 2 ** 20;

const idle32 = new Map<number, Float32Array[]>();
const idle64 = new Map<number, Float64Array[]>();
/** The arrays currently idle, to refuse one given twice (two later takers would share it). */
const idleSet = new WeakSet<FloatArray>();
let idleBytes = 0;

function listFor(a: FloatArray | boolean, n: number, create: boolean): FloatArray[] | undefined {
  const map = (a instanceof Float64Array || a === true ? idle64 : idle32) as Map<number, FloatArray[]>;
  let list = map.get(n);
  if (!list && create) map.set(n, (list = []));
  return list;
}

/** An array of `like`'s float type and length n: from the pool when one is idle (contents arbitrary), else new (zeros). */
export function take(like: FloatArray, n: number): FloatArray {
  const a = listFor(like, n, false)?.pop();
  if (a === undefined) return like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
  idleSet.delete(a);
  idleBytes -= a.byteLength;
  return a;
}

/** `take`, zeroed. */
export function takeZeroed(like: FloatArray, n: number): FloatArray {
  const pooled = (listFor(like, n, false)?.length ?? 0) > 0;
  const a = take(like, n);
  return pooled ? a.fill(0) : a;
}

/**
 * `take` for a (B, T, ·) array of a sequence call: zeroed when `padded` (some batch element stops
 * before T), since the loops write only the rows of the steps that run and the GEMMs over all
 * steps read the others.
 */
export function takeRows(like: FloatArray, n: number, padded: boolean): FloatArray {
  return padded ? takeZeroed(like, n) : take(like, n);
}

/** Hands arrays back for later `take`s; null entries are skipped. The caller must hold no other reference to them. */
export function give(...arrays: (FloatArray | null | undefined)[]): void {
  for (const a of arrays) {
    if (!a || a.length === 0 || a.byteLength > MAX_IDLE_BYTES) continue;
    if (idleSet.has(a)) throw new SeqgradError('pool.give', `an array of ${a.length} values was given back twice`);
    const list = listFor(a, a.length, true)!;
    list.push(a);
    idleSet.add(a);
    idleBytes += a.byteLength;
    while (list.length > MAX_IDLE_PER_LENGTH || idleBytes > MAX_IDLE_BYTES) {
      const dropped = list.shift()!;
      idleSet.delete(dropped);
      idleBytes -= dropped.byteLength;
      if (dropped === a) break;
    }
  }
}

/**
 * Lets go of every idle buffer the fused layers keep for their next call (as
 * `torch.cuda.empty_cache()` does for PyTorch's caching allocator): after training, to give the
 * memory back to the garbage collector. The next call allocates afresh.
 *
 * @example
 * import { emptyCache } from '@seqgrad/layers';
 * emptyCache();
 */
export function emptyCache(): void {
  idle32.clear();
  idle64.clear();
  idleBytes = 0;
}

/** How many arrays and bytes are idle in the pool: for tests and `emptyCache`'s callers. */
export function poolStats(): { arrays: number; bytes: number } {
  let arrays = 0;
  for (const m of [idle32, idle64] as Map<number, FloatArray[]>[]) for (const list of m.values()) arrays += list.length;
  return { arrays, bytes: idleBytes };
}
