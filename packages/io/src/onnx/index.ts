export { exportOnnx, ONNX_OPSET, type ExportOnnxOptions } from './export.js';
export { importOnnx, OnnxModule, MIN_OPSET, MAX_OPSET, type ImportOnnxOptions, type OnnxImport, type OnnxValueInfo } from './import.js';
export { Activation, type ActivationKind } from './activation.js';
export {
  decodeOnnxModel, encodeOnnxModel,
  type ModelMsg as OnnxModelProto, type GraphMsg as OnnxGraphProto, type NodeMsg as OnnxNodeProto, type TensorProtoMsg as OnnxTensorProto,
  type AttributeMsg as OnnxAttributeProto, type ValueInfoMsg as OnnxValueInfoProto,
} from './proto.js';
