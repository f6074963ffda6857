import { SeqgradError, type Tensor, fmt, noGrad } from '@seqgrad/autograd';
import { Dropout, Embedding, GRU, LSTM, Linear, RNN } from '@seqgrad/layers';
import { type RawWeight, type TfjsLayersSource, isObject, readTfjsSource } from './format.js';
import { type KerasActivation, type KerasLayerSpec, type KerasMergeMode, KerasModel } from './model.js';

const OP = 'importTfjsLayers';

type Config = Record<string, unknown>;

/** A Keras layer as written in the topology: class, config, and (functional models) its inputs. */
interface LayerJson {
  className: string;
  config: Config;
  inbound: unknown;
}

/** Options of `importTfjsLayers`. */
export interface ImportTfjsOptions {
  /** Which implementation the recurrent layers use (see `RNNBaseOptions.impl`); default 'fused'. */
  impl?: 'fused' | 'composed';
}

/**
 * Reads a TensorFlow.js layers model (`model.json` plus its weight shards, or the artifacts
 * a `tf.io` save handler receives) into a `KerasModel` of seqgrad modules with the same
 * weights and Keras's call semantics, in eval mode.
 *
 * Supported: Sequential models and functional models that are a chain of `InputLayer`,
 * `SimpleRNN`, `LSTM`, `GRU` (`reset_after` true or false), `Bidirectional` (merge modes
 * concat, sum, mul, ave), `Dense`, `Embedding`, `Activation` and `Dropout`, with the
 * activations linear, relu, tanh, sigmoid, softmax. Everything else — another layer class,
 * `hard_sigmoid`, a constraint or regularizer, dropout inside a recurrent layer, `stateful`,
 * masking — is refused with an error naming the layer and the option. The file is data:
 * every size is checked against the manifest before anything is allocated.
 *
 * @example
 * const model = importTfjsLayers({ modelJson, weights: { 'group1-shard1of1.bin': bytes } });
 * const y = model.forward(x); // x: (B, T, I), batch first as in Keras
 */
export function importTfjsLayers(source: TfjsLayersSource, opts: ImportTfjsOptions = {}): KerasModel {
  const { topology, weights } = readTfjsSource(source);
  const { name, layers, outputs } = parseTopology(topology);
  const unused = new Set(weights.keys());
  const specs: KerasLayerSpec[] = [];
  const loads: (() => void)[] = [];
  let inputShape: (number | null)[] | null = null;
  let features: number | null = null; // the last axis of the current tensor
  let rank = 0; // axes after batch
  const chain: LayerJson[] = [];

  for (const l of layers) {
    const cfg = l.config;
    const layerName = typeof cfg.name === 'string' ? cfg.name : null;
    const at = `layer '${layerName ?? '?'}' (${l.className})`;
    if (layerName === null) throw new SeqgradError(OP, `${at} has no name`);
    const shape = declaredInputShape(at, cfg);
    if (l.className === 'InputLayer') {
      if (inputShape !== null || chain.length > 0) throw new SeqgradError(OP, `${at} must come first`);
      checkKeys(at, cfg, ['name', 'batch_input_shape', 'batch_shape', 'input_shape', 'sparse', 'ragged', 'dtype']);
      if (shape === null) throw new SeqgradError(OP, `${at} has no batch_input_shape`);
      if (cfg.sparse === true || cfg.ragged === true) throw new SeqgradError(OP, `${at}: sparse and ragged inputs are not supported`);
      checkDtype(at, cfg, true);
      inputShape = shape;
      rank = shape.length;
      features = shape[shape.length - 1] ?? null;
      continue;
    }
    if (inputShape === null) {
      if (shape === null) throw new SeqgradError(OP, `${at} is the first layer and declares no batch_input_shape (and there is no InputLayer)`);
      inputShape = shape;
      rank = shape.length;
      features = shape[shape.length - 1] ?? null;
    } else if (shape !== null && chain.length > 0) {
      throw new SeqgradError(OP, `${at} declares batch_input_shape but is not the first layer`);
    }
    chain.push(l);
    const layerWeights = (prefix: string, names: string[]) => takeWeights(at, weights, unused, prefix, names);

    switch (l.className) {
      case 'Dense': {
        checkKeys(at, cfg, [...COMMON, 'units', 'activation', 'use_bias', 'kernel_initializer', 'bias_initializer', ...REGULARIZED(['kernel', 'bias'])]);
        checkDtype(at, cfg);
        const units = positiveInt(at, cfg, 'units');
        const useBias = bool(at, cfg, 'use_bias', true);
        if (features === null || rank < 1) throw new SeqgradError(OP, `${at} needs a known last input axis`);
        const w = layerWeights(layerName, useBias ? ['kernel', 'bias'] : ['kernel']);
        checkShape(at, 'kernel', w.kernel!, [features, units]);
        if (useBias) checkShape(at, 'bias', w.bias!, [units]);
        const I = features;
        const lin = new Linear(I, units, { bias: useBias });
        loads.push(() => {
          setTransposed(lin.weight, w.kernel!.data, I, units);
          if (useBias) lin.bias!.data.set(w.bias!.data);
        });
        specs.push({ layer: lin, activation: activation(at, cfg, 'activation'), name: layerName });
        features = units;
        break;
      }
      case 'Embedding': {
        checkKeys(at, cfg, [...COMMON, 'input_dim', 'output_dim', 'embeddings_initializer', 'input_length', 'mask_zero', ...REGULARIZED(['embeddings'])]);
        checkDtype(at, cfg);
        if (cfg.mask_zero === true) throw new SeqgradError(OP, `${at}: mask_zero=true (masking) is not supported`);
        const inputDim = positiveInt(at, cfg, 'input_dim');
        const outputDim = positiveInt(at, cfg, 'output_dim');
        const w = layerWeights(layerName, ['embeddings']);
        checkShape(at, 'embeddings', w.embeddings!, [inputDim, outputDim]);
        const emb = new Embedding(inputDim, outputDim);
        loads.push(() => emb.weight.data.set(w.embeddings!.data));
        specs.push({ layer: emb, name: layerName });
        rank += 1;
        features = outputDim;
        break;
      }
      case 'Activation':
        checkKeys(at, cfg, [...COMMON, 'activation']);
        specs.push({ activation: activation(at, cfg, 'activation'), name: layerName });
        break;
      case 'Dropout': {
        checkKeys(at, cfg, [...COMMON, 'rate', 'noise_shape', 'seed']);
        if (cfg.noise_shape !== undefined && cfg.noise_shape !== null) throw new SeqgradError(OP, `${at}: noise_shape is not supported`);
        const rate = cfg.rate;
        if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) throw new SeqgradError(OP, `${at}: rate must be a number in [0, 1), got ${JSON.stringify(rate)}`);
        specs.push({ layer: new Dropout(rate), name: layerName });
        break;
      }
      case 'SimpleRNN':
      case 'LSTM':
      case 'GRU':
      case 'Bidirectional': {
        if (rank !== 2 || features === null) throw new SeqgradError(OP, `${at} needs (B, T, I) sequences with a known I, but its input has ${rank + 1} axes`);
        let inner: LayerJson = l;
        let mergeMode: KerasMergeMode | null = null;
        if (l.className === 'Bidirectional') {
          checkKeys(at, cfg, [...COMMON, 'layer', 'merge_mode']);
          if (!isObject(cfg.layer) || typeof cfg.layer.class_name !== 'string' || !isObject(cfg.layer.config)) {
            throw new SeqgradError(OP, `${at}: config.layer must be { class_name, config }`);
          }
          inner = { className: cfg.layer.class_name, config: cfg.layer.config, inbound: undefined };
          const mm = cfg.merge_mode;
          if (mm === null || mm === undefined || !['concat', 'sum', 'mul', 'ave'].includes(mm as string)) {
            throw new SeqgradError(OP, `${at}: merge_mode ${JSON.stringify(mm ?? null)} is not supported (concat, sum, mul or ave)`);
          }
          mergeMode = mm as KerasMergeMode;
        }
        const r = recurrent(inner, mergeMode !== null ? at : null, features, opts);
        const innerName = typeof inner.config.name === 'string' ? inner.config.name : null;
        if (mergeMode !== null && innerName === null) throw new SeqgradError(OP, `${at}: the wrapped layer has no name`);
        const prefixes = mergeMode !== null ? [`${layerName}/forward_${innerName}`, `${layerName}/backward_${innerName}`] : [layerName];
        const dirs = prefixes.map((p) => layerWeights(p, r.useBias ? ['kernel', 'recurrent_kernel', 'bias'] : ['kernel', 'recurrent_kernel']));
        const { G, H } = r;
        dirs.forEach((w) => {
          checkShape(r.at, 'kernel', w.kernel!, [features!, G * H]);
          checkShape(r.at, 'recurrent_kernel', w.recurrent_kernel!, [H, G * H]);
          if (r.useBias) checkShape(r.at, 'bias', w.bias!, r.resetAfter ? [2, G * H] : [G * H]);
        });
        const module = r.make();
        const I = features;
        loads.push(() => dirs.forEach((w, d) => loadRecurrent(module, d, w, I, r.isGRU, r.resetAfter)));
        specs.push({ layer: module, returnSequences: r.returnSequences, returnState: r.returnState, goBackwards: r.goBackwards, ...(mergeMode ? { mergeMode } : {}), name: layerName });
        if (!r.returnSequences) rank = 1;
        features = mergeMode === 'concat' ? 2 * H : H;
        break;
      }
      default:
        throw new SeqgradError(OP, `${at}: unknown or unsupported layer class '${l.className}' (supported: InputLayer, SimpleRNN, LSTM, GRU, Bidirectional, Dense, Embedding, Activation, Dropout)`);
    }
  }
  if (chain.length === 0 || inputShape === null) throw new SeqgradError(OP, 'the model has no layers besides its input');
  if (unused.size > 0) throw new SeqgradError(OP, `the weights ${[...unused].map((n) => `'${n}'`).join(', ')} belong to no layer of the model`);

  const layerIndex = new Map(chain.map((l, i) => [l.config.name as string, i]));
  const outs: [number, number][] = outputs
    ? outputs.map(([n, t]) => {
      const li = layerIndex.get(n);
      if (li === undefined) throw new SeqgradError(OP, `output_layers names '${n}', which is not a layer of the chain`);
      return [li, t];
    })
    : [[chain.length - 1, 0]];
  const model = new KerasModel(specs, { name, inputShape, outputs: outs });
  noGrad(() => loads.forEach((f) => f()));
  // Non-trainable Keras layers stay frozen.
  chain.forEach((l, i) => {
    if (l.config.trainable === false) {
      const m = model.steps[i]!;
      if ('module' in m) for (const p of m.module.parameters()) p.requiresGrad = false;
    }
  });
  return model.eval();
}

// Keys every layer may carry that change nothing about what it computes.
const COMMON = ['name', 'trainable', 'dtype', 'batch_input_shape', 'batch_shape', 'input_shape', 'batch_size', 'input_dtype'];
const REGULARIZED = (ws: string[]) => [...ws.flatMap((w) => [`${w}_regularizer`, `${w}_constraint`]), 'activity_regularizer'];

/** Refuses an option this importer does not know unless it is null (absent). */
function checkKeys(at: string, cfg: Config, known: string[]): void {
  for (const [k, v] of Object.entries(cfg)) {
    if (known.includes(k)) {
      if ((k.endsWith('_regularizer') || k.endsWith('_constraint')) && v !== null && v !== undefined) {
        throw new SeqgradError(OP, `${at}: ${k} ${JSON.stringify(v)} is not supported (seqgrad would not apply it when training)`);
      }
      continue;
    }
    if (v === null || v === undefined) continue;
    throw new SeqgradError(OP, `${at}: option '${k}' = ${JSON.stringify(v)} is not supported`);
  }
}

function checkDtype(at: string, cfg: Config, input = false): void {
  const d = cfg.dtype;
  if (d === undefined || d === null || d === 'float32') return;
  if (input && d === 'int32') return;
  throw new SeqgradError(OP, `${at}: dtype ${JSON.stringify(d)} is not supported (float32 only)`);
}

function declaredInputShape(at: string, cfg: Config): (number | null)[] | null {
  const b = cfg.batch_input_shape ?? cfg.batch_shape;
  const s = b !== undefined && b !== null ? b : cfg.input_shape !== undefined && cfg.input_shape !== null ? [null, ...(cfg.input_shape as unknown[])] : null;
  if (s === null) return null;
  if (!Array.isArray(s) || s.length < 2 || s.some((d) => d !== null && !(Number.isInteger(d) && (d as number) > 0))) {
    throw new SeqgradError(OP, `${at}: batch_input_shape must be [batch, ...dims] of positive integers or null, got ${JSON.stringify(s)}`);
  }
  return (s as (number | null)[]).slice(1);
}

function positiveInt(at: string, cfg: Config, key: string): number {
  const v = cfg[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > 2 ** 24) throw new SeqgradError(OP, `${at}: ${key} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function bool(at: string, cfg: Config, key: string, dflt: boolean): boolean {
  const v = cfg[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw new SeqgradError(OP, `${at}: ${key} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function activation(at: string, cfg: Config, key: string, allowed: KerasActivation[] = ['linear', 'relu', 'tanh', 'sigmoid', 'softmax']): KerasActivation {
  const v = cfg[key] ?? 'linear';
  if (v === 'hard_sigmoid' || v === 'hardSigmoid') {
    throw new SeqgradError(OP, `${at}: ${key} 'hard_sigmoid' is not supported (its formula differs between Keras versions; re-train or save with 'sigmoid')`);
  }
  if (typeof v !== 'string' || !allowed.includes(v as KerasActivation)) {
    throw new SeqgradError(OP, `${at}: ${key} ${JSON.stringify(v)} is not supported (supported here: ${allowed.join(', ')})`);
  }
  return v as KerasActivation;
}

interface Recurrent {
  at: string;
  /** Builds the layer; called only once the weights' shapes are checked. */
  make: () => RNN | LSTM | GRU;
  G: number;
  H: number;
  isGRU: boolean;
  resetAfter: boolean;
  useBias: boolean;
  returnSequences: boolean;
  returnState: boolean;
  goBackwards: boolean;
}

/** Checks a SimpleRNN / LSTM / GRU config and builds the seqgrad layer (bidirectional inside a wrapper). */
function recurrent(l: LayerJson, wrapper: string | null, I: number, opts: ImportTfjsOptions): Recurrent {
  const cfg = l.config;
  const at = `${wrapper ? `${wrapper}, wrapped ` : ''}layer '${String(cfg.name ?? '?')}' (${l.className})`;
  const base = [
    ...COMMON, 'units', 'activation', 'use_bias', 'kernel_initializer', 'recurrent_initializer', 'bias_initializer',
    ...REGULARIZED(['kernel', 'recurrent', 'bias']), 'dropout', 'recurrent_dropout', 'return_sequences', 'return_state',
    'go_backwards', 'stateful', 'unroll', 'implementation', 'time_major', 'zero_output_for_mask', 'seed',
  ];
  if (l.className === 'SimpleRNN') checkKeys(at, cfg, base);
  else if (l.className === 'LSTM') checkKeys(at, cfg, [...base, 'recurrent_activation', 'unit_forget_bias']);
  else if (l.className === 'GRU') checkKeys(at, cfg, [...base, 'recurrent_activation', 'reset_after']);
  else throw new SeqgradError(OP, `${at}: unknown or unsupported layer class '${l.className}' (Bidirectional wraps SimpleRNN, LSTM or GRU)`);
  checkDtype(at, cfg);
  for (const k of ['dropout', 'recurrent_dropout']) {
    const v = cfg[k];
    if (v !== undefined && v !== null && v !== 0) throw new SeqgradError(OP, `${at}: ${k}=${JSON.stringify(v)} is not supported (only 0)`);
  }
  for (const k of ['stateful', 'time_major']) if (bool(at, cfg, k, false)) throw new SeqgradError(OP, `${at}: ${k}=true is not supported`);
  const H = positiveInt(at, cfg, 'units');
  const useBias = bool(at, cfg, 'use_bias', true);
  const goBackwards = bool(at, cfg, 'go_backwards', false);
  if (wrapper && goBackwards) throw new SeqgradError(OP, `${at}: go_backwards=true inside Bidirectional is not supported`);
  const common = { bias: useBias, bidirectional: wrapper !== null, impl: opts.impl };
  let make: () => RNN | LSTM | GRU;
  let G = 1;
  let resetAfter = false;
  if (l.className === 'SimpleRNN') {
    const act = activation(at, cfg, 'activation', ['tanh', 'relu']);
    make = () => new RNN(I, H, { ...common, nonlinearity: act as 'tanh' | 'relu' });
  } else {
    // seqgrad's LSTM and GRU are PyTorch's: tanh for the candidate, the logistic sigmoid for the gates.
    activation(at, cfg, 'activation', ['tanh']);
    if (cfg.recurrent_activation === undefined) {
      throw new SeqgradError(OP, `${at}: recurrent_activation is missing (its default differs between Keras and TensorFlow.js); write 'sigmoid'`);
    }
    activation(at, cfg, 'recurrent_activation', ['sigmoid']);
    if (l.className === 'LSTM') {
      G = 4;
      make = () => new LSTM(I, H, common);
    } else {
      G = 3;
      resetAfter = bool(at, cfg, 'reset_after', false);
      make = () => new GRU(I, H, { ...common, resetAfter });
    }
  }
  return {
    at, make, G, H, isGRU: G === 3, resetAfter, useBias,
    returnSequences: bool(at, cfg, 'return_sequences', false), returnState: bool(at, cfg, 'return_state', false), goBackwards,
  };
}

/**
 * The weights `prefix/name` of one layer. TensorFlow (2.2 and later) writes recurrent weights
 * with the cell's name in between (`lstm/lstm_cell/kernel`); both spellings are accepted.
 */
function takeWeights(at: string, weights: Map<string, RawWeight>, unused: Set<string>, prefix: string, names: string[]): Record<string, RawWeight> {
  const out: Record<string, RawWeight> = {};
  const depth = prefix.split('/').length;
  for (const n of names) {
    const hits = [...weights.keys()].filter((k) => {
      if (k === `${prefix}/${n}`) return true;
      const parts = k.split('/');
      return parts.length === depth + 2 && k.startsWith(`${prefix}/`) && parts[parts.length - 1] === n;
    });
    if (hits.length === 0) throw new SeqgradError(OP, `${at}: the manifest has no weight '${prefix}/${n}'`);
    if (hits.length > 1) throw new SeqgradError(OP, `${at}: several weights could be '${prefix}/${n}': ${hits.join(', ')}`);
    out[n] = weights.get(hits[0]!)!;
    unused.delete(hits[0]!);
  }
  return out;
}

function checkShape(at: string, what: string, w: RawWeight, want: number[]): void {
  if (w.shape.length !== want.length || w.shape.some((d, i) => d !== want[i])) {
    throw new SeqgradError(OP, `${at}: weight ${what}${fmt(w.shape)} must have shape ${fmt(want)}`);
  }
}

/** dst (cols, rows) = srcᵀ for a row-major src (rows, cols). */
function setTransposed(dst: Tensor, src: Float32Array, rows: number, cols: number): void {
  const d = dst.data;
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) d[c * rows + r] = src[r * cols + c]!;
}

// Keras GRU blocks are z, r, h; seqgrad's (PyTorch's) r, z, n: seqgrad block k is Keras block GRU_FROM_KERAS[k].
export const GRU_FROM_KERAS = [1, 0, 2];

/**
 * One direction's weights: kernels transposed, GRU blocks reordered, the Keras bias in
 * bias_ih (bias_hh zero) or, for GRU reset_after, its two rows in bias_ih and bias_hh.
 */
function loadRecurrent(m: RNN | LSTM | GRU, d: number, w: Record<string, RawWeight>, I: number, isGRU: boolean, resetAfter: boolean): void {
  const p = m.params[0]![d]!;
  const H = m.hiddenSize;
  const GH = w.kernel!.shape[1]!;
  const blocks = GH / H;
  const order = isGRU ? GRU_FROM_KERAS : Array.from({ length: blocks }, (_, k) => k);
  const ih = p.weightIh.data;
  const hh = p.weightHh.data;
  for (let k = 0; k < blocks; k++) {
    const from = order[k]! * H;
    // weight_ih rows k·H.. = kernel columns from..from+H, transposed.
    for (let r = 0; r < H; r++) {
      for (let i = 0; i < I; i++) ih[(k * H + r) * I + i] = w.kernel!.data[i * GH + from + r]!;
      for (let j = 0; j < H; j++) hh[(k * H + r) * H + j] = w.recurrent_kernel!.data[j * GH + from + r]!;
    }
    if (p.biasIh && p.biasHh) {
      const b = w.bias!.data;
      for (let r = 0; r < H; r++) {
        p.biasIh.data[k * H + r] = b[from + r]!;
        p.biasHh.data[k * H + r] = resetAfter ? b[GH + from + r]! : 0;
      }
    }
  }
}

/** The model's name, its layers in order, and (functional) its outputs as [layer name, output index]. */
function parseTopology(topology: Record<string, unknown>): { name: string | undefined; layers: LayerJson[]; outputs: [string, number][] | null } {
  // Keras files converted by tensorflowjs_converter nest the model under model_config.
  const t = isObject(topology.model_config) ? topology.model_config : topology;
  const cls = t.class_name;
  const cfg = t.config;
  const asLayer = (v: unknown, i: number): LayerJson => {
    if (!isObject(v) || typeof v.class_name !== 'string' || !isObject(v.config)) {
      throw new SeqgradError(OP, `modelTopology layer ${i} must be { class_name, config }`);
    }
    return { className: v.class_name, config: v.config, inbound: v.inbound_nodes };
  };
  if (cls === 'Sequential') {
    const list = Array.isArray(cfg) ? cfg : isObject(cfg) ? cfg.layers : undefined;
    if (!Array.isArray(list)) throw new SeqgradError(OP, 'a Sequential topology needs config.layers');
    return { name: isObject(cfg) && typeof cfg.name === 'string' ? cfg.name : undefined, layers: list.map(asLayer), outputs: null };
  }
  if (cls === 'Model' || cls === 'Functional') {
    if (!isObject(cfg) || !Array.isArray(cfg.layers)) throw new SeqgradError(OP, `a ${cls} topology needs config.layers`);
    const all = cfg.layers.map(asLayer);
    return { name: typeof cfg.name === 'string' ? cfg.name : undefined, ...linearChain(all, cfg) };
  }
  throw new SeqgradError(OP, `modelTopology.class_name ${JSON.stringify(cls)} is not a layers model (Sequential, Model or Functional)`);
}

/** Orders a functional model's layers as the chain they form, or refuses a graph that is not one. */
function linearChain(all: LayerJson[], cfg: Config): { layers: LayerJson[]; outputs: [string, number][] } {
  const ref = (v: unknown, what: string): [string, number, number] => {
    if (!Array.isArray(v) || typeof v[0] !== 'string' || !Number.isInteger(v[1]) || !Number.isInteger(v[2])) {
      throw new SeqgradError(OP, `${what} must be [layer name, node index, tensor index], got ${JSON.stringify(v)}`);
    }
    return [v[0], v[1] as number, v[2] as number];
  };
  const inputs = Array.isArray(cfg.input_layers) ? cfg.input_layers.map((v, i) => ref(v, `input_layers[${i}]`)) : [];
  if (inputs.length !== 1) throw new SeqgradError(OP, `the functional model has ${inputs.length} inputs; only a chain with one input is supported`);
  const byName = new Map(all.map((l) => [String(l.config.name), l]));
  const consumer = new Map<string, LayerJson>();
  for (const l of all) {
    const at = `layer '${String(l.config.name)}' (${l.className})`;
    const nodes = l.inbound;
    if (l.className === 'InputLayer') continue;
    if (!Array.isArray(nodes) || nodes.length !== 1 || !Array.isArray(nodes[0]) || nodes[0].length !== 1) {
      const how = !Array.isArray(nodes) || nodes.length !== 1 ? `is called ${Array.isArray(nodes) ? nodes.length : 0} times` : `takes ${Array.isArray(nodes[0]) ? nodes[0].length : 0} inputs`;
      throw new SeqgradError(OP, `${at} ${how}; only a linear chain of layers, each called once on one tensor, is supported`);
    }
    const inb = nodes[0][0] as unknown[];
    const [src, node, tensorIndex] = ref(inb, `${at} inbound node`);
    const kwargs = inb[3];
    if (node !== 0 || tensorIndex !== 0) throw new SeqgradError(OP, `${at} takes output ${tensorIndex} of node ${node} of '${src}'; a chain passes only a layer's first output on`);
    if (isObject(kwargs) && Object.keys(kwargs).length > 0) throw new SeqgradError(OP, `${at} is called with arguments ${JSON.stringify(kwargs)} (e.g. initial_state, mask), which are not supported`);
    if (!byName.has(src)) throw new SeqgradError(OP, `${at} takes its input from '${src}', which is not a layer of the model`);
    if (consumer.has(src)) throw new SeqgradError(OP, `'${src}' feeds two layers; only a linear chain is supported`);
    consumer.set(src, l);
  }
  const first = byName.get(inputs[0]![0]);
  if (!first || first.className !== 'InputLayer') throw new SeqgradError(OP, `input_layers names '${inputs[0]![0]}', which is not an InputLayer of the model`);
  const layers: LayerJson[] = [];
  for (let l: LayerJson | undefined = first; l; l = consumer.get(String(l.config.name))) {
    layers.push(l);
    if (layers.length > all.length) throw new SeqgradError(OP, 'the layer graph has a cycle');
  }
  if (layers.length !== all.length) {
    const off = all.filter((l) => !layers.includes(l)).map((l) => `'${String(l.config.name)}'`);
    throw new SeqgradError(OP, `the layers ${off.join(', ')} are not on the chain from the input`);
  }
  const outputs = Array.isArray(cfg.output_layers) ? cfg.output_layers.map((v, i) => ref(v, `output_layers[${i}]`)) : [];
  if (outputs.length === 0) throw new SeqgradError(OP, 'the functional model names no output_layers');
  return {
    layers,
    outputs: outputs.map(([n, node, t]) => {
      if (node !== 0) throw new SeqgradError(OP, `output_layers names node ${node} of '${n}'; only node 0 exists in a chain`);
      return [n, t];
    }),
  };
}

