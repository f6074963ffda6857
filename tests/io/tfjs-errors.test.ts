import { SeqgradError } from '@seqgrad/autograd';
import { type TfjsModelArtifacts, importTfjsLayers } from '@seqgrad/io';
import { beforeAll, describe, expect, test } from 'vitest';
import { asFiles, randomizeWeights, saveArtifacts, tfl } from './tfjs-helpers.js';

/**
 * Bad files and unsupported models are refused with one error that says what is wrong, before
 * any weight is allocated; nothing is silently changed (hard_sigmoid, dropout, masking, ...).
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

let base: TfjsModelArtifacts;
beforeAll(async () => {
  const model = tfl.sequential();
  model.add(tfl.layers.lstm({ units: 2, recurrentActivation: 'sigmoid', recurrentInitializer: 'glorotUniform', batchInputShape: [null, 4, 3], name: 'lstm' }));
  model.add(tfl.layers.dense({ units: 1, name: 'dense' }));
  randomizeWeights(model, 1);
  base = await saveArtifacts(model);
});

/** The base model as files, with model.json edited by `edit`. */
function files(edit: (json: Json) => void = () => {}, shards = 1): { modelJson: string; weights: Record<string, Uint8Array> } {
  const f = asFiles(base, shards);
  const json = JSON.parse(f.modelJson) as Json;
  edit(json);
  return { modelJson: JSON.stringify(json), weights: f.weights };
}
const lstmConfig = (j: Json) => j.modelTopology.config.layers[0].config;

function refused(source: unknown, message: RegExp): void {
  let error: unknown;
  try {
    importTfjsLayers(source as TfjsModelArtifacts);
  } catch (e) {
    error = e;
  }
  expect(error, 'no error').toBeInstanceOf(SeqgradError);
  expect((error as Error).message).toMatch(/^importTfjsLayers: /);
  expect((error as Error).message).toMatch(message);
}

describe('importTfjsLayers: bad files', () => {
  test('importTfjsLayers: the unedited file loads (the baseline of the cases below)', () => {
    expect(importTfjsLayers(files()).steps.map((s) => s.name)).toEqual(['lstm', 'dense']);
  });

  test('importTfjsLayers: a truncated shard is refused with the bytes it holds and needs', () => {
    const f = files();
    const p = 'group1-shard1of1.bin';
    f.weights[p] = f.weights[p]!.slice(0, f.weights[p]!.byteLength - 4);
    refused(f, /weightsManifest\[0\] \('group1-shard1of1\.bin'\) holds 200 bytes but its weights \[lstm\/kernel\[3,8\], .*\] need 204 bytes \(float32\): the shard is truncated/);
  });

  test('importTfjsLayers: artifacts whose weightData is shorter than the weight specs are refused', () => {
    refused({ ...base, weightData: (base.weightData as ArrayBuffer).slice(0, 40) }, /artifacts\.weightData holds 40 bytes but its weights .* need 204 bytes \(float32\): the shard is truncated/);
  });

  test('importTfjsLayers: a shard longer than its manifest says is refused', () => {
    const f = files();
    const p = 'group1-shard1of1.bin';
    f.weights[p] = new Uint8Array([...f.weights[p]!, 0, 0, 0, 0]);
    refused(f, /holds 208 bytes but its weights .* need 204 bytes/);
  });

  test('importTfjsLayers: a weight shorter than its layer needs is refused with both shapes', () => {
    // The manifest is consistent with the shard (the last 8 floats dropped), but the kernel is too short for the LSTM.
    const f = files((j) => {
      j.weightsManifest[0].weights[0].shape = [3, 4];
    });
    const p = 'group1-shard1of1.bin';
    f.weights[p] = new Uint8Array([...f.weights[p]!.slice(0, 48), ...f.weights[p]!.slice(96)]);
    refused(f, /layer 'lstm' \(LSTM\): weight kernel\[3,4\] must have shape \[3,8\]/);
  });

  test('importTfjsLayers: a shard the caller did not give is named with the ones given', () => {
    refused({ modelJson: files().modelJson, weights: { 'other.bin': new Uint8Array(120) } }, /weightsManifest\[0\] names shard 'group1-shard1of1\.bin', which is not among the weights given \('other\.bin'\)/);
  });

  test('importTfjsLayers: model.json that is not JSON, or not a layers model, is refused', () => {
    refused({ modelJson: '{"modelTopology": ', weights: {} }, /modelJson is not valid JSON/);
    refused(files((j) => { j.format = 'graph-model'; }), /modelJson\.format is "graph-model"; only 'layers-model'/);
    refused(files((j) => { j.modelTopology.class_name = 'Bogus'; }), /modelTopology\.class_name "Bogus" is not a layers model/);
  });

  test('importTfjsLayers: manifest entries with a bad shape, dtype, quantization or a repeated name are refused', () => {
    refused(files((j) => { j.weightsManifest[0].weights[0].shape = [3, -8]; }), /weight 'lstm\/kernel': shape must be a list of non-negative integers/);
    refused(files((j) => { j.weightsManifest[0].weights[0].dtype = 'int32'; }), /weight 'lstm\/kernel' has dtype "int32"; only float32/);
    refused(files((j) => { j.weightsManifest[0].weights[0].quantization = { dtype: 'uint8', scale: 1, min: 0 }; }), /weight 'lstm\/kernel' is quantized/);
    refused(files((j) => { j.weightsManifest[0].weights[1].name = 'lstm/kernel'; j.weightsManifest[0].weights[1].shape = [3, 8]; j.weightsManifest[0].weights[0].shape = [2, 8]; }), /weight 'lstm\/kernel' appears twice/);
    refused(files((j) => { j.weightsManifest[0].weights[0].shape = [2 ** 20, 2 ** 20]; }), /is larger than 536870912 elements/);
  });

  test('importTfjsLayers: a weight no layer uses, or a layer without its weight, is refused', () => {
    refused(files((j) => { j.weightsManifest[0].weights[4].name = 'extra/bias'; }), /layer 'dense' \(Dense\): the manifest has no weight 'dense\/bias'/);
    refused(files((j) => { j.modelTopology.config.layers[1].config.use_bias = false; }), /the weights 'dense\/bias' belong to no layer of the model/);
  });
});

describe('importTfjsLayers: unsupported layers and options', () => {
  test('importTfjsLayers: an unknown layer class is refused with its name', () => {
    refused(files((j) => { j.modelTopology.config.layers[1].class_name = 'Conv1D'; }), /layer 'dense' \(Conv1D\): unknown or unsupported layer class 'Conv1D'/);
  });

  test('importTfjsLayers: hard_sigmoid (TensorFlow.js\'s default recurrent activation) is refused, never replaced', async () => {
    const model = tfl.sequential();
    model.add(tfl.layers.gru({ units: 2, recurrentInitializer: 'glorotUniform', batchInputShape: [null, 4, 3] }));
    const a = await saveArtifacts(model);
    refused(a, /layer 'gru_GRU\d+' \(GRU\): recurrent_activation 'hard_sigmoid' is not supported/);
    refused(files((j) => { j.modelTopology.config.layers[1].config.activation = 'hard_sigmoid'; }), /layer 'dense' \(Dense\): activation 'hard_sigmoid' is not supported/);
  });

  test('importTfjsLayers: a missing recurrent_activation is refused (Keras and TensorFlow.js default differently)', () => {
    refused(files((j) => { delete lstmConfig(j).recurrent_activation; }), /layer 'lstm' \(LSTM\): recurrent_activation is missing/);
  });

  test('importTfjsLayers: options seqgrad does not implement are refused naming the layer and the option', () => {
    const cases: [(j: Json) => void, RegExp][] = [
      [(j) => { lstmConfig(j).activation = 'relu'; }, /layer 'lstm' \(LSTM\): activation "relu" is not supported \(supported here: tanh\)/],
      [(j) => { lstmConfig(j).recurrent_dropout = 0.2; }, /layer 'lstm' \(LSTM\): recurrent_dropout=0\.2 is not supported/],
      [(j) => { lstmConfig(j).dropout = 0.1; }, /layer 'lstm' \(LSTM\): dropout=0\.1 is not supported/],
      [(j) => { lstmConfig(j).stateful = true; }, /layer 'lstm' \(LSTM\): stateful=true is not supported/],
      [(j) => { lstmConfig(j).kernel_constraint = { class_name: 'MaxNorm', config: { max_value: 2, axis: 0 } }; }, /layer 'lstm' \(LSTM\): kernel_constraint .* is not supported/],
      [(j) => { lstmConfig(j).kernel_regularizer = { class_name: 'L1L2', config: { l1: 0, l2: 0.01 } }; }, /layer 'lstm' \(LSTM\): kernel_regularizer .* is not supported/],
      [(j) => { lstmConfig(j).some_future_option = 3; }, /layer 'lstm' \(LSTM\): option 'some_future_option' = 3 is not supported/],
      [(j) => { j.modelTopology.config.layers[1].config.activation = 'elu'; }, /layer 'dense' \(Dense\): activation "elu" is not supported/],
      [(j) => { lstmConfig(j).dtype = 'float16'; }, /layer 'lstm' \(LSTM\): dtype "float16" is not supported/],
    ];
    for (const [edit, message] of cases) refused(files(edit), message);
  });

  test('importTfjsLayers: masking, merge_mode null and go_backwards inside Bidirectional are refused', async () => {
    const emb = tfl.sequential();
    emb.add(tfl.layers.embedding({ inputDim: 5, outputDim: 2, maskZero: true, batchInputShape: [null, 3] }));
    refused(await saveArtifacts(emb), /\(Embedding\): mask_zero=true \(masking\) is not supported/);

    const bi = tfl.sequential();
    bi.add(tfl.layers.bidirectional({ layer: tfl.layers.simpleRNN({ units: 2, recurrentInitializer: 'glorotUniform' }) as never, batchInputShape: [null, 4, 3] }));
    const a = await saveArtifacts(bi);
    const edited = (f: (cfg: Json) => void) => {
      const topology = JSON.parse(JSON.stringify(a.modelTopology)) as Json;
      f(topology.config.layers[0].config);
      return { ...a, modelTopology: topology };
    };
    refused(edited((c) => { c.merge_mode = null; }), /\(Bidirectional\): merge_mode null is not supported \(concat, sum, mul or ave\)/);
    refused(edited((c) => { c.layer.config.go_backwards = true; }), /wrapped layer '.*' \(SimpleRNN\): go_backwards=true inside Bidirectional is not supported/);
    refused(edited((c) => { c.layer.class_name = 'ConvLSTM2D'; }), /unknown or unsupported layer class 'ConvLSTM2D' \(Bidirectional wraps SimpleRNN, LSTM or GRU\)/);
  });

  test('importTfjsLayers: a functional model that is not a chain is refused', async () => {
    const input = tfl.input({ shape: [4, 3] });
    const a = tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor;
    const b = tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor;
    const twice = tfl.layers.add().apply([a, a]) as tfl.SymbolicTensor;
    refused(await saveArtifacts(tfl.model({ inputs: input, outputs: twice })), /layer 'add_Add\d+' \(Add\) takes 2 inputs; only a linear chain of layers, each called once on one tensor, is supported/);
    const branches = tfl.model({ inputs: input, outputs: [a, b] });
    refused(await saveArtifacts(branches), /'input\d+' feeds two layers; only a linear chain is supported/);
  });
});
