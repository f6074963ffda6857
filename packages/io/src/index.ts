/**
 * @seqgrad/io — models that travel: safetensors, ONNX and the TensorFlow.js layers format.
 * Bytes in, bytes out (browsers and Node alike); nothing read from a file is ever executed.
 */
// safetensors and module checkpoints
export {
  type SafetensorsDType, type TensorSpec, type HeaderEntry, type SafetensorsHeader, type LoadSafetensorsOptions, type LoadedSafetensors,
  SafetensorsError, MAX_HEADER_BYTES, saveSafetensors, loadSafetensors, readSafetensorsHeader,
} from './safetensors.js';
export { type JsonValue, type LoadModuleOptions, MODULE_FORMAT, saveModule, loadModule } from './module.js';

// ONNX
export * from './onnx/index.js';

// TensorFlow.js / Keras layers format
export * from './tfjs/index.js';
