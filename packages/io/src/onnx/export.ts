/**
 * exportOnnx: a seqgrad module as an ONNX ModelProto (opset 17). Built-in RNN/LSTM/GRU layers
 * become ONNX's own RNN/LSTM/GRU operators, one per layer (gates reordered as docs/conventions.md
 * proves: LSTM i,f,g,o → i,o,f,c; GRU r,z,n → z,r,h; `linear_before_reset` = resetAfter), with
 * Linear (Gemm or MatMul+Add), Embedding (Gather), LayerNorm (LayerNormalization), Dropout
 * (dropped: the graph is the eval-mode function), activations, Sequential, and the CLI's
 * Embedding → recurrent → Linear model. Recurrent/Bidirectional/Stacked over any other cell
 * become ONNX Scan nodes over the cell's traced step (scan.ts). Batch and sequence axes are dynamic.
 */
import { SeqgradError, Tensor, cast, fmt, noGrad } from '@seqgrad/autograd';
import {
  Bidirectional, Dropout, Embedding, GRU, GRUCell, LSTM, LSTMCell, LayerNorm, Linear, Module, RNN, RNNBase, RNNCell, Recurrent, RecurrentCell,
  Sequential, Stacked,
} from '@seqgrad/layers';
import { Activation } from './activation.js';
import { DataType, type AttributeMsg, type GraphMsg, type ValueInfoMsg, encodeModel } from './proto.js';
import { type Dim, GraphBuilder, type Value, attr, valueInfo } from './builder.js';
import { emitSequenceLayer, isSequenceLayer } from './scan.js';

export const ONNX_OPSET = 17;
/** IR version 8 goes with opset 17 (ONNX 1.12). */
const IR_VERSION = 8;
const OP = 'exportOnnx';

export interface ExportOnnxOptions {
  /** Name of the graph input (default 'input'). */
  inputName?: string;
  /** Name of the main graph output (default 'output'). */
  outputName?: string;
  /**
   * A bare RNN/LSTM/GRU, Recurrent, Bidirectional or Stacked: a graph input 'lengths' (int32,
   * [batch]), packed-sequence semantics as `forward(x, state, { lengths })` (the operators'
   * `sequence_lens`, or a step mask scanned beside x for a Scan).
   */
  lengths?: boolean;
  /**
   * A bare RNN/LSTM/GRU or the CLI's model: graph inputs 'h0' (and 'c0' for an LSTM),
   * (layers·D, batch, H), the state the sequence starts from (zeros when false).
   */
  initialState?: boolean;
  /**
   * Graph outputs 'h_n' (and 'c_n'), the final state: default true for a bare RNN/LSTM/GRU,
   * false for the CLI's model (true there serves a language model one chunk at a time).
   */
  finalState?: boolean;
  /** ModelProto.producer_name (default 'seqgrad'). */
  producerName?: string;
  /** Graph name (default the module's class name). */
  graphName?: string;
  /**
   * Element type of a token-id graph input (an int32 example): 'int32' (default, seqgrad's
   * index type) or 'int64' (PyTorch's, for serving code written against torch.onnx exports).
   */
  tokenType?: 'int32' | 'int64';
  /**
   * Float type of the weights and float inputs/outputs in the file (default 'float32', what
   * ONNX Runtime's kernels run everywhere; its CPU RNN/LSTM do not run 'float64').
   * A float64 module is converted.
   */
  dtype?: 'float32' | 'float64';
}

/** Concatenates rows of several tensors into one new tensor (stacking along a new or the first axis). */
function concatRows(parts: readonly Float32Array[] | readonly Float64Array[], shape: number[], dtype: 'float32' | 'float64'): Tensor {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = dtype === 'float64' ? new Float64Array(total) : new Float32Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return new Tensor(out, shape);
}

/** The rows of a (G·H, ·) matrix reordered block by block: `order[k]` is the seqgrad block placed k-th. */
function reorderBlocks(t: Tensor, H: number, order: readonly number[]): Float32Array | Float64Array {
  const cols = t.size / t.shape[0]!;
  const src = t.data as Float32Array | Float64Array;
  const out = new (src.constructor as Float32ArrayConstructor | Float64ArrayConstructor)(src.length);
  order.forEach((g, k) => out.set(src.subarray(g * H * cols, (g + 1) * H * cols), k * H * cols));
  return out;
}

/** ONNX gate order as indices into seqgrad's: LSTM (i,f,g,o) → (i,o,f,g); GRU (r,z,n) → (z,r,n). */
const GATE_ORDER: Record<string, readonly number[]> = { LSTM: [0, 3, 1, 2], GRU: [1, 0, 2], RNN_TANH: [0], RNN_RELU: [0] };

function describeCell(path: string, m: Module): string {
  const cells = m.modules().filter((c) => c instanceof RecurrentCell);
  const cell = cells[0] ?? m;
  return `${path || 'the module'} runs the cell ${cell.constructor.name}`;
}

class Exporter {
  readonly g: GraphBuilder;
  readonly inputs: ValueInfoMsg[] = [];
  readonly outputs: ValueInfoMsg[] = [];

  constructor(readonly dtype: 'float32' | 'float64') {
    this.g = new GraphBuilder(dtype);
  }

  get elemType(): number {
    return this.dtype === 'float64' ? DataType.DOUBLE : DataType.FLOAT;
  }

  /** A tensor module applied to `x`; returns the output value. */
  emit(path: string, m: Module, x: Value): Value {
    if (m instanceof Sequential) {
      let y = x;
      m.layers.forEach((layer, i) => {
        y = this.emit(`${path}${i}.`, layer, y);
      });
      return y;
    }
    if (m instanceof Linear) return this.linear(path, m, x);
    if (m instanceof Embedding) {
      const w = this.g.tensor(`${path}weight`, m.weight);
      const [y] = this.g.node('Gather', [w, x.name], 1, [attr('axis', 0)], `${path}Gather`);
      return { name: y!, shape: [...x.shape, m.embeddingDim] };
    }
    if (m instanceof Dropout) return x;
    if (m instanceof LayerNorm) {
      const k = m.normalizedShape.length;
      // Without an affine weight, ONNX still needs a scale: ones.
      const ones = new Tensor(new Float64Array(m.normalizedShape.reduce((a, b) => a * b, 1)).fill(1), m.normalizedShape);
      const scale = this.g.tensor(`${path}weight`, m.weight ?? ones);
      const inputs = [x.name, scale];
      if (m.bias) inputs.push(this.g.tensor(`${path}bias`, m.bias));
      const [y] = this.g.node('LayerNormalization', inputs, 1, [attr('axis', -k), attr('epsilon', m.eps, 'float')], `${path}LayerNormalization`);
      return { name: y!, shape: x.shape };
    }
    if (m instanceof Activation) {
      const op = { tanh: 'Tanh', relu: 'Relu', sigmoid: 'Sigmoid', softmax: 'Softmax', logSoftmax: 'LogSoftmax' }[m.kind];
      const attrs = m.kind === 'softmax' || m.kind === 'logSoftmax' ? [attr('axis', m.axis)] : [];
      const [y] = this.g.node(op, [x.name], 1, attrs, `${path}${op}`);
      return { name: y!, shape: x.shape };
    }
    if (m instanceof RNNBase) {
      throw new SeqgradError(OP, `${path || 'the module'} (${m.constructor.name}) returns { output, state }, not a tensor: export it on its own or as the recurrent part of an Embedding → recurrent → Linear model`);
    }
    if (m instanceof Recurrent || m instanceof Bidirectional || m instanceof Stacked || m instanceof RecurrentCell) {
      const cell = m.modules().find((c) => c instanceof RecurrentCell) ?? m;
      throw new SeqgradError(OP, `${describeCell(path, m)}: ${cell.constructor.name}s export when the Recurrent/Bidirectional/Stacked layer is the module exported (or the CLI model's rnn), not inside a Sequential (they return { output, state }, not a tensor)`);
    }
    throw new SeqgradError(OP, `${path || 'the module'} is a ${m.constructor.name}, which has no ONNX export (supported: Linear, Embedding, LayerNorm, Dropout, Activation, Sequential, RNN, LSTM, GRU and the Embedding → recurrent → Linear model)`);
  }

  linear(path: string, m: Linear, x: Value): Value {
    const w = this.g.tensor(`${path}weight`, m.weight);
    const shape = [...x.shape.slice(0, -1), m.outFeatures];
    if (x.shape.length === 2) {
      const inputs = [x.name, w];
      if (m.bias) inputs.push(this.g.tensor(`${path}bias`, m.bias));
      const [y] = this.g.node('Gemm', inputs, 1, [attr('transB', 1)], `${path}Gemm`);
      return { name: y!, shape };
    }
    const [wt] = this.g.node('Transpose', [w], 1, [attr('perm', [1, 0])], `${path}Transpose`);
    let [y] = this.g.node('MatMul', [x.name, wt!], 1, [], `${path}MatMul`);
    if (m.bias) [y] = this.g.node('Add', [y!, this.g.tensor(`${path}bias`, m.bias)], 1, [], `${path}Add`);
    return { name: y!, shape };
  }

  /**
   * One ONNX RNN/LSTM/GRU node per layer over x, time-major internally (ONNX Runtime's CPU
   * kernels support layout 0 only, so batch-first goes through Transposes).
   */
  recurrent(path: string, m: RNNBase, x: Value, extra: { lengths?: string; h0?: string; c0?: string }): { y: Value; h: string; c: string | null } {
    if (m.projSize > 0) throw new SeqgradError(OP, `${path || 'the module'}: an LSTM with projSize=${m.projSize} has no ONNX LSTM equivalent (the operator has no projection)`);
    const H = m.hiddenSize;
    const D = m.numDirections;
    const L = m.numLayers;
    const opType = m.mode === 'LSTM' ? 'LSTM' : m.mode === 'GRU' ? 'GRU' : 'RNN';
    const [T, B] = m.batchFirst ? [x.shape[1]!, x.shape[0]!] : [x.shape[0]!, x.shape[1]!];
    let seq = m.batchFirst ? this.g.node('Transpose', [x.name], 1, [attr('perm', [1, 0, 2])], `${path}Transpose`)[0]! : x.name;
    const hs: string[] = [];
    const cs: string[] = [];
    const order = GATE_ORDER[m.mode]!;
    for (let l = 0; l < L; l++) {
      const dirs = m.params[l]!;
      const dt = this.dtype;
      const inSize = dirs[0]!.weightIh.shape[1]!;
      const W = concatRows(dirs.map((p) => reorderBlocks(p.weightIh, H, order)) as Float32Array[], [D, order.length * H, inSize], dt);
      const R = concatRows(dirs.map((p) => reorderBlocks(p.weightHh, H, order)) as Float32Array[], [D, order.length * H, H], dt);
      const inputs = [seq, this.g.tensor(`${path}W_l${l}`, W), this.g.tensor(`${path}R_l${l}`, R)];
      if (m.bias) {
        const parts: (Float32Array | Float64Array)[] = [];
        for (const p of dirs) parts.push(reorderBlocks(p.biasIh!, H, order), reorderBlocks(p.biasHh!, H, order));
        inputs.push(this.g.tensor(`${path}B_l${l}`, concatRows(parts as Float32Array[], [D, 2 * order.length * H], dt)));
      } else inputs.push('');
      inputs.push(extra.lengths ?? '');
      const slice = (s: string, base: string) => {
        const starts = this.g.ints([l * D], `${base}_start`);
        const ends = this.g.ints([(l + 1) * D], `${base}_end`);
        const axes = this.g.ints([0], `${base}_axes`);
        return this.g.node('Slice', [s, starts, ends, axes], 1, [], `${base}_Slice`)[0]!;
      };
      inputs.push(extra.h0 ? slice(extra.h0, `${path}h0_l${l}`) : '');
      if (opType === 'LSTM') inputs.push(extra.c0 ? slice(extra.c0, `${path}c0_l${l}`) : '');
      while (inputs[inputs.length - 1] === '') inputs.pop();
      const attrs: AttributeMsg[] = [attr('hidden_size', H), attr('direction', D === 2 ? 'bidirectional' : 'forward')];
      if (opType === 'GRU') attrs.push(attr('linear_before_reset', m.resetAfter ? 1 : 0));
      if (opType === 'RNN') attrs.push(attr('activations', Array<string>(D).fill(m.mode === 'RNN_RELU' ? 'Relu' : 'Tanh')));
      const outs = this.g.node(opType, inputs, opType === 'LSTM' ? 3 : 2, attrs, `${path}${opType}_l${l}`);
      hs.push(outs[1]!);
      if (opType === 'LSTM') cs.push(outs[2]!);
      // Y (T, D, B, H) → (T, B, D, H) → (T, B, D·H), the next layer's input.
      const [tb] = this.g.node('Transpose', [outs[0]!], 1, [attr('perm', [0, 2, 1, 3])], `${path}Y_l${l}_Transpose`);
      seq = this.g.node('Reshape', [tb!, this.g.ints([0, 0, -1], `${path}Y_l${l}_shape`)], 1, [], `${path}Y_l${l}_Reshape`)[0]!;
    }
    const y = m.batchFirst ? this.g.node('Transpose', [seq], 1, [attr('perm', [1, 0, 2])], `${path}output_Transpose`)[0]! : seq;
    const h = hs.length === 1 ? hs[0]! : this.g.node('Concat', hs, 1, [attr('axis', 0)], `${path}h_n_Concat`)[0]!;
    const c = cs.length === 0 ? null : cs.length === 1 ? cs[0]! : this.g.node('Concat', cs, 1, [attr('axis', 0)], `${path}c_n_Concat`)[0]!;
    const shape = m.batchFirst ? [B, T, m.outputSize] : [T, B, m.outputSize];
    return { y: { name: y, shape }, h, c };
  }

  input(name: string, elemType: number, shape: Dim[]): Value {
    this.g.reserve(name);
    this.inputs.push(valueInfo(name, elemType, shape));
    return { name, shape };
  }

  /** Makes `v` a graph output called `name` (an Identity when the value already has another name). */
  output(name: string, v: Value): void {
    if (v.name !== name) {
      this.g.reserve(name);
      this.g.node('Identity', [v.name], [name], [], `${name}_Identity`);
    }
    this.outputs.push(valueInfo(name, this.elemType, v.shape));
  }
}

/**
 * Recurrent / Bidirectional (concat) / Stacked over the built-in RNNCell, LSTMCell or GRUCell as
 * the equivalent batch-first RNN/LSTM/GRU layer (same weights, same function), so they export
 * as ONNX's own operators. Null when a cell is not a built-in one (a custom cell) or the
 * arrangement has no ONNX operator (a reverse Recurrent on its own, returnSequences=false, a
 * merge other than concat, a mixed stack): those export as ONNX Scan nodes.
 */
function builtinCellsAsLayer(m: Module): RNNBase | null {
  const layers: RecurrentCell[][] = [];
  const direction = (r: Module, reverse: boolean): RecurrentCell | null => {
    if (!(r instanceof Recurrent) || r.reverse !== reverse || !r.returnSequences) return null;
    return r.cell;
  };
  const addLayer = (l: Module): boolean => {
    if (l instanceof Recurrent) {
      const c = direction(l, false);
      if (!c) return false;
      layers.push([c]);
      return true;
    }
    if (l instanceof Bidirectional) {
      const f = direction(l.forwardLayer, false);
      const b = direction(l.backwardLayer, true);
      if (l.mergeMode !== 'concat' || !f || !b) return false;
      layers.push([f, b]);
      return true;
    }
    return false;
  };
  if (m instanceof Stacked) {
    if (!m.layers.every((l) => addLayer(l))) return null;
  } else if (!addLayer(m)) return null;
  const cells = layers.flat();
  const first = cells[0]!;
  const kind = (c: RecurrentCell): string | null =>
    c.constructor === LSTMCell ? 'LSTM'
    : c.constructor === GRUCell ? `GRU:${(c as GRUCell).resetAfter}`
    : c.constructor === RNNCell ? `RNN:${(c as RNNCell).nonlinearity}`
    : null;
  if (cells.some((c) => kind(c) === null)) return null;
  const k = kind(first)!;
  const D = layers[0]!.length;
  const H = first.hiddenSize;
  const bias = (first as GRUCell).biasIh !== null;
  // A mixed stack has no single ONNX operator per layer: it exports through Scan (see scan.ts).
  if (cells.some((c) => kind(c) !== k || c.hiddenSize !== H || ((c as GRUCell).biasIh !== null) !== bias) || layers.some((l) => l.length !== D)) return null;
  const opts = { numLayers: layers.length, bidirectional: D === 2, bias, batchFirst: true, dtype: first.dtype };
  const layer = k === 'LSTM' ? new LSTM(first.inputSize, H, opts)
    : k.startsWith('GRU') ? new GRU(first.inputSize, H, { ...opts, resetAfter: (first as GRUCell).resetAfter })
    : new RNN(first.inputSize, H, { ...opts, nonlinearity: (first as RNNCell).nonlinearity });
  layers.forEach((dirs, l) => dirs.forEach((c, d) => {
    const cell = c as GRUCell;
    const p = layer.params[l]![d]!;
    p.weightIh.data.set(cell.weightIh.data);
    p.weightHh.data.set(cell.weightHh.data);
    if (bias) {
      p.biasIh!.data.set(cell.biasIh!.data);
      p.biasHh!.data.set(cell.biasHh!.data);
    }
  }));
  return layer;
}

/** The CLI's model shape: optional `embedding`, recurrent `rnn`, Linear `head`, `config.readout`. */
interface SequenceModelLike extends Module {
  embedding: Embedding | null;
  rnn: Module;
  head: Linear;
  config: { readout: 'last' | 'all' };
}

function asSequenceModel(m: Module): SequenceModelLike | null {
  const kids = new Map(m.namedChildren());
  const readout = (m as { config?: { readout?: unknown } }).config?.readout;
  if (!(kids.get('head') instanceof Linear) || !kids.has('rnn') || (readout !== 'last' && readout !== 'all')) return null;
  const emb = kids.get('embedding');
  if (emb !== undefined && !(emb instanceof Embedding)) return null;
  if (kids.size !== (emb ? 3 : 2)) return null;
  return m as SequenceModelLike;
}

/** The symbolic shape of the example input: dynamic batch (and sequence) axes, fixed features. */
function inputShape(example: Tensor, timeMajor: boolean): Dim[] {
  const s = [...example.shape];
  if (example.dtype === 'int32') {
    if (s.length === 1) return ['batch'];
    if (s.length === 2) return timeMajor ? ['sequence', 'batch'] : ['batch', 'sequence'];
    return s.map((d, i) => (i === 0 ? 'batch' : d));
  }
  if (s.length === 2) return ['batch', s[1]!];
  if (s.length === 3) return timeMajor ? ['sequence', 'batch', s[2]!] : ['batch', 'sequence', s[2]!];
  return s.map((d, i) => (i === 0 ? 'batch' : d));
}

function paramDtype(m: Module): 'float32' | 'float64' {
  const dts = new Set(m.parameters().map((p) => p.dtype));
  if (dts.size > 1) throw new SeqgradError(OP, `the module mixes parameter dtypes (${[...dts].join(', ')}); convert it to one dtype first`);
  return dts.has('float64') ? 'float64' : 'float32';
}

/**
 * Exports a module as an ONNX model (a serialized `ModelProto`, opset 17), ready for ONNX
 * Runtime in Node, browsers or phones. `example` is an input the module accepts (its shape
 * fixes the feature sizes; batch and sequence axes are left dynamic); it is run once through
 * the module to check that it fits.
 *
 * Graph inputs and outputs: `input` → `output` for tensor modules (Sequential, Linear, …) and
 * the CLI's model; a bare RNN/LSTM/GRU has `input` [, `lengths`, `h0`, `c0`] →
 * `output`, `h_n` [, `c_n`] in the layer's own layout (batch-first unless `batchFirst: false`);
 * Recurrent, Bidirectional and Stacked have `input` (B, T, I) [, `lengths`] → `output`. A
 * custom cell's step becomes the body of an ONNX Scan; a step `scan` cannot compile is refused
 * with the reason `explainScan` gives.
 * Float inputs and outputs are float32 (or `opts.dtype`); token ids and lengths are int32.
 *
 * @example
 * const lstm = new LSTM(3, 8, { numLayers: 2, bidirectional: true });
 * const bytes = exportOnnx(lstm, randn([2, 5, 3]), { lengths: true });
 * // ort.InferenceSession.create(bytes) → run({ input, lengths }) → { output, h_n, c_n }
 */
/** Whether a zoneout setting (one rate or rates per state entry) zones anything out. */
function hasZoneout(z: number | Readonly<Record<string, number | undefined>>): boolean {
  return typeof z === 'number' ? z > 0 : Object.values(z).some((p) => (p ?? 0) > 0);
}

export function exportOnnx(module: Module, example: Tensor, opts: ExportOnnxOptions = {}): Uint8Array {
  if (!(module instanceof Module)) throw new SeqgradError(OP, `module must be a seqgrad Module, got ${module === null ? 'null' : typeof module}`);
  if (!(example instanceof Tensor)) throw new SeqgradError(OP, `example must be a Tensor, got ${example === null ? 'null' : typeof example}`);
  paramDtype(module);
  // Zoneout changes the evaluation-mode step to p·previous + (1 − p)·new, which neither ONNX's
  // recurrent operators nor the exported Scan bodies compute: refused rather than exported wrong.
  const zoned = module.modules().find((m): m is RNNBase | Recurrent => (m instanceof RNNBase || m instanceof Recurrent) && hasZoneout(m.zoneout));
  if (zoned) {
    throw new SeqgradError(OP, `a ${zoned.constructor.name} has zoneout (${JSON.stringify(zoned.zoneout)}), whose evaluation-mode step p·previous + (1 − p)·new the export does not compute; the same weights load into a layer without zoneout, which exports`);
  }
  const dtype = opts.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float64') throw new SeqgradError(OP, `opts.dtype must be 'float32' or 'float64', got '${String(dtype)}'`);
  const ex = new Exporter(dtype);
  const inputName = opts.inputName ?? 'input';
  const outputName = opts.outputName ?? 'output';
  const seqModel = asSequenceModel(module);
  const stateful = seqModel !== null;
  if (opts.lengths && !(module instanceof RNNBase) && !isSequenceLayer(module)) {
    throw new SeqgradError(OP, `option lengths applies to a bare RNN/LSTM/GRU, Recurrent, Bidirectional or Stacked, not to a ${module.constructor.name}`);
  }
  if ((opts.initialState || opts.finalState !== undefined) && !(module instanceof RNNBase) && !stateful) {
    throw new SeqgradError(OP, `options initialState and finalState apply to a bare RNN/LSTM/GRU or the CLI's model, not to a ${module.constructor.name}`);
  }
  /** Graph inputs h0 (and c0) for a recurrent layer: (layers·D, batch, H). */
  const stateInputs = (m: RNNBase): { h0?: string; c0?: string } => {
    if (!opts.initialState) return {};
    const LD = m.numLayers * m.numDirections;
    const h0 = ex.input('h0', ex.elemType, [LD, 'batch', m.outputHiddenSize]).name;
    return m instanceof LSTM ? { h0, c0: ex.input('c0', ex.elemType, [LD, 'batch', m.hiddenSize]).name } : { h0 };
  };
  const stateOutputs = (m: RNNBase, r: { h: string; c: string | null }, dflt: boolean): void => {
    if (!(opts.finalState ?? dflt)) return;
    const LD = m.numLayers * m.numDirections;
    ex.output('h_n', { name: r.h, shape: [LD, 'batch', m.outputHiddenSize] });
    if (r.c) ex.output('c_n', { name: r.c, shape: [LD, 'batch', m.hiddenSize] });
  };
  const tokenType = opts.tokenType ?? 'int32';
  if (tokenType !== 'int32' && tokenType !== 'int64') throw new SeqgradError(OP, `opts.tokenType must be 'int32' or 'int64', got '${String(tokenType)}'`);
  const elemOf = (t: Tensor) => (t.dtype === 'int32' ? (tokenType === 'int64' ? DataType.INT64 : DataType.INT32) : ex.elemType);

  // The module must accept the example as it is (dtype, rank, feature size).
  noGrad(() => {
    const wasTraining = module.training;
    module.eval();
    try {
      (module as unknown as { forward(x: Tensor): unknown }).forward(example);
    } catch (err) {
      throw new SeqgradError(OP, `the module does not accept example${fmt(example.shape)} (${example.dtype}): ${(err as Error).message}`);
    } finally {
      module.train(wasTraining);
    }
  });

  const cellLayer = module instanceof RNNBase ? null : builtinCellsAsLayer(module);
  if (cellLayer) {
    // Recurrent/Bidirectional/Stacked over built-in cells: input (B, T, I) → output (B, T, D·H).
    if (opts.initialState || opts.finalState) {
      throw new SeqgradError(OP, `options initialState and finalState apply to the RNN/LSTM/GRU layers; export ${module.constructor.name}'s cells as the equivalent ${cellLayer.constructor.name} layer to use them`);
    }
    const x = ex.input(inputName, elemOf(example), inputShape(example, false));
    const lengths = opts.lengths ? ex.input('lengths', DataType.INT32, ['batch']).name : undefined;
    ex.output(outputName, ex.recurrent('', cellLayer, x, lengths ? { lengths } : {}).y);
  } else if (isSequenceLayer(module)) {
    // Recurrent/Bidirectional/Stacked over any cell: one ONNX Scan per layer and direction.
    if (example.ndim !== 3) throw new SeqgradError(OP, `example${fmt(example.shape)} for a ${module.constructor.name} must be batched, (B, T, I)`);
    const x = ex.input(inputName, elemOf(example), inputShape(example, false));
    const lengths = opts.lengths ? ex.input('lengths', DataType.INT32, ['batch']).name : null;
    ex.output(outputName, emitSequenceLayer(ex, '', module, x, lengths));
  } else if (module instanceof RNNBase) {
    if (example.ndim !== 3) throw new SeqgradError(OP, `example${fmt(example.shape)} for a ${module.constructor.name} must be batched, ${module.batchFirst ? '(B, T, I)' : '(T, B, I)'}`);
    const x = ex.input(inputName, elemOf(example), inputShape(example, !module.batchFirst));
    const extra: { lengths?: string; h0?: string; c0?: string } = {};
    if (opts.lengths) extra.lengths = ex.input('lengths', DataType.INT32, ['batch']).name;
    Object.assign(extra, stateInputs(module));
    const r = ex.recurrent('', module, x, extra);
    ex.output(outputName, r.y);
    stateOutputs(module, r, true);
  } else if (seqModel) {
    const x = ex.input(inputName, elemOf(example), inputShape(example, false));
    let v = seqModel.embedding ? ex.emit('embedding.', seqModel.embedding, x) : x;
    const rnn = seqModel.rnn instanceof RNNBase ? seqModel.rnn : builtinCellsAsLayer(seqModel.rnn);
    if (!rnn && !isSequenceLayer(seqModel.rnn)) throw new SeqgradError(OP, `rnn. is a ${seqModel.rnn.constructor.name}, not a recurrent layer`);
    if (rnn !== seqModel.rnn && (opts.initialState || opts.finalState)) {
      throw new SeqgradError(OP, `options initialState and finalState need the model's recurrent part to be an RNN/LSTM/GRU layer, not ${seqModel.rnn.constructor.name} over cells`);
    }
    const r = rnn ? ex.recurrent('rnn.', rnn, v, stateInputs(rnn)) : null;
    v = r ? r.y : emitSequenceLayer(ex, 'rnn.', seqModel.rnn, v, null);
    if (seqModel.config.readout === 'last') {
      // The last step, out[:, -1]: Slice [-1, end) on the time axis, then drop the axis.
      const [sl] = ex.g.node('Slice', [v.name, ex.g.ints([-1], 'last_start'), ex.g.ints([2n ** 63n - 1n], 'last_end'), ex.g.ints([1], 'last_axes')], 1, [], 'last_Slice');
      const [sq] = ex.g.node('Squeeze', [sl!, ex.g.ints([1], 'last_squeeze_axes')], 1, [], 'last_Squeeze');
      v = { name: sq!, shape: [v.shape[0]!, v.shape[2]!] };
    }
    ex.output(outputName, ex.linear('head.', seqModel.head, v));
    if (rnn && r) stateOutputs(rnn, r, false);
  } else {
    const x = ex.input(inputName, elemOf(example), inputShape(example, false));
    ex.output(outputName, ex.emit('', module, x));
  }

  const graph: GraphMsg = {
    name: opts.graphName ?? module.constructor.name,
    node: ex.g.nodes,
    initializer: ex.g.initializers,
    input: ex.inputs,
    output: ex.outputs,
  };
  return encodeModel({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: opts.producerName ?? 'seqgrad',
    producerVersion: '0.1.0',
    graph,
  });
}

