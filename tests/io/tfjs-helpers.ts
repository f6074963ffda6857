import { Generator, type Tensor as SgTensor, tensor } from '@seqgrad/autograd';
import type { TfjsModelArtifacts } from '@seqgrad/io';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';

/** TensorFlow.js on its CPU backend (float32), the reference the TF.js tests compare against. */
await tf.setBackend('cpu');
export { tf, tfl };

/** What `model.save` hands a save handler, captured in memory. */
export async function saveArtifacts(model: tfl.LayersModel): Promise<TfjsModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => {
    saved = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return saved as unknown as TfjsModelArtifacts;
}

/** Sets every weight of a tfjs model to U(−scale, scale) from a seeded generator. */
export function randomizeWeights(model: tfl.LayersModel, seed: number, scale = 0.6): void {
  const g = new Generator(seed);
  model.setWeights(model.getWeights().map((w) => tf.tensor(Float32Array.from({ length: w.size }, () => (2 * g.uniform() - 1) * scale), w.shape)));
}

/** A seeded random input: floats U(−1, 1), or integer token ids below `vocab`. */
export function randomInput(shape: number[], seed: number, vocab?: number): SgTensor {
  const g = new Generator(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  if (vocab !== undefined) return tensor(Int32Array.from({ length: n }, () => Math.floor(g.uniform() * vocab)), { shape, dtype: 'int32' });
  return tensor(Float32Array.from({ length: n }, () => 2 * g.uniform() - 1), { shape });
}

/** tfjs's prediction for a seqgrad input, as a list of { shape, data } (one per model output). */
export function tfjsPredict(model: tfl.LayersModel, x: SgTensor): { shape: number[]; data: Float32Array }[] {
  const input = tf.tensor(Float32Array.from(x.data), [...x.shape]);
  const y = model.predict(input) as tf.Tensor | tf.Tensor[];
  const out = (Array.isArray(y) ? y : [y]).map((t) => ({ shape: t.shape, data: t.dataSync() as Float32Array }));
  tf.dispose([input, ...(Array.isArray(y) ? y : [y])]);
  return out;
}

/** The artifacts as files: model.json text and its shards, the weights split over `shards` files. */
export function asFiles(a: TfjsModelArtifacts, shards = 1): { modelJson: string; weights: Record<string, Uint8Array> } {
  const all = new Uint8Array(a.weightData as ArrayBuffer);
  const size = Math.ceil(all.byteLength / shards);
  const paths: string[] = [];
  const weights: Record<string, Uint8Array> = {};
  for (let k = 0; k < shards; k++) {
    const p = `group1-shard${k + 1}of${shards}.bin`;
    paths.push(p);
    weights[p] = all.slice(k * size, Math.min(all.byteLength, (k + 1) * size));
  }
  const modelJson = JSON.stringify({
    modelTopology: a.modelTopology, format: a.format, generatedBy: a.generatedBy, convertedBy: a.convertedBy,
    weightsManifest: [{ paths, weights: a.weightSpecs }],
  });
  return { modelJson, weights };
}
