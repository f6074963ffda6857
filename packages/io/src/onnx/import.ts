/**
 * importOnnx: an ONNX model as a seqgrad module whose float initializers are trainable
 * parameters, run by interpreting the graph with autograd ops. Nothing in the file is
 * executed or followed: the graph is checked (operators, references, cycles, tensor sizes,
 * external data) before anything runs.
 */
import { SeqgradError, Tensor, cast, fmt } from '@seqgrad/autograd';
import { GRU, LSTM, Module, RNN, type RNNBase } from '@seqgrad/layers';
import { ONNX_OPERATORS } from './operators.js';
import { OP, OPS, type OpContext, attrInt, attrString, attrStrings, checkRecurrentAttrs } from './ops.js';
import { type AttributeMsg, DATA_TYPE_NAMES, type GraphMsg, type ModelMsg, type NodeMsg, type ValueInfoMsg, decodeModel, int64ToNumber } from './proto.js';
import { decodeTensor } from './tensors.js';

/**
 * Opsets whose operator semantics the importer implements: from 9 (PyTorch's default export
 * opset before 1.12; ConstantOfShape and Erf appear), with each later change of Softmax,
 * Slice, Clip, Squeeze/Unsqueeze and the reductions handled by the operator.
 */
export const MIN_OPSET = 9;
export const MAX_OPSET = 23;

export interface ImportOnnxOptions {
  /** Float dtype of the parameters and of the computation (default float32, as ONNX Runtime). */
  dtype?: 'float32' | 'float64';
}

/** A graph input or output: its name, ONNX element type and shape (numbers or symbolic names). */
export interface OnnxValueInfo {
  name: string;
  elemType: string;
  shape: (number | string | null)[] | null;
}

export interface OnnxImport {
  /** The weights as trainable parameters (float initializers and the recurrent layers' weights). */
  module: OnnxModule;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  /** Runs the graph: feeds and results by the graph's own names and layouts. */
  run(feeds: Record<string, Tensor>): Record<string, Tensor>;
}

interface PlannedNode {
  index: number;
  node: NodeMsg;
  attrs: Map<string, AttributeMsg>;
  where: string;
  layer?: RNNBase;
}

function valueInfo(v: ValueInfoMsg): OnnxValueInfo {
  const tt = v.type?.tensorType;
  return {
    name: v.name ?? '',
    elemType: DATA_TYPE_NAMES[tt?.elemType ?? 0] ?? `type ${tt?.elemType ?? 0}`,
    shape: tt?.shape ? (tt.shape.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue !== undefined ? int64ToNumber(d.dimValue) : null)) : null,
  };
}

/** A container for imported parameters: dotted ONNX names become nested child modules (`head.weight`). */
class ParameterTree extends Module {}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_:/-]/g, '_') || '_';
}

/**
 * The imported model as a module. Its parameters are the graph's float initializers (under
 * their ONNX names, dots nesting as in PyTorch: `head.weight`) and, for each RNN/LSTM/GRU node,
 * a seqgrad layer holding that node's W, R and B in seqgrad's layout (`rnn_LSTM.weight_ih_l0`).
 */
export class OnnxModule extends Module {
  readonly inputs: OnnxValueInfo[];
  readonly outputs: OnnxValueInfo[];
  private readonly values = new Map<string, Tensor>();
  private readonly plan: PlannedNode[];
  private readonly graphOutputs: string[];
  private readonly feedInputs: OnnxValueInfo[];

  constructor(graph: GraphMsg, readonly dtype: 'float32' | 'float64', readonly opset: number) {
    super();
    const initNames = new Set<string>();
    for (const [k, t] of (graph.initializer ?? []).entries()) {
      const name = t.name ?? '';
      if (!name) throw new SeqgradError(OP, `initializer ${k} has no name`);
      if (initNames.has(name)) throw new SeqgradError(OP, `initializer '${name}' is defined twice`);
      initNames.add(name);
      let v = decodeTensor(OP, `initializer '${name}'`, t);
      if (v.dtype !== 'int32' && v.dtype !== dtype) v = cast(v, dtype);
      this.values.set(name, v);
    }
    this.inputs = (graph.input ?? []).map(valueInfo);
    this.outputs = (graph.output ?? []).map(valueInfo);
    this.feedInputs = this.inputs.filter((v) => !initNames.has(v.name));
    for (const v of this.feedInputs) {
      if (!['FLOAT', 'DOUBLE', 'INT32', 'INT64', 'INT8', 'INT16', 'UINT8', 'UINT16', 'UINT32', 'BOOL'].includes(v.elemType)) {
        throw new SeqgradError(OP, `graph input '${v.name}' has element type ${v.elemType}, which seqgrad does not run`);
      }
    }
    this.graphOutputs = this.outputs.map((o) => o.name);
    this.plan = sortNodes(graph, new Set([...initNames, ...this.feedInputs.map((v) => v.name)]), this.graphOutputs);

    // Recurrent nodes: a seqgrad layer per node, built from W, R, B; those initializers are
    // then owned by the layer (converted layout) instead of being parameters of their own,
    // unless something else reads them too.
    const recurrentNodes = this.plan.filter((p) => ['RNN', 'LSTM', 'GRU'].includes(p.node.opType!));
    const usedElsewhere = new Set<string>(this.graphOutputs);
    for (const p of this.plan) if (!recurrentNodes.includes(p)) for (const i of p.node.input ?? []) usedElsewhere.add(i);
    const ownedByLayer = new Set(recurrentNodes.flatMap((p) => (p.node.input ?? []).slice(1, 4)).filter((n) => n && !usedElsewhere.has(n)));
    // Float initializers become trainable parameters, nested by their dotted names.
    for (const [name, t] of this.values) {
      if (t.dtype === 'int32' || ownedByLayer.has(name)) continue;
      t.requiresGrad = true;
      this.registerNested(name, t);
    }
    for (const p of recurrentNodes) {
      checkRecurrentAttrs(this.context(p, [], 0), p.node.opType!);
      const [, wName, rName, bName] = p.node.input ?? [];
      const get = (n: string | undefined, what: string, required: boolean): Tensor | null => {
        if (!n) {
          if (required) throw new SeqgradError(OP, `${p.where}: input ${what} is required`);
          return null;
        }
        const t = this.values.get(n);
        if (!t || t.dtype === 'int32') throw new SeqgradError(OP, `${p.where}: ${what} ('${n}') must be a float initializer (seqgrad turns it into the layer's parameters)`);
        return t;
      };
      p.layer = this.buildLayer(p, get(wName, 'W', true)!, get(rName, 'R', true)!, get(bName, 'B', false));
      this.registerModule(uniqueChildName(this, safeName((p.node.name || `${p.node.opType}_${p.index}`).replace(/^\/+/, '').replace(/\//g, '_'))), p.layer);
    }
    for (const n of ownedByLayer) this.values.delete(n);
  }

  private registerNested(name: string, t: Tensor): void {
    const parts = name.split('.').map(safeName);
    let owner: Module = this;
    for (const part of parts.slice(0, -1)) {
      const existing = new Map(owner.namedChildren()).get(part);
      if (existing !== undefined && !(existing instanceof ParameterTree)) throw new SeqgradError(OP, `initializer '${name}' clashes with another initializer's name`);
      owner = existing ?? owner.registerModule(part, new ParameterTree());
    }
    const leaf = parts[parts.length - 1]!;
    if (owner.namedParameters().some(([n]) => n === leaf) || new Map(owner.namedChildren()).has(leaf)) {
      throw new SeqgradError(OP, `initializer '${name}' clashes with another initializer's name`);
    }
    owner.registerParameter(leaf, t);
  }

  private context(p: PlannedNode, inputs: (Tensor | null)[], numOutputs: number): OpContext {
    return { where: p.where, inputs, attrs: p.attrs, dtype: this.dtype, opset: this.opset, layer: p.layer, numOutputs };
  }

  private buildLayer(p: PlannedNode, W: Tensor, R: Tensor, B: Tensor | null): RNNBase {
    const op = p.node.opType!;
    const ctx = this.context(p, [], 0);
    const D = attrString(ctx, 'direction', 'forward') === 'bidirectional' ? 2 : 1;
    const G = op === 'LSTM' ? 4 : op === 'GRU' ? 3 : 1;
    if (W.ndim !== 3 || W.shape[0] !== D || W.shape[1]! % G !== 0) throw new SeqgradError(OP, `${p.where}: W${fmt(W.shape)} must be (D=${D}, ${G}·H, I)`);
    const H = W.shape[1]! / G;
    const hs = ctx.attrs.has('hidden_size') ? attrInt(ctx, 'hidden_size') : H;
    if (hs !== H) throw new SeqgradError(OP, `${p.where}: W${fmt(W.shape)} does not match hidden_size=${hs}`);
    const I = W.shape[2]!;
    if (R.ndim !== 3 || R.shape[0] !== D || R.shape[1] !== G * H || R.shape[2] !== H) throw new SeqgradError(OP, `${p.where}: R${fmt(R.shape)} must be (${D}, ${G * H}, ${H})`);
    if (B && (B.ndim !== 2 || B.shape[0] !== D || B.shape[1] !== 2 * G * H)) throw new SeqgradError(OP, `${p.where}: B${fmt(B.shape)} must be (${D}, ${2 * G * H})`);
    const opts = { bidirectional: D === 2, batchFirst: false, dtype: this.dtype, bias: B !== null };
    let layer: RNNBase;
    if (op === 'LSTM') layer = new LSTM(I, H, opts);
    else if (op === 'GRU') layer = new GRU(I, H, { ...opts, resetAfter: attrInt(ctx, 'linear_before_reset', 0) === 1 });
    else {
      const acts = attrStrings(ctx, 'activations');
      layer = new RNN(I, H, { ...opts, nonlinearity: acts && acts[0]!.toLowerCase() === 'relu' ? 'relu' : 'tanh' });
    }
    // ONNX gate blocks back to seqgrad's: LSTM (i,o,f,c) → (i,f,g,o); GRU (z,r,h) → (r,z,n).
    const fromOnnx = op === 'LSTM' ? [0, 2, 3, 1] : op === 'GRU' ? [1, 0, 2] : [0];
    // Copies direction d's blocks (H rows of `cols` each, from `offset` within the direction) into dst.
    const block = (src: Tensor, d: number, offset: number, cols: number, dst: Tensor) => {
      fromOnnx.forEach((g, k) => {
        const start = (d * src.size) / D + offset + g * H * cols;
        dst.data.set(src.data.subarray(start, start + H * cols), k * H * cols);
      });
    };
    for (let d = 0; d < D; d++) {
      const prm = layer.params[0]![d]!;
      block(W, d, 0, I, prm.weightIh);
      block(R, d, 0, H, prm.weightHh);
      if (B) {
        block(B, d, 0, 1, prm.biasIh!);
        block(B, d, G * H, 1, prm.biasHh!);
      }
    }
    return layer;
  }

  /** Runs the graph on `feeds` (by input name); returns every graph output by name. */
  run(feeds: Record<string, Tensor>): Record<string, Tensor> {
    if (feeds === null || typeof feeds !== 'object') throw new SeqgradError('run', `feeds must be an object of tensors by input name, got ${String(feeds)}`);
    const env = new Map(this.values);
    const known = new Set(this.feedInputs.map((v) => v.name));
    for (const k of Object.keys(feeds)) {
      if (known.has(k)) continue;
      if (this.inputs.some((v) => v.name === k)) {
        throw new SeqgradError('run', `feed '${k}' names an initializer, which is a parameter of the module here: change it through module.parameters()`);
      }
      throw new SeqgradError('run', `feed '${k}' is not an input of the graph (inputs: ${this.feedInputs.map((v) => v.name).join(', ')})`);
    }
    const dims = new Map<string, number>();
    for (const v of this.feedInputs) {
      const t = feeds[v.name];
      if (t === undefined) throw new SeqgradError('run', `input '${v.name}' is missing (inputs: ${this.feedInputs.map((i) => i.name).join(', ')})`);
      if (!(t instanceof Tensor)) throw new SeqgradError('run', `input '${v.name}' must be a Tensor`);
      const isFloat = v.elemType === 'FLOAT' || v.elemType === 'DOUBLE';
      if (isFloat && t.dtype !== this.dtype) {
        throw new SeqgradError('run', `input '${v.name}'${fmt(t.shape)} is ${t.dtype} but the model runs in ${this.dtype} (${v.elemType} in the graph)`);
      }
      if (!isFloat && t.dtype !== 'int32') throw new SeqgradError('run', `input '${v.name}'${fmt(t.shape)} is ${t.dtype} but the graph wants ${v.elemType} (give an int32 tensor)`);
      if (v.shape) {
        const bad = () => new SeqgradError('run', `input '${v.name}'${fmt(t.shape)} does not match the graph's shape [${v.shape!.map((d) => d ?? '?').join(',')}]`);
        if (t.ndim !== v.shape.length) throw bad();
        v.shape.forEach((d, i) => {
          if (typeof d === 'number' && d !== t.shape[i]) throw bad();
          if (typeof d === 'string') {
            const seen = dims.get(d);
            if (seen !== undefined && seen !== t.shape[i]) throw new SeqgradError('run', `input '${v.name}'${fmt(t.shape)} gives axis '${d}' size ${t.shape[i]}, another input gave it ${seen}`);
            dims.set(d, t.shape[i]!);
          }
        });
      }
      env.set(v.name, t);
    }
    for (const p of this.plan) {
      const inputs = (p.node.input ?? []).map((n) => (n ? env.get(n)! : null));
      const outs = p.node.output ?? [];
      let results: (Tensor | null)[];
      try {
        results = OPS[p.node.opType!]!(this.context(p, inputs, outs.filter(Boolean).length));
      } catch (err) {
        // An op's own error (matmul: inner dimensions differ, …) gains the node it happened in.
        if (err instanceof SeqgradError && !err.message.startsWith(`${OP}: `)) throw new SeqgradError(OP, `${p.where}: ${err.message}`);
        throw err;
      }
      outs.forEach((name, k) => {
        if (!name) return;
        const r = results[k];
        if (!r) throw new SeqgradError(OP, `${p.where}: output ${k} ('${name}') is not produced by seqgrad's ${p.node.opType}`);
        env.set(name, r);
      });
    }
    return Object.fromEntries(this.graphOutputs.map((n) => [n, env.get(n)!]));
  }

  override extraRepr(): string {
    return `inputs: ${this.inputs.map((v) => v.name).join(', ')}; outputs: ${this.outputs.map((v) => v.name).join(', ')}; ${this.plan.length} nodes`;
  }
}

function uniqueChildName(m: Module, base: string): string {
  const taken = new Set(m.namedChildren().map(([n]) => n));
  let name = base;
  for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
  return name;
}

/**
 * Checks every node (domain, operator, references) and orders them so each runs after what
 * it reads (Kahn's algorithm); a cycle is an error naming the nodes on it.
 */
function sortNodes(graph: GraphMsg, available: Set<string>, outputs: string[]): PlannedNode[] {
  const nodes = graph.node ?? [];
  const producer = new Map<string, number>();
  const planned: PlannedNode[] = nodes.map((node, index) => {
    const op = node.opType ?? '';
    const where = `node ${index} (${op || '?'}${node.name ? ` '${node.name}'` : ''})`;
    const domain = node.domain ?? '';
    if (domain !== '' && domain !== 'ai.onnx') throw new SeqgradError(OP, `${where}: operator '${op}' of domain '${domain}' is not supported (seqgrad runs the default ONNX domain only)`);
    if (!ONNX_OPERATORS.has(op)) throw new SeqgradError(OP, `${where}: '${op}' is not an ONNX operator`);
    if (!OPS[op]) throw new SeqgradError(OP, `${where}: operator '${op}' is not supported by seqgrad's importer`);
    const attrs = new Map<string, AttributeMsg>();
    for (const a of node.attribute ?? []) {
      if (a.refAttrName) throw new SeqgradError(OP, `${where}: attribute '${a.name}' refers to a function attribute, which seqgrad does not support`);
      attrs.set(a.name ?? '', a);
    }
    for (const o of node.output ?? []) {
      if (!o) continue;
      if (available.has(o) || producer.has(o)) throw new SeqgradError(OP, `${where}: output '${o}' is already defined (ONNX names each value once)`);
      producer.set(o, index);
    }
    return { index, node, attrs, where };
  });
  for (const p of planned) {
    for (const i of p.node.input ?? []) {
      if (i && !available.has(i) && !producer.has(i)) throw new SeqgradError(OP, `${p.where}: input '${i}' is not a graph input, an initializer or any node's output`);
    }
  }
  for (const o of outputs) if (!available.has(o) && !producer.has(o)) throw new SeqgradError(OP, `graph output '${o}' is not produced by any node`);
  // Kahn: pending counts the inputs each node still waits for.
  const pending = planned.map((p) => (p.node.input ?? []).filter((i) => i && producer.has(i)).length);
  const readers = new Map<number, number[]>();
  planned.forEach((p) => {
    for (const i of p.node.input ?? []) {
      const src = i ? producer.get(i) : undefined;
      if (src !== undefined) readers.set(src, [...(readers.get(src) ?? []), p.index]);
    }
  });
  const ready = planned.filter((_, k) => pending[k] === 0).map((p) => p.index);
  const order: PlannedNode[] = [];
  while (ready.length) {
    const k = ready.shift()!;
    order.push(planned[k]!);
    for (const r of readers.get(k) ?? []) if (--pending[r]! === 0) ready.push(r);
  }
  if (order.length !== planned.length) {
    const stuck = planned.filter((_, k) => pending[k]! > 0).map((p) => p.where);
    throw new SeqgradError(OP, `the graph has a cycle: ${stuck.join(', ')} wait on each other's outputs`);
  }
  return order;
}

/**
 * Imports an ONNX model (a serialized ModelProto) as a trainable seqgrad module with a `run`
 * that takes and returns tensors by the graph's own input and output names and layouts, as
 * ONNX Runtime's `session.run` does. int64 graph inputs (PyTorch's token ids) take int32 tensors.
 * Supports what `torch.onnx.export` produces for Embedding, RNN/LSTM/GRU (layers, directions,
 * batch_first), Linear, activations and softmax, at opsets 9 to 23.
 *
 * @example
 * const { module, run } = importOnnx(bytes);
 * const { log_probs } = run({ tokens: tensor([[1, 2, 3]], { dtype: 'int32' }) });
 * const opt = new Adam(module.parameters(), { lr: 1e-2 }); // fine-tune it
 */
export function importOnnx(bytes: Uint8Array, opts: ImportOnnxOptions = {}): OnnxImport {
  if (!(bytes instanceof Uint8Array)) throw new SeqgradError(OP, `bytes must be a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
  const dtype = opts.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float64') throw new SeqgradError(OP, `opts.dtype must be 'float32' or 'float64', got '${String(dtype)}'`);
  let model: ModelMsg;
  try {
    model = decodeModel(bytes);
  } catch (err) {
    throw new SeqgradError(OP, `the ${bytes.length} bytes are not a valid ONNX model (truncated or corrupt protobuf: ${(err as Error).message})`);
  }
  const graph = model.graph;
  if (!graph || !(graph.node?.length || graph.output?.length)) throw new SeqgradError(OP, `the ${bytes.length} bytes hold no ONNX graph (not an ONNX model, or truncated)`);
  if (model.functions?.length) throw new SeqgradError(OP, `the model defines ${model.functions.length} local function(s), which seqgrad does not run`);
  if (graph.sparseInitializer?.length) throw new SeqgradError(OP, `the graph has sparse initializers, which seqgrad does not read`);
  const opset = (model.opsetImport ?? []).find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx');
  const version = opset ? int64ToNumber(opset.version) : 0;
  if (version < MIN_OPSET || version > MAX_OPSET) {
    throw new SeqgradError(OP, opset ? `opset ${version} of the default domain: seqgrad imports opsets ${MIN_OPSET} to ${MAX_OPSET} (re-export with opset_version in that range)` : `the model imports no default-domain opset`);
  }
  const module = new OnnxModule(graph, dtype, version);
  return { module, inputs: module.inputs, outputs: module.outputs, run: (feeds) => module.run(feeds) };
}

