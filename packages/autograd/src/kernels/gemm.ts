/**
 * General matrix multiply on typed arrays: C = alpha · op(A) · op(B) + beta · C, row-major,
 * op(X) = X or Xᵀ. No autograd here; every matmul in seqgrad ends up in this one entry point. The
 * implementations (TypeScript, WebAssembly SIMD, worker threads) and the policy choosing between
 * them live in ../backend/.
 */
export {
  gemm, gemmPacked, packB, setGemmKernel, setGemmFma, wasmSimdAvailable, gemmJs, gemmWasm,
  type FloatArray, type GemmKernel, type PackedB,
} from '../backend/index.js';
