import { Generator, tensor } from '@seqgrad/autograd';
import { importTfjsLayers } from '@seqgrad/io';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { maxAbs } from '../setup/allclose.js';
import { randomInput, tf, tfjsPredict, tfl } from './tfjs-helpers.js';

/**
 * Keras GRU with reset_after=True (Keras's default since 2.3, PyTorch's placement) cannot be
 * built by TensorFlow.js 4.22, so these files are written here the way tensorflowjs_converter
 * writes a Keras model (model_config, cell names in the weight names, a (2, 3H) bias) and
 * checked against Keras's GRU equations computed directly in float64. The same reference,
 * run with reset_after=False, is first checked against tfjs itself, so its indexing is proven.
 */

interface GruWeights { kernel: Float32Array; recurrent: Float32Array; bias: Float32Array }

/** keras.layers.GRUCell.call (implementation 2): blocks z, r, h; h' = z h + (1 − z) hh. */
function kerasGru(x: Float32Array, B: number, T: number, I: number, H: number, w: GruWeights, o: { resetAfter: boolean; returnSequences: boolean; goBackwards: boolean }) {
  const G = 3 * H;
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    let h = new Float64Array(H);
    const seq: Float64Array[] = [];
    for (let k = 0; k < T; k++) {
      const t = o.goBackwards ? T - 1 - k : k;
      const mx = new Float64Array(G);
      const inner = new Float64Array(G);
      for (let j = 0; j < G; j++) {
        mx[j] = w.bias[j]!;
        for (let i = 0; i < I; i++) mx[j]! += x[(b * T + t) * I + i]! * w.kernel[i * G + j]!;
        inner[j] = o.resetAfter ? w.bias[G + j]! : 0;
        if (o.resetAfter || j < 2 * H) for (let i = 0; i < H; i++) inner[j]! += h[i]! * w.recurrent[i * G + j]!;
      }
      const next = new Float64Array(H);
      for (let u = 0; u < H; u++) {
        const z = sig(mx[u]! + inner[u]!);
        const r = sig(mx[H + u]! + inner[H + u]!);
        let rh: number;
        if (o.resetAfter) rh = r * inner[2 * H + u]!;
        else {
          rh = 0;
          for (let i = 0; i < H; i++) rh += sig(mx[H + i]! + inner[H + i]!) * h[i]! * w.recurrent[i * G + 2 * H + u]!;
        }
        const hh = Math.tanh(mx[2 * H + u]! + rh);
        next[u] = z * h[u]! + (1 - z) * hh;
      }
      h = next;
      seq.push(h);
    }
    if (o.returnSequences) for (const s of seq) out.push(...s);
    else out.push(...h);
  }
  return { shape: o.returnSequences ? [B, T, H] : [B, H], data: Float64Array.from(out) };
}

function convertedKerasFile(I: number, T: number, H: number, w: GruWeights, o: { returnSequences: boolean; goBackwards: boolean }) {
  const gru = {
    class_name: 'GRU',
    config: {
      name: 'gru', trainable: true, dtype: 'float32', return_sequences: o.returnSequences, return_state: false, go_backwards: o.goBackwards,
      stateful: false, unroll: false, time_major: false, units: H, activation: 'tanh', recurrent_activation: 'sigmoid', use_bias: true,
      kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } }, recurrent_initializer: { class_name: 'Orthogonal', config: { gain: 1.0, seed: null } },
      bias_initializer: { class_name: 'Zeros', config: {} }, kernel_regularizer: null, recurrent_regularizer: null, bias_regularizer: null,
      activity_regularizer: null, kernel_constraint: null, recurrent_constraint: null, bias_constraint: null, dropout: 0.0, recurrent_dropout: 0.0,
      implementation: 2, reset_after: true,
    },
  };
  const modelJson = {
    format: 'layers-model', generatedBy: 'keras v2.15.0', convertedBy: 'TensorFlow.js Converter v4.22.0',
    modelTopology: {
      keras_version: '2.15.0', backend: 'tensorflow',
      model_config: {
        class_name: 'Sequential',
        config: { name: 'sequential', layers: [{ class_name: 'InputLayer', config: { batch_input_shape: [null, T, I], dtype: 'float32', sparse: false, ragged: false, name: 'gru_input' } }, gru] },
      },
    },
    weightsManifest: [{
      paths: ['group1-shard1of1.bin'],
      weights: [
        { name: 'gru/gru_cell/kernel', shape: [I, 3 * H], dtype: 'float32' },
        { name: 'gru/gru_cell/recurrent_kernel', shape: [H, 3 * H], dtype: 'float32' },
        { name: 'gru/gru_cell/bias', shape: [2, 3 * H], dtype: 'float32' },
      ],
    }],
  };
  const bytes = new Uint8Array(4 * (w.kernel.length + w.recurrent.length + w.bias.length));
  const f = new Float32Array(bytes.buffer);
  f.set(w.kernel);
  f.set(w.recurrent, w.kernel.length);
  f.set(w.bias, w.kernel.length + w.recurrent.length);
  return { modelJson: JSON.stringify(modelJson), weights: { 'group1-shard1of1.bin': bytes } };
}

const gruCase = fc.record({
  H: fc.integer({ min: 1, max: 5 }), I: fc.integer({ min: 1, max: 4 }), T: fc.integer({ min: 1, max: 6 }), B: fc.integer({ min: 1, max: 3 }),
  returnSequences: fc.boolean(), goBackwards: fc.boolean(), seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

function randomWeights(I: number, H: number, biasRows: number, seed: number): GruWeights {
  const g = new Generator(seed);
  const u = (n: number) => Float32Array.from({ length: n }, () => 2 * g.uniform() - 1);
  return { kernel: u(I * 3 * H), recurrent: u(H * 3 * H), bias: u(biasRows * 3 * H) };
}

test('importTfjsLayers: the Keras GRU reference (reset_after=False) agrees with tfjs, so its indexing is right', async () => {
  await fc.assert(
    fc.asyncProperty(gruCase, async (c) => {
      const w = randomWeights(c.I, c.H, 1, c.seed);
      const model = tfl.sequential();
      model.add(tfl.layers.gru({
        units: c.H, recurrentActivation: 'sigmoid', returnSequences: c.returnSequences, goBackwards: c.goBackwards,
        recurrentInitializer: 'glorotUniform', batchInputShape: [null, c.T, c.I],
      }));
      model.setWeights([tf.tensor(w.kernel, [c.I, 3 * c.H]), tf.tensor(w.recurrent, [c.H, 3 * c.H]), tf.tensor(w.bias, [3 * c.H])]);
      const x = randomInput([c.B, c.T, c.I], c.seed + 1);
      const [want] = tfjsPredict(model, x);
      const ref = kerasGru(x.data as Float32Array, c.B, c.T, c.I, c.H, w, { ...c, resetAfter: false });
      expect(tensor(Float32Array.from(ref.data), { shape: ref.shape }), 'reference vs tfjs').toBeAllclose(want!, { rtol: 0, atol: 1e-5 * maxAbs(want!) });
      model.dispose();
    }),
  );
});

test('importTfjsLayers: a converted Keras GRU with reset_after=True agrees with Keras\'s equations to 1e-5', () => {
  fc.assert(
    fc.property(gruCase, (c) => {
      const w = randomWeights(c.I, c.H, 2, c.seed);
      const model = importTfjsLayers(convertedKerasFile(c.I, c.T, c.H, w, c));
      const x = randomInput([c.B, c.T, c.I], c.seed + 1);
      const want = kerasGru(x.data as Float32Array, c.B, c.T, c.I, c.H, w, { ...c, resetAfter: true });
      expect(model.forward(x), 'seqgrad vs Keras equations').toBeAllclose(want, { rtol: 0, atol: 1e-5 * maxAbs(want) });
      expect(model.steps[0]!.kind === 'recurrent' && model.steps[0]!.module.resetAfter).toBe(true);
    }),
  );
});
