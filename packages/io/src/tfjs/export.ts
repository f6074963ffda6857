import { SeqgradError, type Tensor } from '@seqgrad/autograd';
import { GRU, LSTM } from '@seqgrad/layers';
import type { TfjsModelArtifacts, TfjsModelJson, TfjsWeightSpec } from './format.js';
import { GRU_FROM_KERAS } from './import.js';
import { KerasModel, type KerasStep } from './model.js';

const OP = 'exportTfjsLayers';

/** Options of `exportTfjsLayers`. */
export interface ExportTfjsOptions {
  /** The shard's name in the manifest, relative to model.json (default 'weights.bin'). */
  weightsPath?: string;
}

/** A model in the TensorFlow.js layers format, as files and as `tf.io` artifacts. */
export interface TfjsLayersExport {
  /** The contents of model.json (serialise with `JSON.stringify`). */
  modelJson: TfjsModelJson;
  /** The one weight shard, stored beside model.json under `weightsPath`. */
  weightData: Uint8Array;
  /** The same model as `tf.io.fromMemory` takes it (`weightData` as an ArrayBuffer). */
  artifacts: TfjsModelArtifacts & { format: 'layers-model'; generatedBy: string; convertedBy: null; weightData: ArrayBuffer };
}

type Json = Record<string, unknown>;

/**
 * Writes a `KerasModel` in the TensorFlow.js layers format: a model.json (a Sequential
 * topology, or a functional `Model` chain when a layer returns states or the outputs are not
 * just the last layer's) and one float32 shard. Kernels are written transposed, GRU gate blocks
 * reordered r, z, n → z, r, h, and the two biases merged into Keras's one (GRU `resetAfter`
 * keeps both, as Keras's (2, 3H) bias with `reset_after: true`). Initializers are written as
 * seqgrad's own (uniform ±1/√H, ±1/√in; normal for embeddings).
 *
 * @example
 * const { modelJson, weightData, artifacts } = exportTfjsLayers(model);
 * const tfModel = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
 */
export function exportTfjsLayers(model: KerasModel, opts: ExportTfjsOptions = {}): TfjsLayersExport {
  if (!(model instanceof KerasModel)) {
    throw new SeqgradError(OP, `model must be a KerasModel (wrap seqgrad layers in new KerasModel([...])), got ${(model as object)?.constructor?.name ?? typeof model}`);
  }
  const weightsPath = opts.weightsPath ?? 'weights.bin';
  if (typeof weightsPath !== 'string' || weightsPath === '') throw new SeqgradError(OP, 'weightsPath must be a non-empty string');
  for (const p of model.parameters()) {
    if (p.dtype !== 'float32') throw new SeqgradError(OP, `parameter '${p.name ?? '?'}' is ${p.dtype}; the TensorFlow.js format stores float32: build the model in float32`);
  }

  const specs: TfjsWeightSpec[] = [];
  const chunks: Float32Array[] = [];
  const addWeight = (name: string, shape: number[], data: Float32Array) => {
    specs.push({ name, shape, dtype: 'float32' });
    chunks.push(data);
  };
  const batchInputShape = [null, ...model.inputShape];
  const functional = model.outputs.length !== 1 || model.outputs[0]![0] !== model.steps.length - 1 || model.outputs[0]![1] !== 0
    || model.steps.some((s) => s.kind === 'recurrent' && s.returnState);
  const layers = model.steps.map((s, i) => {
    const layer = layerJson(s, addWeight);
    if (i === 0 && !functional) (layer.config as Json).batch_input_shape = batchInputShape;
    return layer;
  });

  let topology: Json;
  if (!functional) {
    topology = { class_name: 'Sequential', config: { name: model.modelName, layers } };
  } else {
    let inputName = 'input';
    for (let k = 1; model.steps.some((s) => s.name === inputName); k++) inputName = `input_${k}`;
    const firstIsEmbedding = model.steps[0]!.kind === 'embedding';
    topology = {
      class_name: 'Model',
      config: {
        name: model.modelName,
        layers: [
          { name: inputName, class_name: 'InputLayer', config: { batch_input_shape: batchInputShape, dtype: firstIsEmbedding ? 'int32' : 'float32', sparse: false, name: inputName }, inbound_nodes: [] },
          ...layers.map((l, i) => ({ name: model.steps[i]!.name, ...l, inbound_nodes: [[[i === 0 ? inputName : model.steps[i - 1]!.name, 0, 0, {}]]] })),
        ],
        input_layers: [[inputName, 0, 0]],
        output_layers: model.outputs.map(([li, oi]) => [model.steps[li]!.name, 0, oi]),
      },
    };
  }

  const total = chunks.reduce((n, c) => n + c.length, 0);
  const weightData = new Uint8Array(4 * total);
  const view = new DataView(weightData.buffer);
  let at = 0;
  for (const c of chunks) for (let i = 0; i < c.length; i++, at += 4) view.setFloat32(at, c[i]!, true);

  const generatedBy = 'seqgrad @seqgrad/io';
  return {
    modelJson: { modelTopology: topology, format: 'layers-model', generatedBy, convertedBy: null, weightsManifest: [{ paths: [weightsPath], weights: specs }] },
    weightData,
    artifacts: { modelTopology: topology, format: 'layers-model', generatedBy, convertedBy: null, weightSpecs: specs, weightData: weightData.buffer },
  };
}

const uniform = (k: number) => ({ class_name: 'RandomUniform', config: { minval: -k, maxval: k, seed: null } });

/** (rows, cols) = the transpose of a row-major (cols, rows) tensor. */
function transposed(t: Tensor): Float32Array {
  const [rows, cols] = [t.shape[1]!, t.shape[0]!];
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = t.data[c * rows + r]!;
  return out;
}

function layerJson(s: KerasStep, addWeight: (name: string, shape: number[], data: Float32Array) => void): { class_name: string; config: Json } {
  const base = { name: s.name, trainable: !('module' in s) || s.module.parameters().every((p) => p.requiresGrad) };
  switch (s.kind) {
    case 'activation':
      return { class_name: 'Activation', config: { ...base, activation: s.activation } };
    case 'dropout':
      return { class_name: 'Dropout', config: { ...base, rate: s.module.p, noise_shape: null, seed: null } };
    case 'dense': {
      const m = s.module;
      addWeight(`${s.name}/kernel`, [m.inFeatures, m.outFeatures], transposed(m.weight));
      if (m.bias) addWeight(`${s.name}/bias`, [m.outFeatures], Float32Array.from(m.bias.data));
      const k = 1 / Math.sqrt(m.inFeatures);
      return {
        class_name: 'Dense',
        config: {
          ...base, units: m.outFeatures, activation: s.activation, use_bias: m.bias !== null,
          kernel_initializer: uniform(k), bias_initializer: uniform(k),
          kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null,
        },
      };
    }
    case 'embedding': {
      const m = s.module;
      if (m.paddingIdx !== undefined) {
        throw new SeqgradError(OP, `layer '${s.name}': Embedding has paddingIdx=${m.paddingIdx}, which Keras's Embedding cannot express (its row would train there)`);
      }
      addWeight(`${s.name}/embeddings`, [m.numEmbeddings, m.embeddingDim], Float32Array.from(m.weight.data));
      return {
        class_name: 'Embedding',
        config: {
          ...base, input_dim: m.numEmbeddings, output_dim: m.embeddingDim,
          embeddings_initializer: { class_name: 'RandomNormal', config: { mean: 0, stddev: 1, seed: null } },
          embeddings_regularizer: null, activity_regularizer: null, embeddings_constraint: null, mask_zero: false, input_length: null,
        },
      };
    }
    case 'recurrent':
      return recurrentJson(s, base, addWeight);
  }
}

function recurrentJson(
  s: Extract<KerasStep, { kind: 'recurrent' }>, base: { name: string; trainable: boolean },
  addWeight: (name: string, shape: number[], data: Float32Array) => void,
): { class_name: string; config: Json } {
  const m = s.module;
  const isLSTM = m instanceof LSTM;
  const isGRU = m instanceof GRU;
  const cls = isLSTM ? 'LSTM' : isGRU ? 'GRU' : 'SimpleRNN';
  const H = m.hiddenSize;
  const I = m.inputSize;
  const G = isLSTM ? 4 : isGRU ? 3 : 1;
  const order = isGRU ? GRU_FROM_KERAS : Array.from({ length: G }, (_, k) => k);
  const resetAfter = isGRU && m.resetAfter;
  const k = 1 / Math.sqrt(H);
  const innerName = s.mergeMode ? ({ SimpleRNN: 'simple_rnn', LSTM: 'lstm', GRU: 'gru' } as const)[cls] : s.name;
  const config: Json = {
    name: innerName, trainable: base.trainable, units: H,
    activation: cls === 'SimpleRNN' ? (m.mode === 'RNN_RELU' ? 'relu' : 'tanh') : 'tanh',
    ...(cls === 'SimpleRNN' ? {} : { recurrent_activation: 'sigmoid' }),
    use_bias: m.bias, kernel_initializer: uniform(k), recurrent_initializer: uniform(k), bias_initializer: uniform(k),
    ...(isLSTM ? { unit_forget_bias: false } : {}),
    kernel_regularizer: null, recurrent_regularizer: null, bias_regularizer: null, activity_regularizer: null,
    kernel_constraint: null, recurrent_constraint: null, bias_constraint: null,
    dropout: 0, recurrent_dropout: 0,
    ...(cls === 'SimpleRNN' ? {} : { implementation: 2 }),
    ...(isGRU ? { reset_after: resetAfter } : {}),
    return_sequences: s.returnSequences, return_state: s.returnState, go_backwards: s.goBackwards, stateful: false, unroll: false,
  };
  const prefixes = s.mergeMode ? [`${s.name}/forward_${innerName}`, `${s.name}/backward_${innerName}`] : [s.name];
  prefixes.forEach((prefix, d) => {
    const p = m.params[0]![d]!;
    const GH = G * H;
    const kernel = new Float32Array(I * GH);
    const recurrentKernel = new Float32Array(H * GH);
    const bias = new Float32Array(resetAfter ? 2 * GH : GH);
    for (let kb = 0; kb < G; kb++) {
      const to = order[kb]! * H; // Keras block order[kb] holds seqgrad block kb (the permutation is its own inverse)
      for (let r = 0; r < H; r++) {
        for (let i = 0; i < I; i++) kernel[i * GH + to + r] = p.weightIh.data[(kb * H + r) * I + i]!;
        for (let j = 0; j < H; j++) recurrentKernel[j * GH + to + r] = p.weightHh.data[(kb * H + r) * H + j]!;
        if (p.biasIh && p.biasHh) {
          const bi = p.biasIh.data[kb * H + r]!;
          const bh = p.biasHh.data[kb * H + r]!;
          if (resetAfter) {
            bias[to + r] = bi;
            bias[GH + to + r] = bh;
          } else {
            // One Keras bias: the two seqgrad biases add up everywhere except GRU's n gate
            // with the reset after the matmul, which keeps them apart above.
            bias[to + r] = bi + bh;
          }
        }
      }
    }
    addWeight(`${prefix}/kernel`, [I, GH], kernel);
    addWeight(`${prefix}/recurrent_kernel`, [H, GH], recurrentKernel);
    if (m.bias) addWeight(`${prefix}/bias`, resetAfter ? [2, GH] : [GH], bias);
  });
  if (!s.mergeMode) return { class_name: cls, config };
  return { class_name: 'Bidirectional', config: { ...base, layer: { class_name: cls, config }, merge_mode: s.mergeMode } };
}
