export { exportOnnx, ONNX_OPSET, type ExportOnnxOptions } from './export.js';
export { importOnnx, OnnxModule, MIN_OPSET, MAX_OPSET, type ImportOnnxOptions, type OnnxImport, type OnnxValueInfo } from './import.js';
export { Activation, type ActivationKind } from './activation.js';
