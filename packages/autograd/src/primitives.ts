import type { DType, Tensor } from './tensor.js';

/**
 * The primitives: the only ops with derivative code of their own. Everything else in
 * seqgrad (sub, mean, softmax, crossEntropy, linear, split, the cells) is composed of these.
 * The rule table (ops/rules.ts) and the gradcheck test table are keyed by this union, so a
 * primitive without a rule or without a gradient test does not compile.
 */
export const PRIMITIVES = [
  // elementwise
  'add', 'mul', 'div', 'neg', 'pow', 'exp', 'log', 'sqrt', 'abs', 'tanh', 'sigmoid', 'relu',
  'clamp', 'maximum', 'minimum', 'where', 'cast',
  // reductions
  'sum', 'amax', 'norm',
  // linear algebra
  'matmul',
  // shape
  'reshape', 'permute', 'expand', 'concat', 'narrow', 'pad', 'flip', 'unbind',
  // indexing
  'indexSelect', 'indexAdd', 'gather', 'scatterAdd',
] as const;

export type Primitive = (typeof PRIMITIVES)[number];

/**
 * The forward arguments of each primitive, in the order the op receives them (the scan
 * compiler reads them by position). Tensors get gradients; every other argument is a
 * parameter of the op (axes, bounds, flags), already validated by the public function.
 */
export interface PrimitiveArgs {
  add: [a: Tensor, b: Tensor];
  mul: [a: Tensor, b: Tensor];
  div: [a: Tensor, b: Tensor];
  neg: [x: Tensor];
  pow: [a: Tensor, b: Tensor];
  exp: [x: Tensor];
  log: [x: Tensor];
  sqrt: [x: Tensor];
  abs: [x: Tensor];
  tanh: [x: Tensor];
  sigmoid: [x: Tensor];
  relu: [x: Tensor];
  clamp: [x: Tensor, lo: number, hi: number];
  maximum: [a: Tensor, b: Tensor];
  minimum: [a: Tensor, b: Tensor];
  where: [cond: Tensor, a: Tensor, b: Tensor];
  cast: [x: Tensor, dtype: DType];
  sum: [x: Tensor, axes: number[], keepdim: boolean];
  amax: [x: Tensor, axes: number[], keepdim: boolean];
  norm: [x: Tensor, p: number, axes: number[], keepdim: boolean];
  matmul: [a: Tensor, b: Tensor, transA: boolean, transB: boolean];
  reshape: [x: Tensor, shape: number[]];
  permute: [x: Tensor, perm: number[]];
  expand: [x: Tensor, shape: number[]];
  concat: [axis: number, ...xs: Tensor[]];
  narrow: [x: Tensor, axis: number, start: number, length: number];
  pad: [x: Tensor, axis: number, before: number, total: number];
  flip: [x: Tensor, axes: number[]];
  unbind: [x: Tensor, axis: number];
  indexSelect: [x: Tensor, axis: number, idx: Int32Array];
  indexAdd: [src: Tensor, axis: number, idx: Int32Array, size: number];
  gather: [x: Tensor, axis: number, idx: Int32Array, idxShape: number[]];
  scatterAdd: [src: Tensor, axis: number, idx: Int32Array, outShape: number[]];
}

/** What each primitive returns: one tensor, or (unbind) one per slice. */
export type PrimitiveOut<P extends Primitive> = P extends 'unbind' ? Tensor[] : Tensor;
