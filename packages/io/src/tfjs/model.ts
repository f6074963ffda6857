import {
  SeqgradError, Tensor, add, concat, div, flip, fmt, mul, narrow, relu, select, sigmoid, softmax, tanh, tensor,
} from '@seqgrad/autograd';
import { Dropout, Embedding, GRU, LSTM, Linear, Module, RNN, type RNNState, type SequenceResult } from '@seqgrad/layers';

/** The activations a Keras layer may name here; anything else is refused on import. */
export type KerasActivation = 'linear' | 'relu' | 'tanh' | 'sigmoid' | 'softmax';
/** How `Bidirectional` combines its two directions (Keras `merge_mode`). */
export type KerasMergeMode = 'concat' | 'sum' | 'mul' | 'ave';

/** A recurrent layer with Keras call semantics (SimpleRNN, LSTM, GRU, or Bidirectional of one). */
export interface KerasRecurrentSpec {
  layer: RNN | LSTM | GRU;
  /** Keras `return_sequences` (default false: only the last step's output). */
  returnSequences?: boolean;
  /** Keras `return_state`: the layer also yields its final states (h, and c for LSTM). */
  returnState?: boolean;
  /** Keras `go_backwards`: read the sequence from the end; the output stays in reading order. */
  goBackwards?: boolean;
  /** For a bidirectional `layer`: Keras `Bidirectional`'s `merge_mode` (default 'concat'). */
  mergeMode?: KerasMergeMode;
  name?: string;
}
/** A Keras `Dense` layer: a `Linear` followed by an activation. */
export interface KerasDenseSpec {
  layer: Linear;
  activation?: KerasActivation;
  name?: string;
}
/** A Keras `Embedding` or `Dropout` layer. */
export interface KerasPlainSpec {
  layer: Embedding | Dropout;
  name?: string;
}
/** A Keras `Activation` layer. */
export interface KerasActivationSpec {
  activation: KerasActivation;
  name?: string;
}
export type KerasLayerSpec = KerasRecurrentSpec | KerasDenseSpec | KerasPlainSpec | KerasActivationSpec;

export interface KerasModelOptions {
  /** The model's name in model.json. */
  name?: string;
  /**
   * The input's shape without the batch axis, `null` for a free size (Keras `input_shape`):
   * (T, I) before a recurrent layer, (T) before an Embedding. Inferred from the first layer
   * when absent: free T, and I from its `inputSize` / `inFeatures`.
   */
  inputShape?: (number | null)[];
  /**
   * Which outputs the model returns, as [layer index, output index] (Keras `output_layers`);
   * output 1.. of a recurrent layer with `returnState` are its states. Default: the last
   * layer's first output.
   */
  outputs?: [number, number][];
}

/** A resolved layer of a KerasModel: its kind, its module (if any) and its Keras options. */
export type KerasStep =
  | { kind: 'recurrent'; name: string; module: RNN | LSTM | GRU; returnSequences: boolean; returnState: boolean; goBackwards: boolean; mergeMode: KerasMergeMode | null }
  | { kind: 'dense'; name: string; module: Linear; activation: KerasActivation }
  | { kind: 'embedding'; name: string; module: Embedding }
  | { kind: 'dropout'; name: string; module: Dropout }
  | { kind: 'activation'; name: string; activation: KerasActivation };

type UnnamedStep = KerasStep extends infer S ? (S extends unknown ? Omit<S, 'name'> : never) : never;

const ACTIVATIONS: readonly KerasActivation[] = ['linear', 'relu', 'tanh', 'sigmoid', 'softmax'];

export function applyActivation(a: KerasActivation, x: Tensor): Tensor {
  switch (a) {
    case 'linear': return x;
    case 'relu': return relu(x);
    case 'tanh': return tanh(x);
    case 'sigmoid': return sigmoid(x);
    case 'softmax': return softmax(x, -1);
  }
}

function recurrentClass(m: RNN | LSTM | GRU): 'SimpleRNN' | 'LSTM' | 'GRU' {
  return m instanceof LSTM ? 'LSTM' : m instanceof GRU ? 'GRU' : 'SimpleRNN';
}

/** Keras's default layer names: lstm, lstm_1, ... by class. */
function defaultName(step: UnnamedStep, used: Set<string>): string {
  const base = step.kind === 'recurrent'
    ? (step.mergeMode ? 'bidirectional' : { SimpleRNN: 'simple_rnn', LSTM: 'lstm', GRU: 'gru' }[recurrentClass(step.module)])
    : step.kind;
  let name = base;
  for (let k = 1; used.has(name); k++) name = `${base}_${k}`;
  return name;
}

/**
 * A chain of layers with Keras's call semantics, built from seqgrad modules: what
 * `importTfjsLayers` returns and what `exportTfjsLayers` writes. Input is batch-first, as in
 * Keras: (B, T, I) floats, or (B, T) token ids when the first layer is an Embedding. The
 * modules are registered under the Keras layer names, so the parameters read
 * `lstm.weight_ih_l0`, `dense.weight`, ... and train like any seqgrad module.
 *
 * Shapes: a recurrent layer maps (B, T, I) → (B, T, D·H) with `returnSequences`, else
 * (B, D·H) (D·H becomes H for merge modes other than concat); with `returnState` its outputs
 * 1.. are the final h (and c) of each direction, (B, H) each, forward first.
 *
 * @example
 * const model = new KerasModel([{ layer: new LSTM(3, 8), returnSequences: true }, { layer: new Linear(8, 2), activation: 'softmax' }]);
 * model.forward(randn([4, 10, 3])).shape; // [4, 10, 2]
 * const { modelJson, weightData } = exportTfjsLayers(model);
 */
export class KerasModel extends Module {
  readonly steps: KerasStep[] = [];
  /** The input's shape without the batch axis (null: any size). */
  readonly inputShape: (number | null)[];
  /** The model outputs as [layer index, output index]. */
  readonly outputs: [number, number][];
  readonly modelName: string;
  /** Shapes (without batch) after each layer's first output. */
  readonly shapes: (number | null)[][] = [];

  constructor(layers: KerasLayerSpec[], opts: KerasModelOptions = {}) {
    super();
    const op = 'KerasModel';
    if (!Array.isArray(layers) || layers.length === 0) throw new SeqgradError(op, 'layers must be a non-empty list');
    const used = new Set<string>();
    layers.forEach((spec, i) => {
      const step = resolveStep(op, spec, i);
      const name = spec.name ?? defaultName(step, used);
      if (typeof name !== 'string' || name === '' || name.includes('.') || name.includes('/')) {
        throw new SeqgradError(op, `layers[${i}].name '${String(name)}' must be a non-empty name without '.' or '/'`);
      }
      if (used.has(name)) throw new SeqgradError(op, `layers[${i}].name '${name}' is used twice`);
      used.add(name);
      const full = { ...step, name } as KerasStep;
      this.steps.push(full);
      if ('module' in full) this.registerModule(name, full.module);
    });
    this.modelName = opts.name ?? 'sequential';
    this.inputShape = opts.inputShape ? [...opts.inputShape] : inferInputShape(this.steps[0]!);
    this.inputShape.forEach((d, i) => {
      if (d !== null && !(Number.isInteger(d) && d > 0)) throw new SeqgradError(op, `inputShape[${i}] must be a positive integer or null, got ${String(d)}`);
    });
    let shape = this.inputShape;
    this.steps.forEach((s, i) => {
      shape = outputShape(op, s, i, shape);
      this.shapes.push(shape);
    });
    const last = this.steps.length - 1;
    this.outputs = (opts.outputs ?? [[last, 0]]).map(([li, oi], k) => {
      const s = this.steps[li];
      if (!s) throw new SeqgradError(op, `outputs[${k}] names layer ${li}, but the model has ${this.steps.length} layers`);
      const n = numOutputs(s);
      if (!Number.isInteger(oi) || oi < 0 || oi >= n) throw new SeqgradError(op, `outputs[${k}] names output ${oi} of layer '${s.name}', which has ${n}`);
      return [li, oi];
    });
    if (this.outputs.length === 0) throw new SeqgradError(op, 'outputs must name at least one output');
  }

  /** Every model output, in order (Keras `model.predict` on a model with several outputs). */
  run(x: Tensor): Tensor[] {
    const op = 'KerasModel.run';
    if (!(x instanceof Tensor)) throw new SeqgradError(op, `x must be a Tensor, got ${x === null ? 'null' : typeof x}`);
    const want = ['B', ...this.inputShape.map((d) => d ?? '·')];
    if (x.ndim !== this.inputShape.length + 1 || this.inputShape.some((d, i) => d !== null && x.shape[i + 1] !== d)) {
      throw new SeqgradError(op, `x${fmt(x.shape)} must be (${want.join(', ')}) (batch first, as in Keras)`);
    }
    const keep = new Map<number, Tensor[]>();
    const needed = new Set(this.outputs.map(([li]) => li));
    let h = x;
    this.steps.forEach((s, i) => {
      const outs = callStep(s, h);
      if (needed.has(i)) keep.set(i, outs);
      h = outs[0]!;
    });
    return this.outputs.map(([li, oi]) => keep.get(li)![oi]!);
  }

  /** The model's first output (the only one for a Sequential model). */
  forward(x: Tensor): Tensor {
    return this.run(x)[0]!;
  }

  override extraRepr(): string {
    return this.steps.map((s) => `${s.name}: ${describe(s)}`).join(', ');
  }
}

function describe(s: KerasStep): string {
  switch (s.kind) {
    case 'recurrent': {
      const opts = [s.returnSequences && 'returnSequences', s.returnState && 'returnState', s.goBackwards && 'goBackwards'].filter(Boolean);
      const inner = `${recurrentClass(s.module)}(${s.module.hiddenSize}${opts.length ? `, ${opts.join(', ')}` : ''})`;
      return s.mergeMode ? `Bidirectional(${inner}, ${s.mergeMode})` : inner;
    }
    case 'dense': return `Dense(${s.module.outFeatures}, ${s.activation})`;
    case 'embedding': return `Embedding(${s.module.numEmbeddings}, ${s.module.embeddingDim})`;
    case 'dropout': return `Dropout(${s.module.p})`;
    case 'activation': return `Activation(${s.activation})`;
  }
}

function checkActivation(op: string, a: unknown): KerasActivation {
  if (a === undefined) return 'linear';
  if (!ACTIVATIONS.includes(a as KerasActivation)) throw new SeqgradError(op, `activation must be one of ${ACTIVATIONS.join(', ')}, got ${JSON.stringify(a)}`);
  return a as KerasActivation;
}

function resolveStep(op: string, spec: KerasLayerSpec, i: number): UnnamedStep {
  const at = `${op}: layers[${i}]`;
  if (spec === null || typeof spec !== 'object') throw new SeqgradError(op, `layers[${i}] must be a layer spec object`);
  if (!('layer' in spec)) return { kind: 'activation', activation: checkActivation(at, (spec as KerasActivationSpec).activation) };
  const m = spec.layer;
  if (m instanceof RNN || m instanceof LSTM || m instanceof GRU) {
    const r = spec as KerasRecurrentSpec;
    const cls = m.constructor.name;
    if (m.numLayers !== 1) throw new SeqgradError(at, `${cls} has numLayers=${m.numLayers}; Keras layers hold one layer each: give one ${cls} per layer`);
    if (m.projSize !== 0) throw new SeqgradError(at, `${cls} has projSize=${m.projSize}; Keras's LSTM has no projection`);
    if (!m.batchFirst) throw new SeqgradError(at, `${cls} has batchFirst=false; Keras layers are batch-first`);
    if (m.zoneout.h > 0 || (m.zoneout.c ?? 0) > 0) {
      throw new SeqgradError(at, `${cls} has zoneout ${JSON.stringify(m.zoneout)}; Keras has no zoneout (its evaluation-mode step p·previous + (1 − p)·new differs from the plain one)`);
    }
    if (r.mergeMode !== undefined && !m.bidirectional) throw new SeqgradError(at, `mergeMode needs a bidirectional ${cls}`);
    const mergeMode = m.bidirectional ? (r.mergeMode ?? 'concat') : null;
    if (mergeMode !== null && !['concat', 'sum', 'mul', 'ave'].includes(mergeMode)) {
      throw new SeqgradError(at, `mergeMode must be 'concat', 'sum', 'mul' or 'ave', got ${JSON.stringify(mergeMode)}`);
    }
    if (r.goBackwards && m.bidirectional) throw new SeqgradError(at, 'goBackwards on a bidirectional layer is not supported');
    return { kind: 'recurrent', module: m, returnSequences: Boolean(r.returnSequences), returnState: Boolean(r.returnState), goBackwards: Boolean(r.goBackwards), mergeMode };
  }
  if (m instanceof Linear) return { kind: 'dense', module: m, activation: checkActivation(at, (spec as KerasDenseSpec).activation) };
  if (m instanceof Embedding) return { kind: 'embedding', module: m };
  if (m instanceof Dropout) return { kind: 'dropout', module: m };
  throw new SeqgradError(op, `layers[${i}].layer must be an RNN, LSTM, GRU, Linear, Embedding or Dropout, got ${(m as object)?.constructor?.name ?? typeof m}`);
}

function inferInputShape(first: KerasStep): (number | null)[] {
  switch (first.kind) {
    case 'recurrent': return [null, first.module.inputSize];
    case 'dense': return [first.module.inFeatures];
    case 'embedding': return [null];
    default:
      throw new SeqgradError('KerasModel', `the input shape cannot be inferred from a first layer '${first.name}' of kind ${first.kind}: pass inputShape`);
  }
}

function numOutputs(s: KerasStep): number {
  if (s.kind !== 'recurrent' || !s.returnState) return 1;
  return 1 + (s.mergeMode ? 2 : 1) * (s.module instanceof LSTM ? 2 : 1);
}

/** The first output's shape (without batch) for an input of the given shape; throws on a mismatch. */
function outputShape(op: string, s: KerasStep, i: number, shape: (number | null)[]): (number | null)[] {
  const at = `layer ${i} '${s.name}'`;
  const last = shape[shape.length - 1];
  const needLast = (n: number, what: string) => {
    if (shape.length === 0 || last !== n) throw new SeqgradError(op, `${at} (${describe(s)}) takes ${what}=${n} features but gets (B, ${shape.map((d) => d ?? '·').join(', ')})`);
  };
  switch (s.kind) {
    case 'recurrent': {
      if (shape.length !== 2) throw new SeqgradError(op, `${at} (${describe(s)}) needs (B, T, I) sequences but gets (B, ${shape.map((d) => d ?? '·').join(', ')})`);
      needLast(s.module.inputSize, 'inputSize');
      const H = s.module.hiddenSize;
      const features = s.mergeMode === 'concat' ? 2 * H : H;
      return s.returnSequences ? [shape[0]!, features] : [features];
    }
    case 'dense':
      needLast(s.module.inFeatures, 'inFeatures');
      return [...shape.slice(0, -1), s.module.outFeatures];
    case 'embedding':
      return [...shape, s.module.embeddingDim];
    default:
      return shape;
  }
}

/** Token ids for an Embedding: int32 as given, or floats holding whole numbers (as Keras feeds them). */
function indices(x: Tensor): Tensor {
  if (x.dtype === 'int32') return x;
  const ids = new Int32Array(x.size);
  for (let k = 0; k < ids.length; k++) {
    const v = x.data[k]!;
    if (!Number.isInteger(v)) throw new SeqgradError('KerasModel.run', `Embedding input x${fmt(x.shape)} holds ${v} at flat index ${k}, not a token id`);
    ids[k] = v;
  }
  return tensor(ids, { shape: x.shape, dtype: 'int32' });
}

function merge(mode: KerasMergeMode, a: Tensor, b: Tensor): Tensor {
  switch (mode) {
    case 'concat': return concat([a, b], -1);
    case 'sum': return add(a, b);
    case 'mul': return mul(a, b);
    case 'ave': return div(add(a, b), 2);
  }
}

/** Runs one layer on a batch-first input; returns its outputs (output, then states). */
function callStep(s: KerasStep, x: Tensor): Tensor[] {
  switch (s.kind) {
    case 'dense': return [applyActivation(s.activation, s.module.forward(x))];
    case 'activation': return [applyActivation(s.activation, x)];
    case 'embedding': return [s.module.forward(indices(x))];
    case 'dropout': return [s.module.forward(x)];
    case 'recurrent': {
      const m = s.module;
      const isLSTM = m instanceof LSTM;
      const { output, state }: SequenceResult<RNNState> = m.forward(s.goBackwards ? flip(x, 1) : x);
      const states = (d: number) => (isLSTM ? [select(state.h, 0, d), select(state.c!, 0, d)] : [select(state.h, 0, d)]);
      if (!s.mergeMode) {
        // Unidirectional: the final state is the output of the last step read.
        const out = s.returnSequences ? output : select(state.h, 0, 0);
        return s.returnState ? [out, ...states(0)] : [out];
      }
      // Bidirectional: the backward half's sequence is aligned with the input (as Keras
      // reverses it back); its last output is its final state, the one after reading x_0.
      const H = m.hiddenSize;
      const out = s.returnSequences
        ? (s.mergeMode === 'concat' ? output : merge(s.mergeMode, narrow(output, -1, 0, H), narrow(output, -1, H, H)))
        : merge(s.mergeMode, select(state.h, 0, 0), select(state.h, 0, 1));
      return s.returnState ? [out, ...states(0), ...states(1)] : [out];
    }
  }
}
