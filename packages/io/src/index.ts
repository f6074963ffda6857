/**
 * @seqgrad/io — models that travel: safetensors, ONNX and the TensorFlow.js layers format.
 * Bytes in, bytes out (browsers and Node alike); nothing read from a file is ever executed.
 */
// safetensors and module checkpoints

// ONNX
export * from './onnx/index.js';

// TensorFlow.js / Keras layers format
export {};
