/**
 * TensorFlow.js 4.22 as a benchmark peer: the cpu backend (plain JavaScript) and the wasm
 * backend (XNNPACK, SIMD), with the .wasm binaries loaded from the npm package on disk.
 */
import { createRequire, register } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

export { tf };

// tfjs-core's main bundle has no gradient functions; its ES-module build has them, registered
// into the same global registry that the bundle uses. Node needs a resolve hook to load them.
register(new URL(import.meta.url.includes('/dist/') ? '../../src/tfGradientsLoader.mjs' : './tfGradientsLoader.mjs', import.meta.url));
await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');

let wasmPathsSet = false;

/** Switches TF.js to `cpu` or `wasm` (single-threaded SIMD, like the seqgrad kernels). */
export async function useTfBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (name === 'wasm' && !wasmPathsSet) {
    const require = createRequire(import.meta.url);
    const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
    setWasmPaths(join(dist, '/'));
    // One thread: the comparison is kernel against kernel on one core.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    wasmPathsSet = true;
  }
  await tf.setBackend(name);
  await tf.ready();
}
