import { sum } from '@seqgrad/autograd';
import { type TfjsModelArtifacts, importTfjsLayers } from '@seqgrad/io';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { maxAbs } from '../setup/allclose.js';
import { asFiles, randomInput, randomizeWeights, saveArtifacts, tf, tfjsPredict, tfl } from './tfjs-helpers.js';

/**
 * Models built and saved by TensorFlow.js (CPU backend, float32) load into seqgrad and give
 * the same outputs to 1e-5, over random layer types, sizes and Keras options.
 */

const TOL = 1e-5;
type Cls = 'SimpleRNN' | 'LSTM' | 'GRU';
const MERGE = ['concat', 'sum', 'mul', 'ave'] as const;

const recurrentConfig = fc.record({
  cls: fc.constantFrom<Cls>('SimpleRNN', 'LSTM', 'GRU'),
  units: fc.integer({ min: 1, max: 5 }),
  returnSequences: fc.boolean(),
  bidirectional: fc.boolean(),
  mergeMode: fc.constantFrom(...MERGE),
  goBackwards: fc.boolean(),
  useBias: fc.boolean(),
  relu: fc.boolean(),
});
type RecurrentConfig = typeof recurrentConfig extends fc.Arbitrary<infer T> ? T : never;

/** A tfjs recurrent layer (sigmoid gates: seqgrad refuses hard_sigmoid, see tfjs-errors). */
function tfjsRecurrent(c: RecurrentConfig, returnSequences: boolean, extra: Record<string, unknown> = {}, outer: Record<string, unknown> = {}) {
  const args = {
    units: c.units, returnSequences, useBias: c.useBias, recurrentInitializer: 'glorotUniform' as const,
    goBackwards: c.bidirectional ? false : c.goBackwards, ...extra, ...(c.bidirectional ? {} : outer),
  };
  const layer = c.cls === 'SimpleRNN'
    ? tfl.layers.simpleRNN({ ...args, activation: c.relu ? 'relu' : 'tanh' })
    : c.cls === 'LSTM'
      ? tfl.layers.lstm({ ...args, recurrentActivation: 'sigmoid' })
      : tfl.layers.gru({ ...args, recurrentActivation: 'sigmoid' });
  return c.bidirectional ? tfl.layers.bidirectional({ layer: layer as never, mergeMode: c.mergeMode, ...outer }) : layer;
}

describe('importTfjsLayers: Sequential models saved by TensorFlow.js', () => {
  test('importTfjsLayers: random recurrent stacks agree with tf.LayersModel.predict to 1e-5', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          layers: fc.array(recurrentConfig, { minLength: 1, maxLength: 2 }),
          embedding: fc.option(fc.record({ vocab: fc.integer({ min: 2, max: 9 }), dim: fc.integer({ min: 1, max: 4 }) }), { nil: undefined }),
          dense: fc.option(fc.record({ units: fc.integer({ min: 1, max: 4 }), activation: fc.constantFrom('linear', 'relu', 'tanh', 'sigmoid', 'softmax') }), { nil: undefined }),
          activation: fc.option(fc.constantFrom('relu', 'tanh', 'sigmoid', 'softmax'), { nil: undefined }),
          dropout: fc.boolean(),
          I: fc.integer({ min: 1, max: 4 }),
          T: fc.integer({ min: 1, max: 6 }),
          B: fc.integer({ min: 1, max: 3 }),
          shards: fc.integer({ min: 1, max: 3 }),
          seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        }),
        async (c) => {
          const model = tfl.sequential();
          const first = c.embedding
            ? { batchInputShape: [null, c.T] as (number | null)[] }
            : { batchInputShape: [null, c.T, c.I] as (number | null)[] };
          if (c.embedding) model.add(tfl.layers.embedding({ inputDim: c.embedding.vocab, outputDim: c.embedding.dim, ...first }));
          c.layers.forEach((l, k) => {
            const last = k === c.layers.length - 1;
            const layer = tfjsRecurrent(l, last ? l.returnSequences : true, {}, k === 0 && !c.embedding ? first : {});
            model.add(layer as tfl.layers.Layer);
          });
          if (c.dropout) model.add(tfl.layers.dropout({ rate: 0.4 }));
          if (c.dense) model.add(tfl.layers.dense({ units: c.dense.units, activation: c.dense.activation }));
          if (c.activation) model.add(tfl.layers.activation({ activation: c.activation }));
          randomizeWeights(model, c.seed);
          const artifacts = await saveArtifacts(model);

          const x = randomInput(c.embedding ? [c.B, c.T] : [c.B, c.T, c.I], c.seed + 1, c.embedding?.vocab);
          const [want] = tfjsPredict(model, x);
          // Both forms: the artifacts a save handler gets, and model.json with its shards.
          const fromArtifacts = importTfjsLayers(artifacts);
          const fromFiles = importTfjsLayers(asFiles(artifacts, c.shards));
          expect(fromArtifacts.forward(x), 'from artifacts').toBeAllclose(want!, { rtol: 0, atol: TOL * maxAbs(want!) });
          expect(fromFiles.forward(x), `from files (${c.shards} shards)`).toBeAllclose(want!, { rtol: 0, atol: TOL * maxAbs(want!) });
          model.dispose();
        },
      ),
    );
  });

  test('importTfjsLayers: an Embedding model takes token ids as int32 or as whole floats, as Keras does', async () => {
    const model = tfl.sequential();
    model.add(tfl.layers.embedding({ inputDim: 5, outputDim: 3, batchInputShape: [null, 4] }));
    model.add(tfl.layers.lstm({ units: 2, recurrentActivation: 'sigmoid', recurrentInitializer: 'glorotUniform' }));
    randomizeWeights(model, 3);
    const seq = importTfjsLayers(await saveArtifacts(model));
    const ids = randomInput([2, 4], 4, 5);
    const [want] = tfjsPredict(model, ids);
    expect(seq.forward(ids), 'int32 ids').toBeAllclose(want!, { rtol: 0, atol: TOL * maxAbs(want!) });
    expect(seq.forward(ids.to('float32')), 'float ids').toBeAllclose(want!, { rtol: 0, atol: TOL * maxAbs(want!) });
  });

  test('importTfjsLayers: a model saved with its optimizer state loads (the optimizer weights are skipped)', async () => {
    const model = tfl.sequential();
    model.add(tfl.layers.simpleRNN({ units: 3, recurrentInitializer: 'glorotUniform', batchInputShape: [null, 4, 2] }));
    model.add(tfl.layers.dense({ units: 1 }));
    model.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
    const x = randomInput([3, 4, 2], 7);
    await model.fit(tf.tensor(Float32Array.from(x.data), [3, 4, 2]), tf.zeros([3, 1]), { epochs: 1, verbose: 0 });
    let artifacts: TfjsModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler(async (a) => {
      artifacts = a as unknown as TfjsModelArtifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }), { includeOptimizer: true });
    expect(artifacts!.weightSpecs.some((w) => w.group === 'optimizer')).toBe(true);
    const [want] = tfjsPredict(model, x);
    expect(importTfjsLayers(artifacts!).forward(x), 'with optimizer state').toBeAllclose(want!, { rtol: 0, atol: TOL * maxAbs(want!) });
  });

  test('importTfjsLayers: parameters arrive under the Keras layer names and train', async () => {
    const model = tfl.sequential();
    model.add(tfl.layers.gru({ units: 3, recurrentActivation: 'sigmoid', recurrentInitializer: 'glorotUniform', batchInputShape: [null, 5, 2], name: 'enc' }));
    model.add(tfl.layers.dense({ units: 1, name: 'head' }));
    randomizeWeights(model, 5);
    const seq = importTfjsLayers(await saveArtifacts(model));
    expect(seq.namedParameters().map(([n]) => n)).toEqual([
      'enc.weight_ih_l0', 'enc.weight_hh_l0', 'enc.bias_ih_l0', 'enc.bias_hh_l0', 'head.weight', 'head.bias',
    ]);
    sum(seq.forward(randomInput([2, 5, 2], 6))).backward();
    for (const [n, p] of seq.namedParameters()) expect(p.grad, n).not.toBeNull();
    expect(seq.training).toBe(false);
  });
});

describe('importTfjsLayers: functional models that are chains', () => {
  test('importTfjsLayers: return_state outputs (final h, c of each direction) agree with tfjs', async () => {
    await fc.assert(
      fc.asyncProperty(
        recurrentConfig, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), fc.boolean(), fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        async (c, I, T, dense, seed) => {
          const input = tfl.input({ shape: [T, I] });
          const outs = tfjsRecurrent(c, c.returnSequences, { returnState: true }).apply(input) as tfl.SymbolicTensor[];
          const head = dense ? (tfl.layers.dense({ units: 2, activation: 'tanh' }).apply(outs[0]!) as tfl.SymbolicTensor) : outs[0]!;
          const model = tfl.model({ inputs: input, outputs: [head, ...outs.slice(1)] });
          randomizeWeights(model, seed);
          const seq = importTfjsLayers(await saveArtifacts(model));
          const x = randomInput([2, T, I], seed + 1);
          const want = tfjsPredict(model, x);
          const got = seq.run(x);
          expect(got.length).toBe(want.length);
          got.forEach((g, k) => expect(g, `output ${k}`).toBeAllclose(want[k]!, { rtol: 0, atol: TOL * maxAbs(want[k]!) }));
          model.dispose();
        },
      ),
    );
  });
});
