/**
 * The ONNX protobuf messages seqgrad reads and writes, as a protobufjs JSON descriptor written
 * from onnx/onnx.proto (IR version 9 fields). Encoding and decoding run in browsers and Node
 * alike: no .proto file is read at run time. Fields seqgrad refuses (external data, sparse
 * initializers, functions) are declared so their presence can be detected.
 */
import protobuf from 'protobufjs/light.js';

/**
 * One message's fields as onnx.proto declares them: `'[repeated] <type> = <field number>'`
 * per field, turned into protobufjs's JSON form.
 */
function message(fields: Record<string, string>, oneofs?: Record<string, { oneof: string[] }>): protobuf.IType {
  const out: Record<string, protobuf.IField> = {};
  for (const [name, decl] of Object.entries(fields)) {
    const m = /^(repeated )?(\w+) = (\d+)$/.exec(decl);
    if (!m) throw new Error(`proto.ts: field ${name} is declared as '${decl}'`);
    out[name] = m[1] ? { rule: 'repeated', type: m[2]!, id: Number(m[3]) } : { type: m[2]!, id: Number(m[3]) };
  }
  return oneofs ? { fields: out, oneofs } : { fields: out };
}

const descriptor = {
  nested: {
    onnx: {
      nested: {
        ModelProto: message({
          irVersion: 'int64 = 1',
          opsetImport: 'repeated OperatorSetIdProto = 8',
          producerName: 'string = 2',
          producerVersion: 'string = 3',
          domain: 'string = 4',
          modelVersion: 'int64 = 5',
          docString: 'string = 6',
          graph: 'GraphProto = 7',
          metadataProps: 'repeated StringStringEntryProto = 14',
          // FunctionProto messages: only their presence matters (model-local functions are refused).
          functions: 'repeated bytes = 25',
        }),
        OperatorSetIdProto: message({ domain: 'string = 1', version: 'int64 = 2' }),
        StringStringEntryProto: message({ key: 'string = 1', value: 'string = 2' }),
        GraphProto: message({
          node: 'repeated NodeProto = 1',
          name: 'string = 2',
          initializer: 'repeated TensorProto = 5',
          sparseInitializer: 'repeated bytes = 15',
          docString: 'string = 10',
          input: 'repeated ValueInfoProto = 11',
          output: 'repeated ValueInfoProto = 12',
          valueInfo: 'repeated ValueInfoProto = 13',
        }),
        NodeProto: message({
          input: 'repeated string = 1',
          output: 'repeated string = 2',
          name: 'string = 3',
          opType: 'string = 4',
          domain: 'string = 7',
          attribute: 'repeated AttributeProto = 5',
          docString: 'string = 6',
        }),
        AttributeProto: message({
          name: 'string = 1',
          refAttrName: 'string = 21',
          docString: 'string = 13',
          type: 'int32 = 20',
          f: 'float = 2',
          i: 'int64 = 3',
          s: 'bytes = 4',
          t: 'TensorProto = 5',
          g: 'GraphProto = 6',
          floats: 'repeated float = 7',
          ints: 'repeated int64 = 8',
          strings: 'repeated bytes = 9',
          tensors: 'repeated TensorProto = 10',
          graphs: 'repeated GraphProto = 11',
        }),
        ValueInfoProto: message({ name: 'string = 1', type: 'TypeProto = 2', docString: 'string = 3' }),
        TypeProto: message({
          tensorType: 'TypeProtoTensor = 1',
          sequenceType: 'bytes = 4',
          mapType: 'bytes = 5',
          sparseTensorType: 'bytes = 8',
          optionalType: 'bytes = 9',
          denotation: 'string = 6',
        }),
        TypeProtoTensor: message({ elemType: 'int32 = 1', shape: 'TensorShapeProto = 2' }),
        TensorShapeProto: message({ dim: 'repeated Dimension = 1' }),
        Dimension: message({ dimValue: 'int64 = 1', dimParam: 'string = 2', denotation: 'string = 3' }, { value: { oneof: ['dimValue', 'dimParam'] } }),
        TensorProto: message({
          dims: 'repeated int64 = 1',
          dataType: 'int32 = 2',
          segment: 'bytes = 3',
          floatData: 'repeated float = 4',
          int32Data: 'repeated int32 = 5',
          stringData: 'repeated bytes = 6',
          int64Data: 'repeated int64 = 7',
          name: 'string = 8',
          docString: 'string = 12',
          rawData: 'bytes = 9',
          externalData: 'repeated StringStringEntryProto = 13',
          dataLocation: 'int32 = 14',
          doubleData: 'repeated double = 10',
          uint64Data: 'repeated uint64 = 11',
        }),
      },
    },
  },
};

const root = protobuf.Root.fromJSON(descriptor);
export const ModelProtoType = root.lookupType('onnx.ModelProto');

/** A 64-bit integer as protobufjs decodes it (a Long when the `long` package is present). */
export type Int64 = number | { low: number; high: number; unsigned?: boolean; toNumber?: () => number };

export interface OperatorSetId { domain?: string; version?: Int64 }
export interface StringStringEntry { key?: string; value?: string }
export interface TensorProtoMsg {
  dims?: Int64[]; dataType?: number; segment?: Uint8Array; floatData?: number[]; int32Data?: number[]; stringData?: Uint8Array[];
  int64Data?: Int64[]; name?: string; docString?: string; rawData?: Uint8Array; externalData?: StringStringEntry[];
  dataLocation?: number; doubleData?: number[]; uint64Data?: Int64[];
}
export interface DimensionMsg { dimValue?: Int64; dimParam?: string }
export interface TypeProtoMsg {
  tensorType?: { elemType?: number; shape?: { dim?: DimensionMsg[] } };
  sequenceType?: Uint8Array; mapType?: Uint8Array; sparseTensorType?: Uint8Array; optionalType?: Uint8Array;
}
export interface ValueInfoMsg { name?: string; type?: TypeProtoMsg; docString?: string }
export interface AttributeMsg {
  name?: string; refAttrName?: string; type?: number; f?: number; i?: Int64; s?: Uint8Array; t?: TensorProtoMsg; g?: GraphMsg;
  floats?: number[]; ints?: Int64[]; strings?: Uint8Array[]; tensors?: TensorProtoMsg[]; graphs?: GraphMsg[];
}
export interface NodeMsg { input?: string[]; output?: string[]; name?: string; opType?: string; domain?: string; attribute?: AttributeMsg[] }
export interface GraphMsg {
  node?: NodeMsg[]; name?: string; initializer?: TensorProtoMsg[]; sparseInitializer?: Uint8Array[];
  input?: ValueInfoMsg[]; output?: ValueInfoMsg[]; valueInfo?: ValueInfoMsg[];
}
export interface ModelMsg {
  irVersion?: Int64; opsetImport?: OperatorSetId[]; producerName?: string; producerVersion?: string; domain?: string;
  modelVersion?: Int64; docString?: string; graph?: GraphMsg; metadataProps?: StringStringEntry[]; functions?: Uint8Array[];
}

/** ONNX TensorProto.DataType values seqgrad handles, and a few it names in errors. */
export const DataType = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9, FLOAT16: 10, DOUBLE: 11,
  UINT32: 12, UINT64: 13, COMPLEX64: 14, COMPLEX128: 15, BFLOAT16: 16,
} as const;

export const DATA_TYPE_NAMES: Record<number, string> = { 0: 'UNDEFINED', ...Object.fromEntries(Object.entries(DataType).map(([k, v]) => [v, k])) };

/** AttributeProto.AttributeType values. */
export const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8, TENSORS: 9, GRAPHS: 10 } as const;

/** A protobufjs 64-bit integer as a JS number; throws past 2^53 (no ONNX dimension is that large). */
export function int64ToNumber(v: Int64 | undefined | null): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v;
  if (typeof v.toNumber === 'function') return v.toNumber();
  return v.unsigned ? v.high * 4294967296 + (v.low >>> 0) : v.high * 4294967296 + (v.low >>> 0);
}

export function encodeModel(model: ModelMsg): Uint8Array {
  const msg = ModelProtoType.fromObject(model);
  return ModelProtoType.encode(msg).finish();
}

export function decodeModel(bytes: Uint8Array): ModelMsg {
  return ModelProtoType.toObject(ModelProtoType.decode(bytes), { defaults: false, arrays: true, longs: Number }) as ModelMsg;
}

/**
 * The ModelProto in `bytes` as a plain object (field names in camelCase, 64-bit integers as
 * numbers, tensor data as Uint8Array), to inspect or edit a graph before `importOnnx`. No
 * check beyond the protobuf wire format: `importOnnx` does the validation.
 *
 * @example
 * const model = decodeOnnxModel(bytes);
 * model.graph!.node!.map((n) => n.opType); // ['Gather', 'Transpose', 'LSTM', …]
 */
export function decodeOnnxModel(bytes: Uint8Array): ModelMsg {
  return decodeModel(bytes);
}

/** Serializes a ModelProto object (as `decodeOnnxModel` returns) back to bytes. */
export function encodeOnnxModel(model: ModelMsg): Uint8Array {
  return encodeModel(model);
}
