/**
 * Sequence layers over any cell (Recurrent, Bidirectional, Stacked) as ONNX `Scan` nodes whose
 * body is the cell's traced step graph (`traceStepGraph` from @seqgrad/autograd): one Scan per
 * direction and layer, no unrolling, any sequence length, dynamic batch.
 *
 * The step is traced at two batch sizes; a size that changes between the two traces is
 * k·batch, and the shapes of Reshape and Expand are then built at run time from the input's
 * batch. Values that depend only on parameters are computed once, outside the loop; the rest
 * runs in the body. Lengths (packed-sequence semantics, as `scan`): a (B, T, 1) boolean mask
 * is scanned beside x, and the body keeps the previous state (`Where`) and writes zeros past
 * each sequence's length.
 */
import { SeqgradError, Tensor, arrayFor, fmt, traceStepGraph, type Primitive, type StepGraph, type TraceNode } from '@seqgrad/autograd';
import { Bidirectional, type Module, RNNBase, Recurrent, RecurrentCell, Stacked } from '@seqgrad/layers';
import { type Dim, GraphBuilder, type Value, attr, valueInfo } from './builder.js';
import { AttrType, DataType, type GraphMsg } from './proto.js';

const OP = 'exportOnnx';

/** A dimension of a traced value: a fixed size, or k·batch. */
type SymDim = number | { batch: number };

/** What a Scan export needs from the exporter: the graph, the float type, and the ONNX RNN/LSTM/GRU path for built-in layers. */
export interface ScanHost {
  g: GraphBuilder;
  elemType: number;
  recurrent(path: string, m: RNNBase, x: Value, extra: { lengths?: string }): { y: Value };
}

/** Graph-level values a layer's Scan reads: the batch size [B] (int64, 1-D) and the lengths mask. */
interface SeqContext {
  batch: string;
  /** (B, T, 1) bool, true where step t is inside sequence b; null without lengths. */
  mask: string | null;
  /** The lengths input (int32, [B]) for ONNX's own recurrent operators. */
  lengths: string | null;
}

/** The probe batch sizes of the two traces; their ratio tells k·batch apart from fixed sizes. */
const PROBE_B = [2, 3] as const;

/** Whether a module is a sequence layer this file exports (a custom cell anywhere in it is fine). */
export function isSequenceLayer(m: Module): boolean {
  return m instanceof Recurrent || m instanceof Bidirectional || m instanceof Stacked;
}

/** The cell's step traced at the two probe batch sizes, with every value's shape made symbolic. */
function traceCell(where: string, cell: RecurrentCell): { graph: StepGraph; shapes: SymDim[][] } {
  const name = cell.constructor.name;
  const graphs = PROBE_B.map((B) => {
    const x = new Tensor(arrayFor(cell.dtype, B * cell.inputSize), [B, cell.inputSize]);
    const r = traceStepGraph(cell, x, cell.initialState(B), { check: (next) => cell.checkStepResult(`${OP}: ${where}`, next, B) });
    if (!r.ok) throw new SeqgradError(OP, `${where}: the step of ${name} cannot be exported as an ONNX Scan: ${r.reason}`);
    return r.graph;
  });
  const [g0, g1] = graphs as [StepGraph, StepGraph];
  const differs = (what: string): never => {
    throw new SeqgradError(OP, `${where}: the step of ${name} records a different graph at batch ${PROBE_B[0]} and ${PROBE_B[1]} (${what}); an ONNX Scan body needs one graph for every batch size`);
  };
  if (g0.nodes.length !== g1.nodes.length || g0.values.length !== g1.values.length) differs(`${g0.nodes.length} and ${g1.nodes.length} nodes`);
  g0.nodes.forEach((n, i) => {
    const m = g1.nodes[i]!;
    if (n.op !== m.op || n.output !== m.output || n.inputs.join() !== m.inputs.join()) differs(`node ${i}: '${n.op}' and '${m.op}'`);
    const { shape: _a, ...ra } = n.attrs;
    const { shape: _b, ...rb } = m.attrs;
    if (JSON.stringify(ra) !== JSON.stringify(rb)) differs(`node ${i} '${n.op}' has arguments ${JSON.stringify(ra)} and ${JSON.stringify(rb)}`);
  });
  const shapes = g0.values.map((v, id) => {
    const w = g1.values[id]!;
    if (v.kind !== w.kind || v.shape.length !== w.shape.length) differs(`value ${id}`);
    return v.shape.map((d0, k): SymDim => {
      const d1 = w.shape[k]!;
      if (d0 === d1) return d0;
      if (d0 % PROBE_B[0] === 0 && d1 % PROBE_B[1] === 0 && d0 / PROBE_B[0] === d1 / PROBE_B[1]) return { batch: d0 / PROBE_B[0] };
      return differs(`value ${id} has shape ${fmt(v.shape)} and ${fmt(w.shape)}`);
    });
  });
  // A capture of batch-dependent shape (a tensor made inside the step without a primitive) must be one value repeated.
  for (const c of g0.captures) {
    if (shapes[c]!.every((d) => typeof d === 'number')) continue;
    for (const g of graphs) {
      const t = g.values[c]!.tensor!;
      if (t.data.some((v) => v !== t.data[0])) {
        throw new SeqgradError(OP, `${where}: the step of ${name} makes a tensor${fmt(t.shape)} of the batch's size that is not a primitive's result and not one value repeated; ONNX cannot rebuild it at another batch size`);
      }
    }
  }
  return { graph: g0, shapes };
}

/** Builds ONNX nodes for one traced step; `names[id]` is the ONNX name of value id. */
class StepEmitter {
  constructor(
    private readonly host: ScanHost,
    private readonly shapes: SymDim[][],
    private readonly names: string[],
    private readonly ctx: SeqContext,
    private readonly path: string,
  ) {}

  private get g(): GraphBuilder {
    return this.host.g;
  }

  /** An int64 1-D shape tensor for a symbolic shape; batch-dependent ones are computed from the batch input, once per graph. */
  shapeTensor(shape: readonly SymDim[]): string {
    if (shape.every((d) => typeof d === 'number')) return this.g.ints(shape as number[], `${this.path}shape`);
    const parts = shape.map((d) => {
      if (typeof d === 'number') return this.g.ints([d], `${this.path}dim`);
      if (d.batch === 1) return this.ctx.batch;
      return this.outer('Mul', [this.ctx.batch, this.g.ints([d.batch], `${this.path}k`)]);
    });
    return this.outer('Concat', parts, [attr('axis', 0)]);
  }

  private outer(op: string, inputs: string[], attrs: ReturnType<typeof attr>[] = []): string {
    return this.g.mainNode(op, inputs, attrs, `${this.path}${op}`);
  }

  private floatScalar(v: number, base: string): string {
    const t = new Tensor(new Float64Array([v]), []);
    return this.g.tensor(`${this.path}${base}`, t);
  }

  private one(op: string, inputs: string[], attrs: ReturnType<typeof attr>[] = []): string {
    return this.g.node(op, inputs, 1, attrs, `${this.path}${op}`)[0]!;
  }

  private attrOf<T>(n: TraceNode, key: string, check: (v: unknown) => boolean, what: string): T {
    const v = n.attrs[key];
    if (!check(v)) throw new SeqgradError(OP, `${this.path || 'the module'}: the traced '${n.op}' carries no ${what} ('${key}'), so it cannot be written as ONNX`);
    return v as T;
  }

  /** The ONNX nodes of one primitive; returns the name of its result. */
  node(n: TraceNode): string {
    const ins = n.inputs.map((i) => this.names[i]!);
    const rank = (i: number) => this.shapes[n.inputs[i]!]!.length;
    const axesOf = () => this.attrOf<number[]>(n, 'axes', Array.isArray, 'axes');
    const rule = PRIMITIVE_TO_ONNX[n.op];
    if (rule === null || rule === undefined) throw new SeqgradError(OP, `${this.path || 'the module'}: the step uses the primitive '${n.op}', which has no ONNX mapping`);
    switch (rule) {
      case 'Gemm':
        return this.one('Gemm', ins, [attr('transA', n.attrs.transA ? 1 : 0), attr('transB', n.attrs.transB ? 1 : 0)]);
      case 'Clip': {
        // Clip(x, min, max); an infinite bound is left out (an empty input name).
        const bound = (v: unknown, base: string) => (typeof v === 'number' && Number.isFinite(v) ? this.floatScalar(v, base) : '');
        const inputs = [ins[0]!, bound(n.attrs.lo, 'clip_min'), bound(n.attrs.hi, 'clip_max')];
        while (inputs[inputs.length - 1] === '') inputs.pop();
        return this.one('Clip', inputs);
      }
      case 'Identity':
        return this.one('Identity', ins);
      case 'ReduceSum': {
        const axes = axesOf();
        const keepdim = Boolean(n.attrs.keepdim);
        if (axes.length === 0) return this.one('Identity', ins);
        return this.one('ReduceSum', [ins[0]!, this.g.ints(axes, `${this.path}axes`)], [attr('keepdims', keepdim ? 1 : 0)]);
      }
      case 'ReduceMax': case 'ReduceMin': {
        const axes = axesOf();
        return this.one(rule, ins, [attr('axes', axes), attr('keepdims', n.attrs.keepdim ? 1 : 0)]);
      }
      case 'Reshape':
        return this.one('Reshape', [ins[0]!, this.shapeTensor(this.shapes[n.output]!)]);
      case 'Expand':
        return this.one('Expand', [ins[0]!, this.shapeTensor(this.shapes[n.output]!)]);
      case 'Transpose':
        return this.one('Transpose', ins, [attr('perm', this.attrOf<number[]>(n, 'perm', Array.isArray, 'permutation'))]);
      case 'Concat':
        return this.one('Concat', ins, [attr('axis', this.attrOf<number>(n, 'axis', Number.isInteger, 'axis'))]);
      case 'Slice': {
        const axis = this.attrOf<number>(n, 'axis', Number.isInteger, 'axis');
        const start = this.attrOf<number>(n, 'start', Number.isInteger, 'start');
        const length = this.attrOf<number>(n, 'length', Number.isInteger, 'length');
        return this.one('Slice', [ins[0]!, this.g.ints([start], `${this.path}starts`), this.g.ints([start + length], `${this.path}ends`), this.g.ints([axis], `${this.path}axes`)]);
      }
      case 'Pad': {
        const r = rank(0);
        const axis0 = this.attrOf<number>(n, 'axis', Number.isInteger, 'axis');
        const axis = axis0 < 0 ? axis0 + r : axis0;
        const before = this.attrOf<number>(n, 'before', Number.isInteger, 'before');
        const total = this.attrOf<number>(n, 'total', Number.isInteger, 'total');
        const len = this.shapes[n.inputs[0]!]![axis];
        if (typeof len !== 'number') throw new SeqgradError(OP, `${this.path || 'the module'}: the step pads along the batch axis, which ONNX export cannot size`);
        const pads = new Array<number>(2 * r).fill(0);
        pads[axis] = before;
        pads[r + axis] = total - before - len;
        return this.one('Pad', [ins[0]!, this.g.ints(pads, `${this.path}pads`)], [attr('mode', 'constant')]);
      }
      case 'Where':
        return this.one('Where', [this.one('Cast', [ins[0]!], [attr('to', DataType.BOOL)]), ins[1]!, ins[2]!]);
      case 'Flip': {
        const axes = axesOf();
        const big = 2n ** 63n - 1n;
        return this.one('Slice', [
          ins[0]!, this.g.ints(axes.map(() => -1), `${this.path}starts`), this.g.ints(axes.map(() => -big), `${this.path}ends`),
          this.g.ints(axes, `${this.path}axes`), this.g.ints(axes.map(() => -1), `${this.path}steps`),
        ]);
      }
      default:
        // Elementwise operators with ONNX's (numpy) broadcasting, as seqgrad's.
        return this.one(rule, ins);
    }
  }
}

/**
 * The ONNX form of every primitive (null: none). Keyed by the Primitive union, so a new
 * primitive does not compile until it is given a mapping or an explicit null.
 */
const PRIMITIVE_TO_ONNX: Record<Primitive, string | null> = {
  add: 'Add', mul: 'Mul', div: 'Div', neg: 'Neg', pow: 'Pow', exp: 'Exp', log: 'Log', sqrt: 'Sqrt', abs: 'Abs', tanh: 'Tanh',
  sigmoid: 'Sigmoid', relu: 'Relu', clamp: 'Clip', maximum: 'Max', minimum: 'Min', where: 'Where', cast: 'Identity',
  sum: 'ReduceSum', amax: 'ReduceMax', norm: null,
  matmul: 'Gemm',
  reshape: 'Reshape', permute: 'Transpose', expand: 'Expand', concat: 'Concat', narrow: 'Slice', pad: 'Pad', flip: 'Flip', unbind: null,
  indexSelect: null, indexAdd: null, gather: null, scatterAdd: null,
};

/** Exports a sequence layer (Recurrent, Bidirectional, Stacked, RNN/LSTM/GRU inside a Stacked) over x (B, T, I). */
export function emitSequenceLayer(host: ScanHost, path: string, m: Module, x: Value, lengthsInput: string | null): Value {
  const g = host.g;
  const [shape] = g.node('Shape', [x.name], 1, [], `${path}Shape`);
  const batchDim = g.node('Slice', [shape!, g.ints([0], `${path}batch_start`), g.ints([1], `${path}batch_end`), g.ints([0], `${path}batch_axes`)], 1, [], `${path}batch_Slice`)[0]!;
  let mask: string | null = null;
  if (lengthsInput) {
    // mask[b, t, 0] = t < lengths[b]
    const T = g.node('Gather', [shape!, g.int64Scalar(1, `${path}time_axis`)], 1, [attr('axis', 0)], `${path}T_Gather`)[0]!;
    const steps = g.node('Range', [g.int64Scalar(0, `${path}range_start`), T, g.int64Scalar(1, `${path}range_delta`)], 1, [], `${path}Range`)[0]!;
    const len64 = g.node('Cast', [lengthsInput], 1, [attr('to', DataType.INT64)], `${path}lengths_Cast`)[0]!;
    const lenCol = g.node('Unsqueeze', [len64, g.ints([1], `${path}lengths_axes`)], 1, [], `${path}lengths_Unsqueeze`)[0]!;
    const less = g.node('Less', [steps, lenCol], 1, [], `${path}mask_Less`)[0]!;
    mask = g.node('Unsqueeze', [less, g.ints([2], `${path}mask_axes`)], 1, [], `${path}mask_Unsqueeze`)[0]!;
  }
  // The exported function is the eval-mode one (no dropout), as for every other module.
  const wasTraining = m.training;
  m.eval();
  try {
    return layer(host, path, m, x, { batch: batchDim, mask, lengths: lengthsInput });
  } finally {
    m.train(wasTraining);
  }
}

function layer(host: ScanHost, path: string, m: Module, x: Value, ctx: SeqContext): Value {
  const g = host.g;
  if (m instanceof Stacked) {
    // Dropout between layers is the identity in the exported (eval-mode) function.
    let y = x;
    m.layers.forEach((l, i) => {
      y = layer(host, `${path}${i}.`, l as unknown as Module, y, ctx);
    });
    return y;
  }
  if (m instanceof Recurrent) return recurrentScan(host, path, m, x, ctx).y;
  if (m instanceof Bidirectional) {
    const f = recurrentScan(host, `${path}forward_layer.`, m.forwardLayer, x, ctx).y;
    const b = recurrentScan(host, `${path}backward_layer.`, m.backwardLayer, x, ctx).y;
    const H = f.shape[f.shape.length - 1] as number;
    const shape = [...f.shape.slice(0, -1), m.mergeMode === 'concat' ? 2 * H : H];
    if (m.mergeMode === 'concat') return { name: g.node('Concat', [f.name, b.name], 1, [attr('axis', -1)], `${path}Concat`)[0]!, shape };
    if (m.mergeMode === 'sum') return { name: g.node('Add', [f.name, b.name], 1, [], `${path}Add`)[0]!, shape };
    if (m.mergeMode === 'mul') return { name: g.node('Mul', [f.name, b.name], 1, [], `${path}Mul`)[0]!, shape };
    const sum = g.node('Add', [f.name, b.name], 1, [], `${path}Add`)[0]!;
    const half = g.tensor(`${path}half`, new Tensor(new Float64Array([0.5]), []));
    return { name: g.node('Mul', [sum, half], 1, [], `${path}Mul`)[0]!, shape };
  }
  if (m instanceof RNNBase) {
    if (!m.batchFirst) throw new SeqgradError(OP, `${path}: a ${m.constructor.name} with batchFirst false inside a Stacked is not exported; use batchFirst: true`);
    return host.recurrent(path, m, x, ctx.lengths ? { lengths: ctx.lengths } : {}).y;
  }
  throw new SeqgradError(OP, `${path || 'the module'} is a ${m.constructor.name}, not a sequence layer (Recurrent, Bidirectional, Stacked, RNN, LSTM, GRU)`);
}

/** One Recurrent layer as one ONNX Scan over x (B, T, I) → (B, T, H) (the final h when returnSequences is false). */
function recurrentScan(host: ScanHost, path: string, r: Recurrent, x: Value, ctx: SeqContext): { y: Value } {
  const g = host.g;
  const cell = r.cell;
  const { graph, shapes } = traceCell(path || 'the module', cell);
  const names: string[] = new Array(graph.values.length);
  const emitter = new StepEmitter(host, shapes, names, ctx, path);
  const paramNames = new Map(cell.namedParameters().map(([n, t]) => [t, n] as const));

  // Captures: initializers (parameters under their names), or a repeated value expanded to the batch.
  for (const c of graph.captures) {
    const t = graph.values[c]!.tensor!;
    const sym = shapes[c]!;
    if (sym.every((d) => typeof d === 'number')) {
      names[c] = g.tensor(`${path}cell.${paramNames.get(t) ?? 'const'}`, t);
    } else {
      const scalar = g.tensor(`${path}cell.fill`, new Tensor(new Float64Array([t.data[0] ?? 0]), []));
      names[c] = g.node('Expand', [scalar, emitter.shapeTensor(sym)], 1, [], `${path}fill_Expand`)[0]!;
    }
  }
  // What depends only on parameters is computed once, before the loop.
  for (const n of graph.nodes) if (n.region === 'const') names[n.output] = emitter.node(n);

  const E = graph.keys.length;
  const stateDims = (id: number): Dim[] => shapes[id]!.map((d) => (typeof d === 'number' ? d : d.batch === 1 ? 'batch' : `${d.batch}*batch`));
  const bodyInputs = graph.stateIn.map((id, e) => {
    names[id] = g.fresh(`${path}${graph.keys[e]}_prev`);
    return valueInfo(names[id], host.elemType, stateDims(id));
  });
  names[graph.x] = g.fresh(`${path}x_t`);
  bodyInputs.push(valueInfo(names[graph.x], host.elemType, stateDims(graph.x)));
  const maskT = ctx.mask ? g.fresh(`${path}mask_t`) : null;
  if (maskT) bodyInputs.push(valueInfo(maskT, DataType.BOOL, ['batch', 1]));

  let outNames: string[] = [];
  const body = g.body(() => {
    for (const n of graph.nodes) if (n.region !== 'const') names[n.output] = emitter.node(n);
    const next = graph.stateOut.map((id, e) => {
      const out = g.fresh(`${path}${graph.keys[e]}_next`);
      if (maskT) g.node('Where', [maskT, names[id]!, names[graph.stateIn[e]!]!], [out], [], `${path}${graph.keys[e]}_Where`);
      else g.node('Identity', [names[id]!], [out], [], `${path}${graph.keys[e]}_Identity`);
      return out;
    });
    const seq = g.fresh(`${path}h_t`);
    const hOut = names[graph.stateOut[0]!]!;
    if (maskT) g.node('Where', [maskT, hOut, g.tensor(`${path}zero`, new Tensor(new Float64Array([0]), []))], [seq], [], `${path}h_t_Where`);
    else g.node('Identity', [hOut], [seq], [], `${path}h_t_Identity`);
    outNames = [...next, seq];
  });
  const bodyOutputs = outNames.map((name, k) => valueInfo(name, host.elemType, stateDims(k < E ? graph.stateOut[k]! : graph.stateOut[0]!)));
  const bodyGraph: GraphMsg = { name: `${path}step`, node: body.nodes, input: bodyInputs, output: bodyOutputs, initializer: [] };

  // Initial state: zeros (B, n) per entry.
  const zero = g.tensor(`${path}zero`, new Tensor(new Float64Array([0]), []));
  const inits = graph.stateIn.map((id, e) => g.node('Expand', [zero, emitter.shapeTensor(shapes[id]!)], 1, [], `${path}${graph.keys[e]}0_Expand`)[0]!);
  const dir = r.reverse ? 1 : 0;
  const scanIn = ctx.mask ? [x.name, ctx.mask] : [x.name];
  const outs = g.node('Scan', [...inits, ...scanIn], E + 1, [
    { name: 'body', type: AttrType.GRAPH, g: bodyGraph },
    attr('num_scan_inputs', scanIn.length),
    attr('scan_input_axes', scanIn.map(() => 1)),
    attr('scan_input_directions', scanIn.map(() => dir)),
    attr('scan_output_axes', [1]),
    attr('scan_output_directions', [dir]),
  ], `${path}Scan`);
  const H = cell.outputSize;
  if (!r.returnSequences) return { y: { name: outs[0]!, shape: [x.shape[0]!, H] } };
  return { y: { name: outs[E]!, shape: [x.shape[0]!, x.shape[1]!, H] } };
}
