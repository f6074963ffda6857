/**
 * The tracer of `scan`: runs one step of a cell on probe tensors and records every primitive
 * it applies into a static graph. It watches the single point where functions are applied
 * (the engine's observer), so it sees exactly what autograd would record. Tensors the step
 * reads that the tracer did not make (parameters, constants) become captures: inputs of the
 * graph read afresh at every call. A step that reads values, draws random numbers or calls a
 * function the compiler does not know stops the trace with the reason.
 */
import { type ApplyObserver, type FunctionDefinition, setApplyObserver, setGradEnabled } from '../engine.js';
import { fmt } from '../errors.js';
import { numel, sameShape } from '../shapes.js';
import { primitiveDefinitions } from '../ops/op.js';
import type { Primitive } from '../primitives.js';
import { Generator } from '../random.js';
import { type FloatDType, Tensor } from '../tensor.js';

/** The primitives the plan compiler can run; any other stops the trace. */
export const COMPILED_PRIMITIVES: ReadonlySet<Primitive> = new Set<Primitive>([
  'add', 'mul', 'div', 'neg', 'exp', 'log', 'sqrt', 'abs', 'tanh', 'sigmoid', 'relu', 'clamp', 'cast',
  'sum', 'matmul', 'reshape', 'permute', 'expand', 'concat', 'narrow', 'pad',
]);

/**
 * Where a value of the step graph lives:
 * - 'const': depends only on captures (computed once per call);
 * - 'hoist': depends on x_t and captures, not on the state (computed for all steps before the loop);
 * - 'rec': depends on the state (computed step by step).
 */
export type Region = 'const' | 'hoist' | 'rec';

export interface TraceValue {
  id: number;
  shape: readonly number[];
  size: number;
  kind: 'x' | 'state' | 'capture' | 'node';
  region: Region;
  /** kind 'state': the state entry it holds. */
  key?: string;
  /** kind 'capture': the tensor read at every call. */
  tensor?: Tensor;
}

export interface TraceNode {
  op: Primitive;
  inputs: number[];
  output: number;
  region: Region;
  /** Non-tensor arguments: axes, shapes, flags. */
  attrs: Record<string, unknown>;
}

export interface StepGraph {
  dtype: FloatDType;
  values: TraceValue[];
  nodes: TraceNode[];
  x: number;
  /** Value id of each state entry, in the order of `keys`. */
  stateIn: number[];
  /** Value id the step returns for each state entry. */
  stateOut: number[];
  keys: string[];
  captures: number[];
}

/** Thrown inside the step to stop a trace; carries why. */
export class TraceAbort extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

export type TraceResult = { ok: true; graph: StepGraph } | { ok: false; reason: string };

/** The first stack frame outside seqgrad's autograd package, to say where user code did something. */
function userFrame(): string {
  const lines = (new Error().stack ?? '').split('\n').slice(1);
  const own = lines.find((l) => !/[\\/]autograd[\\/](src|dist)[\\/]/.test(l) && !l.includes('node:internal'));
  return own ? ` (${own.trim().replace(/^at /, 'at ')})` : '';
}

/**
 * Traces `step(x, state)` once on copies of `x` (B, I) and `state`, under noGrad.
 * Returns the graph, or why it cannot be compiled.
 */
export function traceStep(
  step: (x: Tensor, s: Record<string, Tensor>) => Record<string, Tensor>,
  x: Tensor,
  state: Record<string, Tensor>,
  keys: readonly string[],
): TraceResult {
  const dtype = x.dtype as FloatDType;
  const values: TraceValue[] = [];
  const nodes: TraceNode[] = [];
  const ids = new Map<Tensor, number>();
  /** Node output by `op|inputs|attrs`, for merging repeated computations. */
  const seen = new Map<string, number>();
  let depth = 0;
  let abort: TraceAbort | null = null;
  const fail = (reason: string): never => {
    abort ??= new TraceAbort(reason);
    throw abort;
  };

  // Traced tensors refuse to show their values outside a primitive's forward.
  const guard = (t: Tensor): void => {
    const data = t.data;
    // The size is no value: ops read it (through data.length) to allocate.
    Object.defineProperty(t, 'size', { configurable: true, value: data.length });
    Object.defineProperty(t, 'data', {
      configurable: true,
      enumerable: true,
      get() {
        if (depth === 0) fail(`it reads tensor values (.data, .item() or .toArray()) inside the step${userFrame()}`);
        return data;
      },
    });
  };
  const addValue = (v: Omit<TraceValue, 'id' | 'size'>): number => {
    const id = values.length;
    values.push({ ...v, id, size: numel(v.shape) });
    return id;
  };
  const probe = (t: Tensor, kind: 'x' | 'state', key?: string): Tensor => {
    const p = new Tensor(t.data.slice(), t.shape);
    ids.set(p, addValue({ shape: t.shape, kind, region: kind === 'x' ? 'hoist' : 'rec', ...(key === undefined ? {} : { key }) }));
    guard(p);
    return p;
  };
  const valueOf = (t: Tensor, what: string): number => {
    const known = ids.get(t);
    if (known !== undefined) return known;
    if (t.dtype !== dtype) fail(`${what} is ${t.dtype}${fmt(t.shape)} while the step runs in ${dtype}`);
    const id = addValue({ shape: t.shape, kind: 'capture', region: 'const', tensor: t });
    ids.set(t, id);
    return id;
  };

  const observer: ApplyObserver = {
    enter() {
      depth++;
    },
    exit(def: FunctionDefinition<never[], Tensor | Tensor[]>, args: readonly unknown[], outputs: readonly Tensor[] | null) {
      depth--;
      if (depth > 0 || outputs === null || abort) return;
      const name = (def.name ?? 'customFunction') as Primitive;
      if (!primitiveDefinitions.has(def)) {
        fail(`it calls '${def.name ?? 'customFunction'}', a function defined with defineFunction; the compiler knows only the primitives${userFrame()}`);
      }
      if (!COMPILED_PRIMITIVES.has(name)) fail(`it uses '${name}', which the compiler does not handle${userFrame()}`);
      const tensors: Tensor[] = [];
      const attrs: Record<string, unknown> = {};
      if (name === 'concat') {
        attrs.axis = args[0];
        for (const a of args.slice(1)) tensors.push(a as Tensor);
      } else {
        const rest: unknown[] = [];
        for (const a of args) (a instanceof Tensor ? tensors : rest).push(a);
        if (name === 'matmul') Object.assign(attrs, { transA: rest[0], transB: rest[1] });
        else if (name === 'reshape' || name === 'expand') attrs.shape = rest[0];
        else if (name === 'permute') attrs.perm = rest[0];
        else if (name === 'narrow') Object.assign(attrs, { axis: rest[0], start: rest[1], length: rest[2] });
        else if (name === 'pad') Object.assign(attrs, { axis: rest[0], before: rest[1], total: rest[2] });
        else if (name === 'sum') Object.assign(attrs, { axes: rest[0], keepdim: rest[1] });
        else if (name === 'clamp') Object.assign(attrs, { lo: rest[0], hi: rest[1] });
        else if (name === 'cast' && rest[0] !== dtype) fail(`it casts to ${String(rest[0])} inside a ${dtype} step`);
      }
      const inputs = tensors.map((t, i) => valueOf(t, `input ${i} of '${name}'`));
      if (name === 'matmul' && tensors.some((t) => t.ndim !== 2)) {
        fail(`it multiplies batched matrices (${tensors.map((t) => fmt(t.shape)).join(' @ ')}); the compiler handles 2-D matmul`);
      }
      if (outputs.length !== 1) fail(`'${name}' returns ${outputs.length} tensors`);
      const out = outputs[0]!;
      if (ids.has(out)) fail(`'${name}' returned one of its inputs`);
      // The same primitive on the same values with the same arguments gives the same value:
      // one node serves both (LayerNorm's mean, computed once for the centring and once inside
      // the variance, becomes one node, which lets the plan fuse the whole normalisation).
      const key = `${name}|${inputs.join(',')}|${JSON.stringify(attrs)}`;
      const same = seen.get(key);
      if (same !== undefined && sameShape(values[same]!.shape, out.shape)) {
        ids.set(out, same);
        guard(out);
        return;
      }
      const regions = inputs.map((i) => values[i]!.region);
      const region: Region = regions.includes('rec') ? 'rec' : regions.includes('hoist') ? 'hoist' : 'const';
      const output = addValue({ shape: out.shape, kind: 'node', region });
      ids.set(out, output);
      nodes.push({ op: name, inputs, output, region, attrs });
      seen.set(key, output);
      guard(out);
    },
  };

  // Random numbers inside the step would be drawn once at trace time and frozen: refuse them.
  const proto = Generator.prototype as unknown as { nextUint32(): number };
  const draw = proto.nextUint32;
  proto.nextUint32 = function (this: Generator) {
    return fail(`it draws random numbers inside the step${userFrame()}`);
  };
  const prev = setApplyObserver(observer);
  try {
    const xp = probe(x, 'x');
    const sp: Record<string, Tensor> = {};
    for (const k of keys) sp[k] = probe(state[k]!, 'state', k);
    const stateIn = keys.map((k) => ids.get(sp[k]!)!);
    const out = setGradEnabled(false, () => step(xp, sp));
    if (abort) throw abort;
    if (out === null || typeof out !== 'object') return { ok: false, reason: `the step returned ${String(out)}, not a state object` };
    const stateOut: number[] = [];
    for (const k of keys) {
      const t = out[k];
      if (!(t instanceof Tensor)) return { ok: false, reason: `the step's result has no tensor '${k}'` };
      if (!sameShape(t.shape, state[k]!.shape)) {
        return { ok: false, reason: `the step returned ${k}${fmt(t.shape)} for a state entry of shape ${fmt(state[k]!.shape)}` };
      }
      stateOut.push(valueOf(t, `state entry '${k}'`));
    }
    const captures = values.filter((v) => v.kind === 'capture').map((v) => v.id);
    return { ok: true, graph: { dtype, values, nodes, x: ids.get(xp)!, stateIn, stateOut, keys: [...keys], captures } };
  } catch (e) {
    if (e instanceof TraceAbort) return { ok: false, reason: e.reason };
    const stopped = abort as TraceAbort | null;
    if (stopped) return { ok: false, reason: stopped.reason };
    throw e;
  } finally {
    setApplyObserver(prev);
    proto.nextUint32 = draw;
  }
}
