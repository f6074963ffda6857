/**
 * The ONNX protobuf messages seqgrad reads and writes, as a protobufjs JSON descriptor written
 * from onnx/onnx.proto (IR version 9 fields). Encoding and decoding run in browsers and Node
 * alike: no .proto file is read at run time. Fields seqgrad refuses (external data, sparse
 * initializers, functions) are declared so their presence can be detected.
 */
import protobuf from 'protobufjs/light.js';

const repeated = 'repeated' as const;

const descriptor = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            opsetImport: { rule: repeated, type: 'OperatorSetIdProto', id: 8 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            domain: { type: 'string', id: 4 },
            modelVersion: { type: 'int64', id: 5 },
            docString: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            metadataProps: { rule: repeated, type: 'StringStringEntryProto', id: 14 },
            // FunctionProto messages: only their presence matters (model-local functions are refused).
            functions: { rule: repeated, type: 'bytes', id: 25 },
          },
        },
        OperatorSetIdProto: {
          fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } },
        },
        StringStringEntryProto: {
          fields: { key: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } },
        },
        GraphProto: {
          fields: {
            node: { rule: repeated, type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: repeated, type: 'TensorProto', id: 5 },
            sparseInitializer: { rule: repeated, type: 'bytes', id: 15 },
            docString: { type: 'string', id: 10 },
            input: { rule: repeated, type: 'ValueInfoProto', id: 11 },
            output: { rule: repeated, type: 'ValueInfoProto', id: 12 },
            valueInfo: { rule: repeated, type: 'ValueInfoProto', id: 13 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: repeated, type: 'string', id: 1 },
            output: { rule: repeated, type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            domain: { type: 'string', id: 7 },
            attribute: { rule: repeated, type: 'AttributeProto', id: 5 },
            docString: { type: 'string', id: 6 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            refAttrName: { type: 'string', id: 21 },
            docString: { type: 'string', id: 13 },
            type: { type: 'int32', id: 20 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            t: { type: 'TensorProto', id: 5 },
            g: { type: 'GraphProto', id: 6 },
            floats: { rule: repeated, type: 'float', id: 7 },
            ints: { rule: repeated, type: 'int64', id: 8 },
            strings: { rule: repeated, type: 'bytes', id: 9 },
            tensors: { rule: repeated, type: 'TensorProto', id: 10 },
            graphs: { rule: repeated, type: 'GraphProto', id: 11 },
          },
        },
        ValueInfoProto: {
          fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 }, docString: { type: 'string', id: 3 } },
        },
        TypeProto: {
          fields: {
            tensorType: { type: 'TypeProtoTensor', id: 1 },
            sequenceType: { type: 'bytes', id: 4 },
            mapType: { type: 'bytes', id: 5 },
            sparseTensorType: { type: 'bytes', id: 8 },
            optionalType: { type: 'bytes', id: 9 },
            denotation: { type: 'string', id: 6 },
          },
        },
        TypeProtoTensor: {
          fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } },
        },
        TensorShapeProto: {
          fields: { dim: { rule: repeated, type: 'Dimension', id: 1 } },
        },
        Dimension: {
          oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
          fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 }, denotation: { type: 'string', id: 3 } },
        },
        TensorProto: {
          fields: {
            dims: { rule: repeated, type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            segment: { type: 'bytes', id: 3 },
            floatData: { rule: repeated, type: 'float', id: 4 },
            int32Data: { rule: repeated, type: 'int32', id: 5 },
            stringData: { rule: repeated, type: 'bytes', id: 6 },
            int64Data: { rule: repeated, type: 'int64', id: 7 },
            name: { type: 'string', id: 8 },
            docString: { type: 'string', id: 12 },
            rawData: { type: 'bytes', id: 9 },
            externalData: { rule: repeated, type: 'StringStringEntryProto', id: 13 },
            dataLocation: { type: 'int32', id: 14 },
            doubleData: { rule: repeated, type: 'double', id: 10 },
            uint64Data: { rule: repeated, type: 'uint64', id: 11 },
          },
        },
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

export const DATA_TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(DataType).map(([k, v]) => [v, k]));

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
