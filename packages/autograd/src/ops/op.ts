import { type FunctionCtx, defineFunction, isPlainCall, primitiveDefinitions } from '../engine.js';
import { SeqgradError, fmt } from '../errors.js';
import { broadcastShapes, sameShape } from '../shapes.js';
import { activeLevels, suspended } from '../forward.js';
import type { Primitive, PrimitiveArgs, PrimitiveOut } from '../primitives.js';
import { type DType, type FloatDType, Tensor, arrayFor } from '../tensor.js';

/** A gradient, or null where none flows (an input that needs none, or a tensor like `where`'s cond). */
export type Grad = Tensor | null;

/** One entry per tensor argument of `A`, in order; the other arguments have none. */
export type PerTensorArg<A extends readonly unknown[], V> = A extends readonly [infer H, ...infer R]
  ? H extends Tensor ? [V, ...PerTensorArg<R, V>] : PerTensorArg<R, V>
  : A extends readonly Tensor[] ? V[] : [];

/**
 * The derivative code of one primitive: its forward, and its backward right below it.
 *
 * - `forward` receives the primitive's arguments (typed per primitive by `PrimitiveArgs`) and
 *   returns its output and what the backward needs (`saved`, typed per rule). Tensors in
 *   `saved` are checked against in-place changes before the backward reads them.
 * - `backward` receives `saved`, the gradient of the output (one per output for `unbind`) and
 *   which tensor arguments need a gradient, and returns one gradient per tensor argument. It
 *   may return a gradient of the output's broadcast shape: the engine sums every gradient
 *   back to its input's shape.
 */
export interface Rule<P extends Primitive, S> {
  forward(...args: PrimitiveArgs[P]): { out: PrimitiveOut<P>; saved: S };
  backward(saved: S, grad: P extends 'unbind' ? Tensor[] : Tensor, needs: PerTensorArg<PrimitiveArgs[P], boolean>): PerTensorArg<PrimitiveArgs[P], Grad>;
  /**
   * The forward-mode rule: the output's tangent from one tangent per tensor argument (zeros
   * where an argument has none), written with differentiable ops so that reverse mode can
   * run through it (Hessian-vector products). It may return the tangent in a shape that
   * broadcasts to the output's; the wrapper expands it.
   */
  jvp(call: { saved: S; args: PrimitiveArgs[P]; out: PrimitiveOut<P> }, tangents: PerTensorArg<PrimitiveArgs[P], Tensor>): PrimitiveOut<P>;
}

/** A primitive op: the function, with the rule it was built from. */
export type PrimitiveFn<P extends Primitive> = ((...args: PrimitiveArgs[P]) => PrimitiveOut<P>) & { readonly rule: Rule<P, any> };

/** @internal The definitions of the primitives, so the scan tracer can tell them from user functions. */
export { primitiveDefinitions } from '../engine.js';

/**
 * Defines a primitive from its rule through the same mechanism users get (`defineFunction`):
 * the rule sees typed arguments and its own saved values, and returns gradients for the
 * tensor arguments only; this wrapper maps them back to argument positions.
 */
export function definePrimitive<P extends Primitive, S>(name: P, rule: Rule<P, S>): PrimitiveFn<P> {
  const def = {
    name,
    forward(ctx: FunctionCtx, ...args: PrimitiveArgs[P]): PrimitiveOut<P> {
      const call = rule.forward(...args);
      const saved = call.saved;
      const tensors = tensorsIn(saved);
      if (tensors !== null) ctx.saveTensors(tensors);
      ctx.primitiveCall = saved;
      return call.out;
    },
    backward(ctx: FunctionCtx, ...grads: Tensor[]): Grad[] {
      ctx.savedTensors; // throws when freed, or when a saved tensor was changed in place
      // One entry per tensor argument for the rule, one per argument for the engine.
      const inputs = ctx.tensorInputs;
      const g = (name === 'unbind' ? grads : grads[0]!) as P extends 'unbind' ? Tensor[] : Tensor;
      if (allTensors(inputs)) {
        // Every argument is a tensor (add, mul, the unary ops): argument positions are the
        // rule's positions, so its array is the result once unneeded gradients are dropped.
        const needs = ctx.needsInputGrad;
        const perTensor = rule.backward(ctx.primitiveCall as S, g, needs as never) as Grad[];
        for (let i = 0; i < needs.length; i++) if (!needs[i]) perTensor[i] = null;
        return perTensor;
      }
      const needs: boolean[] = [];
      for (let i = 0; i < inputs.length; i++) if (inputs[i] !== null) needs.push(ctx.needsInputGrad[i]!);
      const perTensor = rule.backward(ctx.primitiveCall as S, g, needs as never) as Grad[];
      const result: Grad[] = new Array<Grad>(inputs.length);
      let k = 0;
      for (let i = 0; i < inputs.length; i++) result[i] = inputs[i] === null ? null : needs[k] ? perTensor[k++] ?? null : (k++, null);
      return result;
    },
  };
  primitiveDefinitions.set(def, (ctx, args, out) => {
    pushTangents(name, rule, { saved: ctx.primitiveCall as S, args: args as PrimitiveArgs[P], out: out as PrimitiveOut<P> });
  });
  const recorded = defineFunction<PrimitiveArgs[P], PrimitiveOut<P>>(def);
  // A call that nothing records (most are the ops of a backward) needs no context, no saved
  // tensors and no graph node: only the rule's output.
  const call = (...args: PrimitiveArgs[P]): PrimitiveOut<P> => (isPlainCall() ? rule.forward(...args).out : recorded(...args));
  return Object.assign(call, { rule });
}

/** Forward mode: gives the output(s) of a primitive call their tangents at every active level. */
function pushTangents<P extends Primitive, S>(name: P, rule: Rule<P, S>, call: { saved: S; args: PrimitiveArgs[P]; out: PrimitiveOut<P> }): void {
  const tensorArgs = (call.args as unknown[]).filter((a): a is Tensor => a instanceof Tensor);
  for (const level of activeLevels()) {
    const given = tensorArgs.map((t) => level.tangents.get(t) ?? null);
    if (given.every((t) => t === null)) continue;
    const tangents = given.map((t, i) => t ?? zerosOf(tensorArgs[i]!));
    const result = suspended(level, () => rule.jvp(call, tangents as never));
    const outs: Tensor[] = Array.isArray(call.out) ? call.out : [call.out as Tensor];
    const touts: Tensor[] = Array.isArray(result) ? result : [result as Tensor];
    outs.forEach((o, i) => {
      let t = touts[i]!;
      if (o.dtype === 'int32') return;
      if (t.dtype !== o.dtype) t = suspended(level, () => t.to(o.dtype));
      if (!sameShape(t.shape, o.shape)) {
        if (t.size !== 1 && !sameShape(broadcastShapes(name, t.shape, o.shape), o.shape)) {
          throw new SeqgradError(name, `jvp rule returned a tangent of shape ${fmt(t.shape)} for an output of shape ${fmt(o.shape)}`);
        }
        t = suspended(level, () => t.expand([...o.shape]));
      }
      level.tangents.set(o, t);
    });
  }
}

function zerosOf(t: Tensor): Tensor {
  return new Tensor(arrayFor(t.dtype, t.size), t.shape);
}

/** The tensors among a rule's saved values, in order, or null when there are none. */
function tensorsIn(saved: unknown): Tensor[] | null {
  if (saved === null || typeof saved !== 'object') return null;
  let tensors: Tensor[] | null = null;
  // A plain loop with no array unless a tensor is found: this runs on every primitive call.
  for (const key in saved) {
    if (!Object.prototype.hasOwnProperty.call(saved, key)) continue;
    const v = (saved as Record<string, unknown>)[key];
    if (v instanceof Tensor) (tensors ??= []).push(v);
  }
  return tensors;
}

/** Is every argument of the call a tensor (no axis, flag or index argument)? */
function allTensors(inputs: readonly (Tensor | null)[]): boolean {
  for (let i = 0; i < inputs.length; i++) if (inputs[i] === null) return false;
  return true;
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
