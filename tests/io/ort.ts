import { Tensor } from '@seqgrad/autograd';
import * as ort from 'onnxruntime-node';

/** A seqgrad tensor as an ONNX Runtime tensor; int32 becomes int64 when `int64` is set. */
export function toOrt(t: Tensor, int64 = false): ort.Tensor {
  if (t.dtype === 'int32') {
    return int64 ? new ort.Tensor('int64', BigInt64Array.from(t.data, (v) => BigInt(v)), t.shape) : new ort.Tensor('int32', Int32Array.from(t.data), t.shape);
  }
  return t.dtype === 'float64' ? new ort.Tensor('float64', Float64Array.from(t.data), t.shape) : new ort.Tensor('float32', Float32Array.from(t.data), t.shape);
}

/** An ONNX Runtime tensor as a seqgrad tensor (int64 → int32). */
export function fromOrt(t: ort.Tensor): Tensor {
  const data = t.data;
  if (data instanceof BigInt64Array) return new Tensor(Int32Array.from(data, (v) => Number(v)), t.dims);
  if (data instanceof Float32Array || data instanceof Float64Array || data instanceof Int32Array) return new Tensor(data.slice(), t.dims);
  throw new Error(`fromOrt: unexpected ONNX Runtime tensor type ${t.type}`);
}

/** Runs a model in ONNX Runtime (CPU, graph optimisations off) and returns every output as a seqgrad tensor. */
export async function runOrt(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, Tensor>> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
  const out = await session.run(feeds);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, fromOrt(v)]));
}
