/**
 * The primitives: the only ops with backward code of their own. Everything else in
 * seqgrad (sub, mean, softmax, crossEntropy, linear, split, the cells) is composed of these.
 * The gradcheck test table is keyed by this union, so a primitive without a gradient test
 * does not compile.
 */
export const PRIMITIVES = [
  // elementwise
  'add', 'mul', 'div', 'neg', 'pow', 'exp', 'log', 'sqrt', 'abs', 'tanh', 'sigmoid', 'relu',
  'clamp', 'maximum', 'minimum', 'where', 'cast',
  // reductions
  'sum', 'amax', 'amin', 'norm',
  // linear algebra
  'matmul',
  // shape
  'reshape', 'permute', 'expand', 'concat', 'narrow', 'pad', 'flip', 'unbind',
  // indexing
  'indexSelect', 'indexAdd', 'gather', 'scatterAdd',
] as const;

export type Primitive = (typeof PRIMITIVES)[number];
