import { Generator } from '@seqgrad/autograd';
import { KerasModel, type KerasLayerSpec, type KerasMergeMode, exportTfjsLayers, importTfjsLayers } from '@seqgrad/io';
import { Dropout, Embedding, GRU, LSTM, Linear, RNN } from '@seqgrad/layers';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { maxAbs } from '../setup/allclose.js';
import { randomInput, tf, tfjsPredict, tfl } from './tfjs-helpers.js';

/**
 * seqgrad models exported with exportTfjsLayers load into TensorFlow.js with
 * tf.loadLayersModel(tf.io.fromMemory(...)) and give seqgrad's outputs to 1e-5; exports read
 * back by importTfjsLayers give the same model (GRU resetAfter included, which tfjs 4.22 refuses).
 */

const TOL = 1e-5;
const MERGE: KerasMergeMode[] = ['concat', 'sum', 'mul', 'ave'];

const layerConfig = fc.record({
  cls: fc.constantFrom('RNN', 'LSTM', 'GRU'),
  units: fc.integer({ min: 1, max: 5 }),
  returnSequences: fc.boolean(),
  returnState: fc.boolean(),
  bidirectional: fc.boolean(),
  mergeMode: fc.constantFrom(...MERGE),
  goBackwards: fc.boolean(),
  bias: fc.boolean(),
  relu: fc.boolean(),
  resetAfter: fc.boolean(),
});
type LayerConfig = typeof layerConfig extends fc.Arbitrary<infer T> ? T : never;

const modelConfig = fc.record({
  layers: fc.array(layerConfig, { minLength: 1, maxLength: 2 }),
  embedding: fc.option(fc.record({ vocab: fc.integer({ min: 2, max: 9 }), dim: fc.integer({ min: 1, max: 4 }) }), { nil: undefined }),
  dense: fc.option(fc.record({ units: fc.integer({ min: 1, max: 4 }), activation: fc.constantFrom('linear', 'relu', 'tanh', 'sigmoid', 'softmax') as fc.Arbitrary<'linear'> }), { nil: undefined }),
  activation: fc.option(fc.constantFrom('relu', 'tanh', 'sigmoid', 'softmax') as fc.Arbitrary<'relu'>, { nil: undefined }),
  dropout: fc.boolean(),
  I: fc.integer({ min: 1, max: 4 }),
  T: fc.integer({ min: 1, max: 6 }),
  B: fc.integer({ min: 1, max: 3 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});
type ModelConfig = typeof modelConfig extends fc.Arbitrary<infer T> ? T : never;

/** A random seqgrad KerasModel; `tfjsOnly` keeps to what tfjs 4.22 can load (GRU reset before the matmul). */
function buildModel(c: ModelConfig, tfjsOnly: boolean): KerasModel {
  const generator = new Generator(c.seed);
  const specs: KerasLayerSpec[] = [];
  let features = c.I;
  if (c.embedding) {
    specs.push({ layer: new Embedding(c.embedding.vocab, c.embedding.dim, { generator }) });
    features = c.embedding.dim;
  }
  c.layers.forEach((l: LayerConfig, k) => {
    const last = k === c.layers.length - 1;
    const opts = { bias: l.bias, bidirectional: l.bidirectional, generator };
    const layer = l.cls === 'RNN'
      ? new RNN(features, l.units, { ...opts, nonlinearity: l.relu ? 'relu' : 'tanh' })
      : l.cls === 'LSTM' ? new LSTM(features, l.units, opts) : new GRU(features, l.units, { ...opts, resetAfter: tfjsOnly ? false : l.resetAfter });
    specs.push({
      layer, returnSequences: last ? l.returnSequences : true, returnState: l.returnState,
      goBackwards: !l.bidirectional && l.goBackwards, ...(l.bidirectional ? { mergeMode: l.mergeMode } : {}),
    });
    features = l.bidirectional && l.mergeMode === 'concat' ? 2 * l.units : l.units;
  });
  if (c.dropout) specs.push({ layer: new Dropout(0.3) });
  if (c.dense) specs.push({ layer: new Linear(features, c.dense.units, { generator }), activation: c.dense.activation });
  if (c.activation) specs.push({ activation: c.activation });
  // With returnState somewhere, the model returns the states as well (a functional model).
  const outputs: [number, number][] = [[specs.length - 1, 0]];
  const offset = c.embedding ? 1 : 0;
  c.layers.forEach((l, k) => {
    if (!l.returnState) return;
    const n = (l.bidirectional ? 2 : 1) * (l.cls === 'LSTM' ? 2 : 1);
    for (let s = 1; s <= n; s++) outputs.push([offset + k, s]);
  });
  return new KerasModel(specs, { inputShape: c.embedding ? [c.T] : [c.T, c.I], outputs }).eval();
}

describe('exportTfjsLayers: seqgrad models load into TensorFlow.js', () => {
  test('exportTfjsLayers: tf.loadLayersModel(tf.io.fromMemory(artifacts)) agrees with seqgrad to 1e-5 on random models', async () => {
    await fc.assert(
      fc.asyncProperty(modelConfig, async (c) => {
        const model = buildModel(c, true);
        const x = randomInput(c.embedding ? [c.B, c.T] : [c.B, c.T, c.I], c.seed + 1, c.embedding?.vocab);
        const want = model.run(x);
        const { artifacts } = exportTfjsLayers(model);
        const tfModel = await tfl.loadLayersModel(tf.io.fromMemory(artifacts as unknown as tf.io.ModelArtifacts));
        const got = tfjsPredict(tfModel, x);
        expect(got.length).toBe(want.length);
        got.forEach((g, k) => expect(want[k], `output ${k}`).toBeAllclose(g, { rtol: 0, atol: TOL * maxAbs(g) }));
        tfModel.dispose();
      }),
    );
  });

  test('exportTfjsLayers: the export reads back through importTfjsLayers as the same model (GRU resetAfter too)', () => {
    fc.assert(
      fc.property(modelConfig, (c) => {
        const model = buildModel(c, false);
        const x = randomInput(c.embedding ? [c.B, c.T] : [c.B, c.T, c.I], c.seed + 1, c.embedding?.vocab);
        const { modelJson, weightData } = exportTfjsLayers(model, { weightsPath: 'm.bin' });
        const back = importTfjsLayers({ modelJson: JSON.stringify(modelJson), weights: { 'm.bin': weightData } });
        const want = model.run(x);
        const got = back.run(x);
        expect(got.length).toBe(want.length);
        got.forEach((g, k) => expect(g, `output ${k}`).toBeAllclose(want[k]!, { rtol: 0, atol: TOL * maxAbs(want[k]!) }));
        expect(back.steps.map((s) => s.name)).toEqual(model.steps.map((s) => s.name));
      }),
    );
  });

  test('exportTfjsLayers: GRU resetAfter writes Keras reset_after=true with the (2, 3H) bias; one bias otherwise', () => {
    const after = exportTfjsLayers(new KerasModel([{ layer: new GRU(2, 3, { resetAfter: true }) }])).modelJson;
    const before = exportTfjsLayers(new KerasModel([{ layer: new GRU(2, 3, { resetAfter: false }) }])).modelJson;
    const cfg = (j: typeof after) => ((j.modelTopology.config as { layers: { config: Record<string, unknown> }[] }).layers[0]!.config);
    expect(cfg(after).reset_after).toBe(true);
    expect(cfg(before).reset_after).toBe(false);
    expect(cfg(after).recurrent_activation).toBe('sigmoid');
    expect(after.weightsManifest[0]!.weights.map((w) => w.shape)).toEqual([[2, 9], [3, 9], [2, 9]]);
    expect(before.weightsManifest[0]!.weights.map((w) => w.shape)).toEqual([[2, 9], [3, 9], [9]]);
  });

  test('exportTfjsLayers: frozen parameters travel as trainable: false and come back frozen', async () => {
    const model = new KerasModel([{ layer: new LSTM(2, 3), name: 'enc' }, { layer: new Linear(3, 1), name: 'head' }]);
    for (const p of model.steps[0]!.kind === 'recurrent' ? model.steps[0]!.module.parameters() : []) p.requiresGrad = false;
    const { modelJson, artifacts } = exportTfjsLayers(model);
    const layers = (modelJson.modelTopology.config as { layers: { config: { trainable: boolean } }[] }).layers;
    expect(layers.map((l) => l.config.trainable)).toEqual([false, true]);
    const tfModel = await tfl.loadLayersModel(tf.io.fromMemory(artifacts as unknown as tf.io.ModelArtifacts));
    expect(tfModel.layers.map((l) => l.trainable)).toEqual([false, true]);
    const back = importTfjsLayers(artifacts);
    expect(back.namedParameters().map(([n, p]) => [n, p.requiresGrad])).toEqual([
      ['enc.weight_ih_l0', false], ['enc.weight_hh_l0', false], ['enc.bias_ih_l0', false], ['enc.bias_hh_l0', false],
      ['head.weight', true], ['head.bias', true],
    ]);
  });

  test('exportTfjsLayers: refuses what Keras layers cannot express, naming it', () => {
    expect(() => new KerasModel([{ layer: new LSTM(2, 3, { numLayers: 2 }) }])).toThrow(/numLayers=2; Keras layers hold one layer each/);
    expect(() => new KerasModel([{ layer: new LSTM(2, 3, { projSize: 2 }) }])).toThrow(/projSize=2; Keras's LSTM has no projection/);
    expect(() => new KerasModel([{ layer: new GRU(2, 3, { batchFirst: false }) }])).toThrow(/batchFirst=false; Keras layers are batch-first/);
    expect(() => new KerasModel([{ layer: new LSTM(2, 3), returnSequences: true }, { layer: new Linear(4, 1) }])).toThrow(/'dense' \(Dense\(1, linear\)\) takes inFeatures=4 features but gets \(B, ·, 3\)/);
    expect(() => exportTfjsLayers(new KerasModel([{ layer: new Embedding(5, 2, { paddingIdx: 0 }) }]))).toThrow(/exportTfjsLayers: layer 'embedding': Embedding has paddingIdx=0/);
    expect(() => exportTfjsLayers(new KerasModel([{ layer: new RNN(2, 3, { dtype: 'float64' }) }]))).toThrow(/exportTfjsLayers: parameter 'weight_ih_l0' is float64/);
  });
});
