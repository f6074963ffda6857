/**
 * ONNX TensorProto ↔ seqgrad Tensor. Decoding checks that the data holds exactly as many
 * elements as the shape says and refuses external data (a file path in the model is never
 * followed). int64 and other integer types become int32 tensors (refused past 2³¹);
 * float16/bfloat16, strings and complex numbers are refused.
 */
import { SeqgradError, Tensor, fmt } from '@seqgrad/autograd';
import { DATA_TYPE_NAMES, DataType, type TensorProtoMsg, int64ToNumber } from './proto.js';

function bytesView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The dims of a TensorProto as numbers, checked to be non-negative integers. */
export function tensorDims(op: string, what: string, t: TensorProtoMsg): number[] {
  const dims = (t.dims ?? []).map((d) => int64ToNumber(d));
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new SeqgradError(op, `${what} has invalid dims ${fmt(dims)}`);
  return dims;
}

/**
 * Integer data as int32. 64-bit values clamp to the int32 range: ONNX graphs use ±2⁶³−1 as
 * "to the end" in Slice bounds, which clip identically; any real index or dimension past 2³¹
 * could not address a seqgrad tensor anyway.
 */
function toInt32(op: string, what: string, values: ArrayLike<number>, clamp64 = false): Int32Array {
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    let v = values[i]!;
    if (clamp64) v = Math.min(2147483647, Math.max(-2147483648, v));
    if (!(v >= -2147483648 && v <= 2147483647)) {
      throw new SeqgradError(op, `${what} holds ${v}, outside the int32 range seqgrad uses for integer tensors`);
    }
    out[i] = v;
  }
  return out;
}

/** Decodes a TensorProto into a float32, float64 or int32 Tensor (never requiring grad). */
export function decodeTensor(op: string, what: string, t: TensorProtoMsg): Tensor {
  if ((t.externalData?.length ?? 0) > 0 || t.dataLocation === 1) {
    throw new SeqgradError(op, `${what} refers to external data (${t.externalData?.map((e) => `${e.key}=${e.value}`).join(', ')}); seqgrad reads self-contained models only and never opens files named inside one`);
  }
  if (t.segment && t.segment.length) throw new SeqgradError(op, `${what} is a segmented tensor, which seqgrad does not read`);
  const dims = tensorDims(op, what, t);
  const n = dims.reduce((a, b) => a * b, 1);
  const type = t.dataType ?? 0;
  const typeName = DATA_TYPE_NAMES[type] ?? `data type ${type}`;
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : null;
  const short = (have: number) =>
    new SeqgradError(op, `${what}${fmt(dims)} (${typeName}) needs ${n} elements but its data holds ${have}: the tensor is truncated or corrupt`);
  const elementSize: Record<number, number> = {
    [DataType.FLOAT]: 4, [DataType.DOUBLE]: 8, [DataType.INT32]: 4, [DataType.INT64]: 8, [DataType.INT8]: 1, [DataType.UINT8]: 1,
    [DataType.INT16]: 2, [DataType.UINT16]: 2, [DataType.UINT32]: 4, [DataType.UINT64]: 8, [DataType.BOOL]: 1,
  };
  const size = elementSize[type];
  if (size === undefined) throw new SeqgradError(op, `${what} has element type ${typeName}, which seqgrad does not read`);
  if (raw) {
    if (raw.length !== n * size) {
      if (raw.length < n * size) throw short(Math.floor(raw.length / size));
      throw new SeqgradError(op, `${what}${fmt(dims)} (${typeName}) needs ${n * size} bytes of raw data but holds ${raw.length}`);
    }
    const v = bytesView(raw);
    switch (type) {
      case DataType.FLOAT: {
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = v.getFloat32(4 * i, true);
        return new Tensor(out, dims);
      }
      case DataType.DOUBLE: {
        const out = new Float64Array(n);
        for (let i = 0; i < n; i++) out[i] = v.getFloat64(8 * i, true);
        return new Tensor(out, dims);
      }
      default: {
        const vals = new Array<number>(n);
        for (let i = 0; i < n; i++) {
          const o = size * i;
          vals[i] =
            type === DataType.INT32 ? v.getInt32(o, true)
            : type === DataType.INT64 ? Number(v.getBigInt64(o, true))
            : type === DataType.UINT64 ? Number(v.getBigUint64(o, true))
            : type === DataType.UINT32 ? v.getUint32(o, true)
            : type === DataType.INT16 ? v.getInt16(o, true)
            : type === DataType.UINT16 ? v.getUint16(o, true)
            : type === DataType.INT8 ? v.getInt8(o)
            : v.getUint8(o);
        }
        return new Tensor(toInt32(op, what, vals, type === DataType.INT64 || type === DataType.UINT64), dims);
      }
    }
  }
  // Typed fields: float_data (FLOAT), double_data (DOUBLE), int64_data (INT64), uint64_data
  // (UINT32, UINT64), int32_data (INT32 and the narrower integer types and BOOL).
  let values: ArrayLike<number>;
  if (type === DataType.FLOAT) values = t.floatData ?? [];
  else if (type === DataType.DOUBLE) values = t.doubleData ?? [];
  else if (type === DataType.INT64) values = (t.int64Data ?? []).map(int64ToNumber);
  else if (type === DataType.UINT64 || type === DataType.UINT32) values = (t.uint64Data ?? []).map(int64ToNumber);
  else values = t.int32Data ?? [];
  if (values.length !== n) {
    if (values.length < n) throw short(values.length);
    throw new SeqgradError(op, `${what}${fmt(dims)} (${typeName}) needs ${n} elements but its data holds ${values.length}`);
  }
  if (type === DataType.FLOAT) return new Tensor(Float32Array.from(values), dims);
  if (type === DataType.DOUBLE) return new Tensor(Float64Array.from(values), dims);
  return new Tensor(toInt32(op, what, values, type === DataType.INT64 || type === DataType.UINT64), dims);
}

/** Encodes a seqgrad tensor as a TensorProto with raw little-endian data; int32 as INT32 unless `asInt64`. */
export function encodeTensor(name: string, t: Tensor, opts: { asInt64?: boolean } = {}): TensorProtoMsg {
  const n = t.size;
  let raw: Uint8Array;
  let dataType: number;
  if (t.dtype === 'float32') {
    dataType = DataType.FLOAT;
    raw = new Uint8Array(4 * n);
    const v = bytesView(raw);
    for (let i = 0; i < n; i++) v.setFloat32(4 * i, t.data[i]!, true);
  } else if (t.dtype === 'float64') {
    dataType = DataType.DOUBLE;
    raw = new Uint8Array(8 * n);
    const v = bytesView(raw);
    for (let i = 0; i < n; i++) v.setFloat64(8 * i, t.data[i]!, true);
  } else if (opts.asInt64) {
    dataType = DataType.INT64;
    raw = new Uint8Array(8 * n);
    const v = bytesView(raw);
    for (let i = 0; i < n; i++) v.setBigInt64(8 * i, BigInt(t.data[i]!), true);
  } else {
    dataType = DataType.INT32;
    raw = new Uint8Array(4 * n);
    const v = bytesView(raw);
    for (let i = 0; i < n; i++) v.setInt32(4 * i, t.data[i]!, true);
  }
  return { name, dims: [...t.shape], dataType, rawData: raw };
}

/** An int64 constant tensor (shapes, axes, indices) from plain numbers. */
export function int64Tensor(name: string, values: readonly (number | bigint)[], dims: readonly number[] = [values.length]): TensorProtoMsg {
  const raw = new Uint8Array(8 * values.length);
  const v = bytesView(raw);
  values.forEach((x, i) => v.setBigInt64(8 * i, BigInt(x), true));
  return { name, dims: [...dims], dataType: DataType.INT64, rawData: raw };
}
