import { SeqgradError, fmt } from '../errors.js';
import { broadcastShapes, broadcastStrides, numel, stridedOffsets } from '../shapes.js';
import { gemm } from '../kernels/gemm.js';
import { Tensor, arrayFor } from '../tensor.js';
import { add, cast } from './elementwise.js';
import { type PrimitiveFn, assertFloat, definePrimitive, promoteDtype } from './op.js';
import { reshape } from './shape.js';

/** Row and column counts of op(x) for the last two axes. */
function dims(x: Tensor, t: boolean): [number, number] {
  const r = x.shape[x.ndim - 2]!;
  const c = x.shape[x.ndim - 1]!;
  return t ? [c, r] : [r, c];
}

/**
 * Batched op(a) @ op(b) for tensors of rank ≥ 2 with broadcast batch axes; op = transpose
 * when the flag is set, without materialising the transpose (the GEMM reads it in place).
 */
const mmOp: PrimitiveFn<'matmul'> = definePrimitive('matmul', {
  forward(a, b, transA, transB) {
    const [M, K] = dims(a, transA);
    const [, N] = dims(b, transB);
    const aBatch = a.shape.slice(0, -2);
    const bBatch = b.shape.slice(0, -2);
    const batch = broadcastShapes('matmul', aBatch, bBatch, ['a batch', 'b batch']);
    const out = arrayFor(a.dtype, numel(batch) * M * N) as Float32Array | Float64Array;
    // Which matrix of a and of b each output matrix reads (broadcast batch axes repeat one).
    const aOffs = stridedOffsets(batch, broadcastStrides(aBatch, batch));
    const bOffs = stridedOffsets(batch, broadcastStrides(bBatch, batch));
    const lda = a.shape[a.ndim - 1]!;
    const ldb = b.shape[b.ndim - 1]!;
    const A = a.data as Float32Array | Float64Array;
    const B = b.data as Float32Array | Float64Array;
    for (let i = 0; i < aOffs.length; i++) {
      gemm(transA, transB, M, N, K, 1, A, aOffs[i]! * M * K, lda, B, bOffs[i]! * K * N, ldb, 0, out, i * M * N, N);
    }
    return { out: new Tensor(out, [...batch, M, N]), saved: { a, b, transA, transB } };
  },
  // C = X Y with X = op(A), Y = op(B):  dX = dC Yᵀ,  dY = Xᵀ dC;  a transposed operand takes the transpose
  // (over broadcast batch axes the engine sums the batch of products back to each input's shape)
  backward: ({ a, b, transA, transB }, g, [needA, needB]) => [
    !needA ? null : transA ? mmOp(b, g, transB, true) : mmOp(g, b, false, !transB),
    !needB ? null : transB ? mmOp(g, a, true, transA) : mmOp(a, g, !transA, false),
  ],
  // Ċ = Ẋ Y + X Ẏ
  jvp: ({ saved: { a, b, transA, transB } }, [ta, tb]) => add(mmOp(ta, b, transA, transB), mmOp(a, tb, transA, transB)),
});

/** The rule of the matrix product. */
export const matmulRules = { matmul: mmOp.rule };

/**
 * Matrix product with PyTorch's semantics: 1-D·1-D is a dot product, a 1-D operand gains
 * (then loses) a unit axis, N-D operands are batches of matrices with broadcast batch axes.
 *
 * @example
 * matmul(randn([2, 3]), randn([3, 4]));      // [2,4]
 * matmul(randn([5, 2, 3]), randn([3, 4]));   // [5,2,4]
 */
export function matmul(a: Tensor, b: Tensor, opts: { transA?: boolean; transB?: boolean } = {}): Tensor {
  assertFloat('matmul', 'a', a);
  assertFloat('matmul', 'b', b);
  if (a.ndim === 0 || b.ndim === 0) {
    throw new SeqgradError('matmul', `a${fmt(a.shape)} @ b${fmt(b.shape)}: both arguments need at least one dimension`);
  }
  const tA = opts.transA ?? false;
  const tB = opts.transB ?? false;
  const a2 = a.ndim === 1 ? reshape(a, tA ? [a.shape[0]!, 1] : [1, a.shape[0]!]) : a;
  const b2 = b.ndim === 1 ? reshape(b, tB ? [1, b.shape[0]!] : [b.shape[0]!, 1]) : b;
  const [, K] = dims(a2, tA);
  const [Kb] = dims(b2, tB);
  if (K !== Kb) {
    throw new SeqgradError('matmul', `a${fmt(a.shape)} @ b${fmt(b.shape)}: inner dimensions ${K} and ${Kb} differ`);
  }
  // Two matrices have no batch axes to disagree; the names are built only where they may be needed.
  if (a2.ndim > 2 || b2.ndim > 2) broadcastShapes('matmul', a2.shape.slice(0, -2), b2.shape.slice(0, -2), [`a${fmt(a.shape)} batch`, `b${fmt(b.shape)} batch`]);
  const dt = promoteDtype(a.dtype, b.dtype);
  let out = mmOp(a2.dtype === dt ? a2 : cast(a2, dt), b2.dtype === dt ? b2 : cast(b2, dt), tA, tB);
  if (a.ndim === 1) out = reshape(out, [...out.shape.slice(0, -2), out.shape[out.ndim - 1]!]);
  if (b.ndim === 1) out = reshape(out, out.shape.slice(0, -1));
  return out;
}
