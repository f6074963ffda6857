/**
 * @seqgrad/autograd — tensors with reverse-mode autograd, built for recurrent networks.
 */
export { SeqgradError, fmt, checkOptions, show } from './errors.js';
export { numel, broadcastShapes, checkShape, unravelIndex, MAX_NUMEL, type Shape } from './shapes.js';
export { Generator, defaultGenerator, manualSeed } from './random.js';
export { Tensor, isTensor, arrayFor, type DType, type FloatDType, type TypedArray, type NestedArray } from './tensor.js';
export {
  tensor, zeros, ones, full, zerosLike, onesLike, fullLike, arange, eye, rand, randn, randint, categorical,
  type TensorOptions, type RandomOptions, type CategoricalOptions,
} from './creation.js';
export { grad, valueAndGrad, jvp, vjp, hvp, type GradOptions } from './functional.js';
export {
  defineFunction, FunctionCtx, noGrad, enableGrad, isGradEnabled, setGradEnabled, detectAnomaly,
  type FunctionDefinition, type BackwardResult,
} from './engine.js';
export { PRIMITIVES, type Primitive } from './primitives.js';
export {
  add, sub, mul, div, neg, pow, square, exp, log, sqrt, abs, tanh, sigmoid, relu, clamp, maximum, minimum, where,
  eq, ne, lt, le, gt, ge, cast, clone,
} from './ops/elementwise.js';
export { sum, mean, max, min, argmax, argmin, logsumexp, norm, variance, sumTo } from './ops/reduce.js';
export { matmul } from './ops/matmul.js';
export {
  reshape, flatten, squeeze, unsqueeze, expand, permute, transpose, concat, cat, stack, narrow, slice, select, split, chunk, flip, unbind,
} from './ops/shape.js';
export { indexSelect, indexAdd, gather, scatterAdd, embedding } from './ops/indexing.js';
export {
  softmax, logSoftmax, linear, crossEntropy, mseLoss, binaryCrossEntropyWithLogits, dropout,
  type Reduction, type CrossEntropyOptions,
} from './ops/nn.js';
export * as kernels from './kernels/index.js';
export { gradcheck, gradgradcheck, GradcheckError, type GradcheckOptions } from './gradcheck.js';
export { Scalar } from './scalar.js';
export {
  scan, explainScan,
  type ScanState, type ScanStep, type StepFunction, type ScanOptions, type ScanResult, type ScanExplanation,
} from './compile/scan.js';
export type { RegularizeOptions } from './compile/regularize.js';
export type { CheckpointOptions } from './compile/checkpoint.js';
export type { PlanSummary } from './compile/plan.js';
export { traceStepGraph, COMPILED_PRIMITIVES, type StepGraph, type TraceNode, type TraceValue, type TraceResult, type Region } from './compile/graph.js';
