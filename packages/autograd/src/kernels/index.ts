/**
 * Raw kernels on typed arrays (no autograd): the building blocks of fused layers such as the
 * hand-derived BPTT in @seqgrad/layers. `setGemmKernel` swaps in a faster GEMM everywhere.
 */
export { gemm, gemmJs, gemmWasm, wasmSimdAvailable, setGemmKernel, type GemmKernel, type FloatArray } from './gemm.js';
export { unary, binaryBroadcast, broadcastCopy, broadcastStrides, setWasmElementwise, sigmoidScalar, expm1F32, tanhF32, sigmoidF32, type UnaryOp, type BinaryOp } from './elementwise.js';
export { reduce, permuteCopy, type ReduceOp } from './reduce.js';
