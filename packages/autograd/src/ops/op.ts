import { type FunctionCtx, type BackwardResult, defineFunction } from '../engine.js';
import { SeqgradError, fmt } from '../errors.js';
import type { Primitive } from '../primitives.js';
import { type DType, type FloatDType, Tensor } from '../tensor.js';

/** @internal The definitions of the primitives, so the scan tracer can tell them from user functions. */
export const primitiveDefinitions = new WeakSet<object>();

/** Defines a built-in primitive through the same mechanism users get (`defineFunction`). */
export function defineOp<Args extends unknown[], Out extends Tensor | Tensor[] = Tensor>(
  name: Primitive,
  forward: (ctx: FunctionCtx, ...args: Args) => Out,
  backward: (ctx: FunctionCtx, ...grads: Tensor[]) => BackwardResult,
): (...args: Args) => Out {
  const def = { name, forward, backward };
  primitiveDefinitions.add(def);
  return defineFunction<Args, Out>(def);
}

export type Operand = Tensor | number;

/** Checks that `t` is a float tensor (ops with gradients refuse int32). */
export function assertFloat(op: string, arg: string, t: Tensor): asserts t is Tensor & { dtype: FloatDType } {
  if (!(t instanceof Tensor)) throw new SeqgradError(op, `${arg} must be a Tensor, got ${describe(t)}`);
  if (t.dtype === 'int32') {
    throw new SeqgradError(op, `${arg}${fmt(t.shape)} has dtype int32; this op needs float32 or float64 (use .to('float32'))`);
  }
}

export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x;
}

export function promoteDtype(a: DType, b: DType): FloatDType {
  return a === 'float64' || b === 'float64' ? 'float64' : 'float32';
}

/** Ops that work along an axis (narrow, select, split, indexSelect, gather, ...) need rank ≥ 1. */
export function assertNotScalar(op: string, arg: string, t: Tensor): void {
  if (t.ndim === 0) throw new SeqgradError(op, `${arg}${fmt(t.shape)} is 0-dimensional; this op needs at least one dimension`);
}
