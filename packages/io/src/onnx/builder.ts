/**
 * The graph under construction for exportOnnx: nodes, initializers and value names unique
 * across the graph and the bodies of its Scan nodes (ONNX forbids a body to reuse an outer name).
 */
import { SeqgradError, Tensor, cast } from '@seqgrad/autograd';
import { AttrType, type AttributeMsg, type NodeMsg, type TensorProtoMsg, type ValueInfoMsg } from './proto.js';
import { encodeTensor, int64Tensor } from './tensors.js';

const OP = 'exportOnnx';

export type Dim = number | string;

/** A value in the graph being built: its name and its (partly symbolic) shape. */
export interface Value {
  name: string;
  shape: Dim[];
}

export function attr(name: string, v: number | string | readonly number[] | readonly string[], kind: 'int' | 'float' = 'int'): AttributeMsg {
  if (typeof v === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return kind === 'float' ? { name, type: AttrType.FLOAT, f: v } : { name, type: AttrType.INT, i: v };
  if (v.length > 0 && typeof v[0] === 'string') return { name, type: AttrType.STRINGS, strings: (v as string[]).map((s) => new TextEncoder().encode(s)) };
  return { name, type: AttrType.INTS, ints: [...(v as number[])] };
}

export class GraphBuilder {
  /** Where node() appends: the main graph, or a body being built (see body()). */
  nodes: NodeMsg[] = [];
  readonly initializers: TensorProtoMsg[] = [];
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(readonly dtype: 'float32' | 'float64') {}

  fresh(base: string): string {
    let name = base;
    while (this.used.has(name)) name = `${base}_${++this.counter}`;
    this.used.add(name);
    return name;
  }
  reserve(name: string): string {
    if (this.used.has(name)) throw new SeqgradError(OP, `the name '${name}' is used twice in the graph`);
    this.used.add(name);
    return name;
  }

  node(opType: string, inputs: string[], outputs: number | string[], attributes: AttributeMsg[] = [], base = opType): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, (_, k) => this.fresh(`${base}_out${k}`)) : outputs;
    this.nodes.push({ opType, input: inputs, output: outs, name: this.fresh(`${base}_node`), attribute: attributes, domain: '' });
    return outs;
  }

  /** The main graph's nodes (nodes is another list while a body is built). */
  readonly main: NodeMsg[] = this.nodes;

  /** node() in the main graph, also while a body is being built (for values that do not change over time). */
  mainNode(opType: string, inputs: string[], attributes: AttributeMsg[] = [], base = opType): string {
    const current = this.nodes;
    this.nodes = this.main;
    try {
      return this.node(opType, inputs, 1, attributes, base)[0]!;
    } finally {
      this.nodes = current;
    }
  }

  /** An int64 scalar initializer. */
  int64Scalar(value: number, base = 'const'): string {
    const name = this.fresh(base);
    this.initializers.push(int64Tensor(name, [value], []));
    return name;
  }

  /** Runs `build` with node() appending to a fresh list: the nodes of a subgraph (a Scan body). */
  body<T>(build: () => T): { nodes: NodeMsg[]; result: T } {
    const outer = this.nodes;
    const nodes: NodeMsg[] = [];
    this.nodes = nodes;
    try {
      return { nodes, result: build() };
    } finally {
      this.nodes = outer;
    }
  }

  tensor(name: string, t: Tensor): string {
    this.initializers.push(encodeTensor(this.fresh(name), t.dtype === this.dtype ? t : cast(t.detach(), this.dtype)));
    return this.initializers[this.initializers.length - 1]!.name!;
  }
  ints(values: readonly (number | bigint)[], base = 'const'): string {
    const name = this.fresh(base);
    this.initializers.push(int64Tensor(name, values));
    return name;
  }
}

export function valueInfo(name: string, elemType: number, shape: Dim[]): ValueInfoMsg {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

