/**
 * Float arrays reused between the calls of the fused layers. A training step allocates the same
 * large arrays every time (the input projection, the cache of the forward pass, the gradients of
 * the gate pre-activations); a fresh one costs the runtime's zeroing and, for the operating
 * system, a page fault per 4 KB at the first write, several times the cost of writing it again.
 * Here an array that its user has finished with is handed back (`give`) and handed out again
 * (`take`) to the next call that asks for the same type and length.
 *
 * Idle arrays are held through `WeakRef`s: within one synchronous job (a training loop without
 * awaits) V8 keeps them alive, and once the job is over a major collection may reclaim them, so
 * the pool never holds memory that nothing will ask for again. Only arrays nobody else references
 * may be given: `take` hands the same array to its next caller.
 */
import { SeqgradError } from '@seqgrad/autograd';
import type { FloatArray } from './types.js';

/** Idle arrays kept per type and length (a training step of a deep or bidirectional stack gives back a few per layer). */
const MAX_IDLE_PER_LENGTH = 64;
const idle32 = new Map<number, WeakRef<Float32Array>[]>();
const idle64 = new Map<number, WeakRef<Float64Array>[]>();
/** The arrays currently idle, to refuse one given twice (two later takers would share it). */
const idleSet = new WeakSet<FloatArray>();

/** An array of `like`'s float type and length n: from the pool when one is idle (contents arbitrary), else new (zeros). */
export function take(like: FloatArray, n: number): FloatArray {
  const list = like instanceof Float64Array ? idle64.get(n) : idle32.get(n);
  if (list) {
    while (list.length > 0) {
      const a = list.pop()!.deref();
      if (a !== undefined) {
        idleSet.delete(a);
        return a;
      }
    }
  }
  return like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
}

/** `take`, zeroed. */
export function takeZeroed(like: FloatArray, n: number): FloatArray {
  const list = like instanceof Float64Array ? idle64.get(n) : idle32.get(n);
  const pooled = list !== undefined && list.length > 0;
  const a = take(like, n);
  return pooled ? a.fill(0) : a;
}

/** Hands arrays back for later `take`s; null entries are skipped. The caller must hold no other reference to them. */
export function give(...arrays: (FloatArray | null | undefined)[]): void {
  for (const a of arrays) {
    if (!a || a.length === 0) continue;
    if (idleSet.has(a)) throw new SeqgradError('pool.give', `an array of ${a.length} values was given back twice`);
    idleSet.add(a);
    const map = a instanceof Float64Array ? idle64 : idle32;
    let list = map.get(a.length) as WeakRef<FloatArray>[] | undefined;
    if (!list) {
      list = [];
      map.set(a.length, list as never);
    }
    list.push(new WeakRef(a));
    // A length given back more often than taken keeps only its newest arrays.
    if (list.length > MAX_IDLE_PER_LENGTH) {
      const dropped = list.shift()!.deref();
      if (dropped) idleSet.delete(dropped);
    }
  }
}

/** How many arrays are idle in the pool (alive or not yet collected): for tests. */
export function idleCount(): number {
  let n = 0;
  for (const m of [idle32, idle64]) for (const list of m.values()) n += list.length;
  return n;
}
