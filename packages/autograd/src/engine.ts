import { SeqgradError, fmt } from './errors.js';
import { sameShape } from './shapes.js';
import { type ForwardLevel, activeLevels } from './forward.js';
import type { Tensor } from './tensor.js';

// ---------------------------------------------------------------------------------------
// Grad mode and anomaly mode
// ---------------------------------------------------------------------------------------

let gradEnabled = true;
let anomalyEnabled = false;

/** Are ops being recorded right now (false inside `noGrad`)? @example noGrad(() => isGradEnabled()); // false */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` with gradient recording switched on or off, restoring the previous mode. */
export function setGradEnabled<T>(enabled: boolean, fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = enabled;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Runs `fn` without recording any op, like `with torch.no_grad()`.
 *
 * @example
 * const y = noGrad(() => x.mul(2)); // y.requiresGrad === false
 */
export function noGrad<T>(fn: () => T): T {
  return setGradEnabled(false, fn);
}

/** Runs `fn` with gradient recording on, even inside `noGrad` (like `torch.enable_grad`). */
export function enableGrad<T>(fn: () => T): T {
  return setGradEnabled(true, fn);
}

/**
 * Runs `fn` (forward and backward) with anomaly detection: every op remembers where it was
 * created, and the first backward whose gradient holds NaN or Infinity throws an error that
 * names the op and that place.
 *
 * @example
 * detectAnomaly(() => loss(x).backward()); // throws "detectAnomaly: backward of 'log' ..."
 */
export function detectAnomaly<T>(fn: () => T): T {
  const prev = anomalyEnabled;
  anomalyEnabled = true;
  try {
    return fn();
  } finally {
    anomalyEnabled = prev;
  }
}

// ---------------------------------------------------------------------------------------
// Function context and graph nodes
// ---------------------------------------------------------------------------------------

/**
 * What a forward hands to its backward, like PyTorch's `ctx`. Tensors go through
 * `saveForBackward`; any other value can be stored as a property (`ctx.axis = 1`).
 */
export class FunctionCtx {
  /** For each argument of the call: is a gradient wanted for it? */
  needsInputGrad: boolean[] = [];
  /**
   * Whether this call is recorded in the graph, so that a backward may follow. False under
   * `noGrad` or when no argument wants a gradient: the forward can then skip whatever only its
   * backward would read.
   */
  recorded = false;
  private saved: Tensor[] | null = [];
  private freedBy: string | null = null;
  private freeHooks: (() => void)[] | null = null;
  // User values stored on the context (PyTorch's `ctx.foo = ...`).
  [key: string]: unknown;

  /** @internal The op this context belongs to, for messages. */
  opName = 'customFunction';
  /** @internal A primitive's saved values, released with the saved tensors. */
  primitiveCall: unknown = undefined;
  /** @internal The call's arguments that are tensors (null for the others). */
  tensorInputs: readonly (Tensor | null)[] = [];
  private savedVersions: number[] = [];

  /** Keeps tensors for backward, with their version counters: a tensor changed in place before backward is an error. */
  saveForBackward(...tensors: Tensor[]): void {
    this.saveTensors(tensors);
  }

  /** @internal `saveForBackward` with the tensors in an array the context may keep (no spread). */
  saveTensors(tensors: Tensor[]): void {
    this.saved = tensors;
    const versions = new Array<number>(tensors.length);
    for (let i = 0; i < tensors.length; i++) versions[i] = tensors[i]!.version;
    this.savedVersions = versions;
  }

  get savedTensors(): Tensor[] {
    if (this.saved === null) {
      throw new SeqgradError(
        this.freedBy ?? 'backward',
        'trying to backward through the graph a second time (or to read saved tensors after they were freed); ' +
          'pass { retainGraph: true } to the first backward if you need to backward twice',
      );
    }
    const saved = this.saved;
    for (let i = 0; i < saved.length; i++) {
      const now = saved[i]!.version;
      if (now !== this.savedVersions[i]) {
        throw new SeqgradError(
          this.opName,
          `a tensor needed for gradient computation has been modified by an inplace operation: saved tensor ${i}${fmt(saved[i]!.shape)} ` +
            `(${saved[i]!.dtype}) is at version ${now}; it was at version ${this.savedVersions[i]} when this op saved it. ` +
            'Change it after backward(), or pass a clone() to the op',
        );
      }
    }
    return saved;
  }

  /**
   * Runs `callback` once, when the engine frees this context: after the backward through it
   * that did not retain the graph. A forward that lends buffers to its backward (arrays from a
   * pool) gives them back there. A graph that is dropped without a backward never calls it; its
   * buffers are then collected like any other garbage.
   */
  onFree(callback: () => void): void {
    (this.freeHooks ??= []).push(callback);
  }

  /** @internal Frees saved tensors once backward has used them, and runs the `onFree` callbacks. */
  free(opName: string): void {
    this.saved = null;
    this.primitiveCall = undefined;
    this.freedBy = opName;
    const hooks = this.freeHooks;
    this.freeHooks = null;
    if (hooks) for (const h of hooks) h();
  }
}

/** Where a gradient for one input of a node goes. */
type Edge = { node: Node; outputIndex: number } | { leaf: Tensor } | null;

/** @internal One recorded op application. */
export class Node {
  readonly edges: Edge[];
  retained: Array<{ tensor: Tensor; outputIndex: number }> | null = null;
  freed = false;
  readonly createdAt: string | undefined;

  constructor(
    readonly name: string,
    readonly ctx: FunctionCtx,
    readonly backwardFn: (ctx: FunctionCtx, ...grads: Tensor[]) => BackwardResult,
    readonly inputs: readonly (Tensor | null)[],
    readonly outputShapes: readonly (readonly number[])[],
    readonly outputDtypes: readonly string[],
    readonly onceDifferentiable: boolean,
    readonly freshGradients = false,
  ) {
    this.edges = inputs.map((t) => {
      if (t === null || !t.requiresGrad) return null;
      if (t.gradFn) return { node: t.gradFn, outputIndex: t.outputIndex };
      return { leaf: t };
    });
    this.createdAt = anomalyEnabled ? creationSite() : undefined;
  }
}

/** Does `shape` broadcast to `target` (NumPy's rule, `target` at least as long)? */
function expandsTo(shape: readonly number[], target: readonly number[]): boolean {
  const lead = target.length - shape.length;
  if (lead < 0) return false;
  for (let i = 0; i < shape.length; i++) if (shape[i] !== 1 && shape[i] !== target[lead + i]) return false;
  return true;
}

/** The stack where an op was recorded, without the engine's own frames (deep enough to reach user code). */
function creationSite(): string | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 50;
  try {
    const frames = new Error().stack?.split('\n').slice(4) ?? [];
    // Keep the frames that say where the user built the op (drop test-runner and Node internals).
    const own = frames.filter((f) => !f.includes('/node_modules/') && !f.includes('node:internal') && !f.includes('<anonymous>'));
    return (own.length > 0 ? own : frames).join('\n');
  } finally {
    Error.stackTraceLimit = limit;
  }
}

export type BackwardResult = Tensor | null | undefined | readonly (Tensor | null | undefined)[];

export interface FunctionDefinition<Args extends unknown[], Out extends Tensor | Tensor[]> {
  /** A name for messages and anomaly reports. */
  name?: string;
  /** Computes the outputs; runs without recording. Returns one tensor or several. */
  forward(ctx: FunctionCtx, ...args: Args): Out;
  /**
   * Receives one gradient per output (zeros where an output got none) and returns one
   * gradient per argument of forward (null for non-tensors or when not needed).
   */
  backward(ctx: FunctionCtx, ...gradOutputs: Tensor[]): BackwardResult;
  /** The backward is not itself differentiable: a double backward throws. */
  onceDifferentiable?: boolean;
  /**
   * Every tensor `backward` returns is newly allocated and referenced nowhere else (nor returned
   * twice), so the engine may keep it as a leaf's first `.grad` instead of a copy, as PyTorch
   * keeps a gradient nothing else holds.
   */
  freshGradients?: boolean;
}

/**
 * @internal Sees every function application: `enter` before a forward runs, `exit` after it
 * (outputs null when it threw). The scan compiler's tracer is the one observer.
 */
export interface ApplyObserver {
  enter(): void;
  exit(def: FunctionDefinition<never[], Tensor | Tensor[]>, args: readonly unknown[], outputs: readonly Tensor[] | null): void;
}
let applyObserver: ApplyObserver | null = null;

/** @internal Installs the observer of function applications (null removes it); returns the previous one. */
export function setApplyObserver(o: ApplyObserver | null): ApplyObserver | null {
  const prev = applyObserver;
  applyObserver = o;
  return prev;
}

/** Runs a forward between the observer's enter and exit. */
function observed<R>(o: ApplyObserver, def: FunctionDefinition<never[], Tensor | Tensor[]>, args: readonly unknown[], run: () => R): R {
  o.enter();
  let out: R | undefined;
  try {
    out = run();
    return out;
  } finally {
    o.exit(def, args, out === undefined ? null : ((Array.isArray(out) ? out : [out]) as Tensor[]));
  }
}

// Set by tensor.ts to break the import cycle (the engine needs to build tensors).
let hooks: {
  isTensor(x: unknown): x is Tensor;
  zeros(shape: readonly number[], dtype: string): Tensor;
  add(a: Tensor, b: Tensor): Tensor;
  clone(t: Tensor): Tensor;
  sumTo(g: Tensor, shape: readonly number[]): Tensor;
} | null = null;

/** @internal */
export function installEngineHooks(h: NonNullable<typeof hooks>): void {
  hooks = h;
}

/**
 * Defines a differentiable function from a forward and a backward, like
 * `torch.autograd.Function`. Every built-in op is defined through this same function.
 *
 * @example
 * const cube = defineFunction({
 *   forward: (ctx, x: Tensor) => { ctx.saveForBackward(x); return x.pow(3); },
 *   backward: (ctx, g) => { const [x] = ctx.savedTensors; return g.mul(x!.pow(2)).mul(3); },
 * });
 */
export function defineFunction<Args extends unknown[], Out extends Tensor | Tensor[]>(
  def: FunctionDefinition<Args, Out>,
): (...args: Args) => Out {
  const name = def.name ?? 'customFunction';
  const onceDiff = def.onceDifferentiable ?? false;
  return (...args: Args) => {
    const h = hooks!;
    const ctx = new FunctionCtx();
    ctx.opName = name;
    const tensorArgs = args.map((a) => (h.isTensor(a) ? a : null));
    ctx.needsInputGrad = tensorArgs.map((t) => t !== null && t.requiresGrad);
    ctx.tensorInputs = tensorArgs;
    const record = gradEnabled && ctx.needsInputGrad.some(Boolean);
    ctx.recorded = record;
    const run = () => setGradEnabled(false, () => def.forward(ctx, ...args));
    const result = applyObserver ? observed(applyObserver, def as never, args, run) : run();
    const outputs: Tensor[] = Array.isArray(result) ? result : [result as Tensor];
    for (const o of outputs) {
      if (!h.isTensor(o)) throw new SeqgradError(name, `forward must return tensors, got ${typeof o}`);
    }
    const levels = activeLevels();
    const pushTangents = levels.length > 0 ? primitiveDefinitions.get(def) : undefined;
    if (levels.length > 0 && !pushTangents) checkTangentsCarried(name, levels, tensorArgs, outputs);
    if (record) {
      const fresh = outputs.map((o) => (o.gradFn || o.requiresGrad || tensorArgs.includes(o) ? h.clone(o) : o));
      for (const level of levels) {
        fresh.forEach((o, i) => {
          const t = level.tangents.get(outputs[i]!);
          if (t && o !== outputs[i]) level.tangents.set(o, t);
        });
      }
      const node = new Node(
        name,
        ctx,
        def.backward as Node['backwardFn'],
        tensorArgs,
        fresh.map((o) => o.shape),
        fresh.map((o) => o.dtype),
        onceDiff,
        def.freshGradients ?? false,
      );
      // Integer outputs (indices, casts to int32) carry no gradient, as in PyTorch.
      fresh.forEach((o, i) => {
        if (o.dtype !== 'int32') o._attach(node, i);
      });
      const out = (Array.isArray(result) ? fresh : fresh[0]) as Out;
      if (pushTangents) pushTangents(ctx, args, out);
      return out;
    }
    if (pushTangents) pushTangents(ctx, args, result);
    return result;
  };
}

/**
 * @internal Can a primitive call skip the engine and run its rule's forward alone? Yes when
 * nothing would record or observe it: gradient recording is off (the ops of a backward that
 * builds no graph, `noGrad`), no `jvp` is running and the scan tracer is not watching.
 */
export function isPlainCall(): boolean {
  return !gradEnabled && applyObserver === null && activeLevels().length === 0;
}

/**
 * @internal The definitions of the primitives, each with what gives its outputs their
 * tangents in forward mode (from its own rule, where a user function's come op by op).
 */
export const primitiveDefinitions = new WeakMap<object, (ctx: FunctionCtx, args: readonly unknown[], out: Tensor | Tensor[]) => void>();

/**
 * A user function's forward carries tangents when it is written with seqgrad's ops; one that
 * computes on raw arrays (a compiled scan, say) would silently give a zero tangent, so it throws.
 */
function checkTangentsCarried(name: string, levels: readonly ForwardLevel[], args: readonly (Tensor | null)[], outputs: readonly Tensor[]): void {
  for (const level of levels) {
    if (!args.some((a) => a !== null && level.tangents.has(a))) continue;
    if (outputs.some((o) => o.dtype !== 'int32' && !level.tangents.has(o))) {
      throw new SeqgradError(
        name,
        'jvp: an input carries a tangent but an output of this function has none: its forward computes outside ' +
          "seqgrad's ops, so forward-mode derivatives cannot pass through it",
      );
    }
  }
}

// ---------------------------------------------------------------------------------------
// Reverse-mode traversal
// ---------------------------------------------------------------------------------------

/** Passes a gradient through unchanged; differentiating through it throws (see onceDifferentiable). */
function onceDifferentiableGuard(opName: string): (g: Tensor, ...deps: Tensor[]) => Tensor {
  return defineFunction({
    name: `${opName} (onceDifferentiable)`,
    forward: (_ctx, g: Tensor) => g,
    backward: () => {
      throw new SeqgradError(
        opName,
        'this function is marked onceDifferentiable: its backward cannot be differentiated again ' +
          '(a double backward, or createGraph through a gradient it produced)',
      );
    },
  });
}

export interface RunBackwardOptions {
  retainGraph?: boolean;
  createGraph?: boolean;
  /** When given, gradients for these tensors are returned and no `.grad` is touched. */
  inputs?: readonly Tensor[];
  allowUnused?: boolean;
}

/**
 * @internal The engine. Walks the graph iteratively (no recursion: a T=100,000 chain is
 * fine) in reverse topological order, checks every gradient's shape against its input,
 * accumulates into leaves or captures the requested inputs.
 */
export function runBackward(
  roots: readonly Tensor[],
  rootGrads: readonly Tensor[],
  opts: RunBackwardOptions = {},
): (Tensor | null)[] | undefined {
  const h = hooks!;
  const createGraph = opts.createGraph ?? false;
  const retainGraph = opts.retainGraph ?? createGraph;
  const capture = opts.inputs;
  const captured: (Tensor | null)[] | undefined = capture?.map(() => null);

  // Where captured inputs sit in the graph.
  const captureLeaf = new Map<Tensor, number[]>();
  const captureNode = new Map<Node, Array<{ outputIndex: number; slot: number }>>();
  capture?.forEach((t, slot) => {
    if (t.gradFn) {
      const list = captureNode.get(t.gradFn) ?? [];
      list.push({ outputIndex: t.outputIndex, slot });
      captureNode.set(t.gradFn, list);
    } else {
      const list = captureLeaf.get(t) ?? [];
      list.push(slot);
      captureLeaf.set(t, list);
    }
  });

  const accumulateCaptured = (slot: number, g: Tensor) => {
    captured![slot] = captured![slot] ? h.add(captured![slot]!, g) : g;
  };
  // `.grad` of a leaf or of a retained non-leaf: recorded only with createGraph.
  // `keep`: g is referenced nowhere else, so it can become the first .grad without a copy.
  const accumulateGrad = (t: Tensor, g: Tensor, keep = false) => {
    if (t.grad) t.grad = createGraph ? h.add(t.grad, g) : setGradEnabled(false, () => h.add(t.grad!, g));
    else t.grad = createGraph || keep ? g : h.clone(g.detach());
  };
  const deliverToLeaf = (leaf: Tensor, g: Tensor, keep = false) => {
    if (capture) {
      for (const slot of captureLeaf.get(leaf) ?? []) accumulateCaptured(slot, g);
      return;
    }
    accumulateGrad(leaf, g, keep);
  };

  // 1. Count, for every reachable node, how many gradient contributions it will receive.
  const pendingCount = new Map<Node, number>();
  const stack: Node[] = [];
  for (const r of roots) {
    if (r.gradFn && !pendingCount.has(r.gradFn)) {
      pendingCount.set(r.gradFn, 0);
      stack.push(r.gradFn);
    }
  }
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.freed) {
      throw new SeqgradError(
        node.name,
        'trying to backward through the graph a second time; its saved tensors were freed by the first backward. ' +
          'Pass { retainGraph: true } to the first backward if you need to backward twice',
      );
    }
    for (const e of node.edges) {
      if (e && 'node' in e) {
        const c = pendingCount.get(e.node);
        if (c === undefined) {
          pendingCount.set(e.node, 1);
          stack.push(e.node);
        } else pendingCount.set(e.node, c + 1);
      }
    }
  }

  // 2. Seed the roots.
  const gradsOf = new Map<Node, (Tensor | null)[]>();
  const addGrad = (node: Node, idx: number, g: Tensor) => {
    let slots = gradsOf.get(node);
    if (!slots) {
      slots = new Array(node.outputShapes.length).fill(null);
      gradsOf.set(node, slots);
    }
    slots[idx] = slots[idx] ? h.add(slots[idx]!, g) : g;
  };
  roots.forEach((r, i) => {
    const given = rootGrads[i]!;
    const g = given.dtype === r.dtype ? given : given.to(r.dtype);
    if (r.gradFn) addGrad(r.gradFn, r.outputIndex, g);
    else if (r.requiresGrad) deliverToLeaf(r, g);
  });

  // 3. Process nodes whose every consumer has delivered its gradient.
  const ready: Node[] = [];
  for (const [node, c] of pendingCount) if (c === 0) ready.push(node);
  setGradEnabled(createGraph, () => {
    while (ready.length > 0) {
      const node = ready.pop()!;
      const slots = gradsOf.get(node) ?? new Array(node.outputShapes.length).fill(null);
      gradsOf.delete(node);
      const gradOutputs = slots.map((g, i) => g ?? h.zeros(node.outputShapes[i]!, node.outputDtypes[i]!));
      // Retained gradients are filled by backward(), not by grad() (as PyTorch's retain_grad).
      if (node.retained && !capture) {
        for (const { tensor, outputIndex } of node.retained) accumulateGrad(tensor, gradOutputs[outputIndex]!);
      }
      for (const { outputIndex, slot } of captureNode.get(node) ?? []) accumulateCaptured(slot, gradOutputs[outputIndex]!);

      let grads: readonly (Tensor | null | undefined)[];
      if (createGraph && node.onceDifferentiable) {
        // Like PyTorch: run the backward unrecorded and put a node in front of its results that
        // throws if anyone differentiates through them (a double backward).
        const raw = setGradEnabled(false, () => node.backwardFn(node.ctx, ...gradOutputs));
        const deps = [...gradOutputs, ...node.inputs].filter((t): t is Tensor => t !== null && t.requiresGrad);
        grads = (Array.isArray(raw) ? raw : [raw]).map((g) => (g ? onceDifferentiableGuard(node.name)(g, ...deps) : g));
      } else {
        const raw = node.backwardFn(node.ctx, ...gradOutputs);
        grads = Array.isArray(raw) ? raw : [raw];
      }
      if (!retainGraph) {
        node.ctx.free(node.name);
        node.freed = true;
      }
      node.edges.forEach((edge, i) => {
        if (!edge) return;
        const g = grads[i] ?? null;
        const input = node.inputs[i]!;
        if (g !== null) {
          if (!h.isTensor(g)) {
            throw new SeqgradError(node.name, `backward returned ${typeof g} for input ${i}; expected a Tensor, null or undefined`);
          }
          // A gradient of a broadcast shape is summed back to its input's shape here, once,
          // for every op (as PyTorch's engine and tinygrad's do); any other shape is a bug.
          let shaped = g;
          if (!sameShape(g.shape, input.shape)) {
            if (!expandsTo(input.shape, g.shape)) {
              throw new SeqgradError(
                node.name,
                `backward returned a gradient of shape ${fmt(g.shape)} for input ${i}, whose shape is ${fmt(input.shape)}`,
              );
            }
            shaped = h.sumTo(g, input.shape);
          }
          if (anomalyEnabled && !g.isFinite()) {
            throw new SeqgradError(
              'detectAnomaly',
              `backward of '${node.name}' returned a gradient with NaN or Infinity for input ${i} (shape ${fmt(g.shape)}).` +
                (node.createdAt ? `\nThe op was created at:\n${node.createdAt}` : ''),
            );
          }
          const fixed = shaped.dtype === input.dtype ? shaped : shaped.to(input.dtype as 'float32' | 'float64');
          if ('leaf' in edge) {
            // A fresh gradient (see FunctionDefinition.freshGradients) is kept as it is; a
            // tensor returned for two inputs is copied for the second.
            const keep = !createGraph && node.freshGradients && !g.requiresGrad && grads.indexOf(g) === i;
            deliverToLeaf(edge.leaf, fixed, keep);
          }
          else addGrad(edge.node, edge.outputIndex, fixed);
        }
        if ('node' in edge) {
          const c = pendingCount.get(edge.node)! - 1;
          pendingCount.set(edge.node, c);
          if (c === 0) ready.push(edge.node);
        }
      });
    }
  });

  if (captured) {
    captured.forEach((g, i) => {
      if (g === null && !opts.allowUnused) {
        throw new SeqgradError(
          'grad',
          `input ${i} (shape ${fmt(capture![i]!.shape)}) was not used to compute the outputs; pass { allowUnused: true } to get null for it`,
        );
      }
    });
  }
  return captured;
}
