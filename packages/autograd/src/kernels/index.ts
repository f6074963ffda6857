/**
 * Raw kernels on typed arrays (no autograd): the building blocks of fused layers such as the
 * hand-derived BPTT in @seqgrad/layers. `backend()` says which implementation runs and why;
 * `setGemmKernel` swaps in another GEMM everywhere.
 */
export { gemm, gemmPacked, packB, gemmJs, gemmWasm, wasmSimdAvailable, setGemmKernel, setGemmFma, type GemmKernel, type FloatArray, type PackedB } from './gemm.js';
export { unary, binaryBroadcast, broadcastStrides, setWasmElementwise, sigmoidScalar, expm1F32, tanhF32, sigmoidF32, type UnaryOp, type BinaryOp } from './elementwise.js';
export { reduce, type ReduceOp } from './reduce.js';
export { broadcastCopy, permuteCopy } from './copy.js';
export { wasmGates, setWasmGates, wasmGatesAvailable, type WasmGates, type GateWorkspace } from '../backend/gates.js';
export { backend, type BackendReport, type BackendName } from '../backend/index.js';
export { THRESHOLDS } from '../backend/policy.js';
