import { createRequire } from 'node:module';
import { Tensor } from '@seqgrad/autograd';

/**
 * onnxruntime-node is a devDependency of @seqgrad/io, so it is resolved from that package
 * (the root has no copy). Only the part of its API the tests use is typed here.
 */
export interface OrtTensor {
  type: string;
  dims: readonly number[];
  data: Float32Array | Float64Array | Int32Array | BigInt64Array;
}
interface OrtSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
}
interface Ort {
  Tensor: new (type: string, data: OrtTensor['data'], dims: readonly number[]) => OrtTensor;
  InferenceSession: { create(bytes: Uint8Array, opts?: Record<string, unknown>): Promise<OrtSession> };
}

const requireFromIo = createRequire(new URL('../../packages/io/package.json', import.meta.url));
export const ort = requireFromIo('onnxruntime-node') as Ort;

/** A seqgrad tensor as an ONNX Runtime tensor; int32 becomes int64 when `int64` is set. */
export function toOrt(t: Tensor, int64 = false): OrtTensor {
  if (t.dtype === 'int32') {
    return int64 ? new ort.Tensor('int64', BigInt64Array.from(t.data, (v) => BigInt(v)), t.shape) : new ort.Tensor('int32', Int32Array.from(t.data), t.shape);
  }
  return new ort.Tensor(t.dtype === 'float64' ? 'float64' : 'float32', t.data.slice() as Float32Array, t.shape);
}

/** An ONNX Runtime tensor as a seqgrad tensor (int64 → int32). */
export function fromOrt(t: OrtTensor): Tensor {
  if (t.data instanceof BigInt64Array) return new Tensor(Int32Array.from(t.data, (v) => Number(v)), t.dims);
  return new Tensor(t.data.slice(), t.dims);
}

/** Runs a model in ONNX Runtime (CPU) and returns every output as a seqgrad tensor. */
export async function runOrt(bytes: Uint8Array, feeds: Record<string, OrtTensor>): Promise<Record<string, Tensor>> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
  const out = await session.run(feeds);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, fromOrt(v)]));
}
