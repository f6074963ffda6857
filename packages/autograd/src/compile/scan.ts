/**
 * `scan`: the one loop over time. It runs a step `(x_t, state) → state` over a sequence with
 * packed-sequence lengths and either direction, compiled when the step can be traced (see
 * trace.ts and plan.ts) and op by op otherwise.
 */
import { type FunctionCtx, defineFunction, isGradEnabled } from '../engine.js';
import { SeqgradError, fmt } from '../errors.js';
import { add, where } from '../ops/elementwise.js';
import { concat, narrow, stack, unbind } from '../ops/shape.js';
import { Generator } from '../random.js';
import { type FloatDType, Tensor, arrayFor } from '../tensor.js';
import { grad } from '../functional.js';
import { Plan, type PlanForward, type PlanSummary } from './plan.js';
import { type StepGraph, traceStep } from './trace.js';
import { type RegularizeOptions, regularize, wantsRegularization } from './regularize.js';
import { type CheckpointOptions, checkpointedScan, chunkLength } from './checkpoint.js';

type FA = Float32Array | Float64Array;

/** A scan state: named tensors (B, n), one of them `h`, the per-step output. */
export type ScanState = { readonly h: Tensor } & { readonly [name: string]: Tensor };

/** One time step: x_t (B, I) and the state → the next state. */
export type StepFunction<S extends ScanState> = (x: Tensor, state: S) => S;

/** A step function, or an object with a `step` method (a recurrent cell). */
export type ScanStep<S extends ScanState> = StepFunction<S> | { step(x: Tensor, state: S): S };

export interface ScanOptions extends RegularizeOptions, CheckpointOptions {
  /** Run from the last step to the first (the backward direction of a bidirectional layer). */
  reverse?: boolean;
  /**
   * Valid length of each sequence, 1..T (PyTorch's packed-sequence semantics): the state is
   * frozen past each length and the outputs there are zero; reversed, a sequence starts at
   * step length − 1.
   */
  lengths?: Int32Array | readonly number[] | null;
  /** false runs the step op by op even when it could be compiled (default true). */
  compile?: boolean;
  /** Further state entries whose every step is returned in `sequences` (e.g. `['c']`). */
  collect?: readonly string[];
  /**
   * Validates the state the step returns (its first step, or the step being traced) and
   * returns it; throw to refuse it. `Recurrent` checks it against the cell's `stateSizes`.
   */
  check?: (next: unknown) => ScanState;
  /**
   * A (B, T, H) tensor added to h after every step: h_t = step(x_t, state_{t−1}).h + probe[:, t].
   * Given zeros that require a gradient, nothing changes in the values, and the gradient that
   * reaches `probe` is dL/dh_t for every t: the total derivative, the direct part and all that
   * flows back through the later steps (zero past each length). Compiled and op by op alike.
   */
  probe?: Tensor;
}

export interface ScanResult<S extends ScanState> {
  /** h at every step, (B, T, H); zero past each length. */
  output: Tensor;
  /** The final state (at each sequence's last valid step). */
  state: S;
  /** Every step of the entries named in `collect`, (B, T, n) each. */
  sequences: Record<string, Tensor>;
}

export interface ScanExplanation {
  /** Whether scan runs this step through a compiled plan. */
  compiled: boolean;
  /** Why not, when it does not. */
  reason: string | null;
  /** The plan's shape when compiled: ops per region and the GEMMs that cover all steps. */
  plan: PlanSummary | null;
  /**
   * With the `checkpoint` option: the segment length k (the state is kept every k steps,
   * ⌈√T⌉ for `true`) and the number of segments ⌈T/k⌉ for this T; null without it.
   */
  checkpoint: { every: number; segments: number } | null;
  /**
   * The dropout and zoneout rates in effect (zoneout per state entry), and whether the call
   * trains (masks drawn) or evaluates (no dropout, zoneout by its expectation); null when
   * every rate is zero.
   */
  regularization: { training: boolean; inputDropout: number; recurrentDropout: number; zoneout: Record<string, number> } | null;
  /** One paragraph for people. */
  text: string;
}

type Entry = { plan: Plan } | { reason: string };
const cache = new WeakMap<object, Map<string, Entry>>();

function stepFunction<S extends ScanState>(step: ScanStep<S>): StepFunction<S> {
  if (typeof step === 'function') return step;
  if (step && typeof (step as { step?: unknown }).step === 'function') return (x, s) => step.step(x, s);
  throw new SeqgradError('scan', 'step must be a function (x, state) => state or an object with a step method');
}

function checkArgs(op: string, x: Tensor, init: ScanState): { B: number; T: number; keys: string[]; dtype: FloatDType } {
  if (!(x instanceof Tensor) || x.ndim !== 3) {
    throw new SeqgradError(op, `x must be a (B, T, I) tensor, got ${x instanceof Tensor ? fmt(x.shape) : typeof x}`);
  }
  if (x.dtype === 'int32') throw new SeqgradError(op, `x${fmt(x.shape)} is int32; scan needs float32 or float64`);
  const [B, T] = x.shape as [number, number, number];
  if (init === null || typeof init !== 'object' || !(init.h instanceof Tensor)) {
    throw new SeqgradError(op, 'init must be a state object with at least an h tensor, e.g. { h }');
  }
  const keys = Object.keys(init);
  for (const k of keys) {
    const s = init[k]!;
    if (!(s instanceof Tensor) || s.ndim !== 2 || s.shape[0] !== B) {
      throw new SeqgradError(op, `init.${k} must be a (B=${B}, n) tensor for x${fmt(x.shape)}, got ${s instanceof Tensor ? fmt(s.shape) : typeof s}`);
    }
    if (s.dtype !== x.dtype) throw new SeqgradError(op, `init.${k}${fmt(s.shape)} is ${s.dtype} but x${fmt(x.shape)} is ${x.dtype}`);
  }
  return { B, T, keys, dtype: x.dtype };
}

function checkLengths(op: string, lengths: ScanOptions['lengths'], B: number, T: number): Int32Array | null {
  if (lengths === undefined || lengths === null) return null;
  if (!(lengths instanceof Int32Array) && !Array.isArray(lengths)) {
    throw new SeqgradError(op, 'lengths must be an Int32Array or an array of integers');
  }
  if (lengths.length !== B) throw new SeqgradError(op, `lengths has ${lengths.length} entries but the batch has B=${B}`);
  const out = new Int32Array(B);
  let full = true;
  for (let b = 0; b < B; b++) {
    const v = lengths[b]!;
    if (!Number.isInteger(v) || v < 1 || v > T) throw new SeqgradError(op, `lengths[${b}]=${v} is out of range: lengths must be integers in [1, T=${T}]`);
    out[b] = v;
    if (v !== T) full = false;
  }
  return full ? null : out;
}

/** (B, 1) mask, 1 where step t is inside sequence b. */
function stepMask(lengths: Int32Array, t: number, dtype: FloatDType): Tensor {
  const m = arrayFor(dtype, lengths.length);
  for (let b = 0; b < lengths.length; b++) m[b] = t < lengths[b]! ? 1 : 0;
  return new Tensor(m, [lengths.length, 1]);
}

/** The op-by-op loop: every step recorded by the engine, as a user would write it. */
function eagerScan<S extends ScanState>(
  fn: StepFunction<S>, x: Tensor, init: S, reverse: boolean, lengths: Int32Array | null, collect: readonly string[],
  check?: (next: unknown) => ScanState,
): ScanResult<S> {
  const [B, T] = x.shape as [number, number, number];
  const keys = ['h', ...collect];
  const outs = keys.map(() => new Array<Tensor>(T));
  const xs = unbind(x, 1);
  let s = init;
  for (let k = 0; k < T; k++) {
    const t = reverse ? T - 1 - k : k;
    const next = k === 0 && check ? (check(fn(xs[t]!, s)) as S) : fn(xs[t]!, s);
    if (lengths) {
      const m = stepMask(lengths, t, x.dtype as FloatDType);
      const prev = s as Record<string, Tensor>;
      const merged: Record<string, Tensor> = {};
      for (const [key, v] of Object.entries(next)) merged[key] = where(m, v, prev[key]!);
      s = merged as S;
      keys.forEach((key, i) => (outs[i]![t] = where(m, next[key]!, 0)));
    } else {
      s = next;
      keys.forEach((key, i) => (outs[i]![t] = next[key]!));
    }
  }
  const seq = (i: number): Tensor => {
    const n = (init as Record<string, Tensor>)[keys[i]!]!.shape[1]!;
    return T === 0 ? new Tensor(arrayFor(x.dtype, 0), [B, 0, n]) : stack(outs[i]!, 1);
  };
  const sequences: Record<string, Tensor> = {};
  collect.forEach((key, i) => (sequences[key] = seq(i + 1)));
  return { output: seq(0), state: s, sequences };
}

/** The signature a plan is kept under: dtype, batch, input and state sizes. */
function signature(x: Tensor, init: ScanState, keys: readonly string[]): string {
  return `${x.dtype}|${x.shape[0]}x${x.shape[2]}|${keys.map((k) => `${k}:${init[k]!.shape[1]}`).join(',')}`;
}

/** The step's inputs at its first step, as plain tensors (no graph). */
function firstStep(x: Tensor, reverse: boolean): Tensor {
  const [B, T, I] = x.shape as [number, number, number];
  const t = reverse ? T - 1 : 0;
  const out = arrayFor(x.dtype, B * I);
  for (let b = 0; b < B; b++) for (let i = 0; i < I; i++) out[b * I + i] = x.data[(b * T + t) * I + i]!;
  return new Tensor(out, [B, I]);
}

/** A cached plan still reads the right tensors when a module's parameters are still its parameters. */
function capturesCurrent(key: object, graph: StepGraph): boolean {
  const params = (key as { parameters?: () => Tensor[] }).parameters;
  if (typeof params !== 'function') return true;
  const live = new Set(params.call(key));
  return graph.captures.every((c) => {
    const t = graph.values[c]!.tensor!;
    return !t.requiresGrad || live.has(t);
  });
}

/** The compiled plan for this call, or why there is none (tracing once per signature). */
function planFor<S extends ScanState>(
  step: ScanStep<S>, x: Tensor, init: S, keys: string[], reverse: boolean, check?: (next: unknown) => ScanState,
): Entry {
  let byKey = cache.get(step);
  if (!byKey) {
    byKey = new Map();
    cache.set(step, byKey);
  }
  const sig = signature(x, init, keys);
  const hit = byKey.get(sig);
  if (hit && ('reason' in hit || capturesCurrent(step, hit.plan.graph))) return hit;
  const plain = stepFunction(step);
  const fn = check ? (xt: Tensor, st: S) => check(plain(xt, st)) as S : plain;
  const start = performance.now();
  const traced = traceStep(fn as never, firstStep(x, reverse), init as Record<string, Tensor>, keys);
  const entry: Entry = traced.ok ? { plan: new Plan(traced.graph, performance.now() - start) } : { reason: traced.reason };
  byKey.set(sig, entry);
  return entry;
}

/**
 * The context of each plan's last recorded call, whose buffers serve the next call once its
 * graph is freed; held weakly, so a graph the user drops takes its buffers with it.
 */
const lastCall = new WeakMap<Plan, WeakRef<FunctionCtx>>();

/** Has the engine freed this context's graph (after a backward without retainGraph)? */
function isFreed(ctx: FunctionCtx): boolean {
  try {
    void ctx.savedTensors;
    return false;
  } catch {
    return true;
  }
}

interface Job {
  plan: Plan;
  fn: StepFunction<ScanState>;
  T: number;
  reverse: boolean;
  lengths: Int32Array | null;
  keys: string[];
  collect: string[];
  record: boolean;
}

/**
 * The compiled sequence as one autograd function: (x, init entries…, captures…) →
 * (output, final entries…, collected sequences…). Under createGraph its backward runs the
 * step op by op again and differentiates that, so higher-order gradients keep working.
 */
const compiledScan = defineFunction({
  name: 'scan',
  forward(ctx: FunctionCtx, job: Job, x: Tensor, ...rest: Tensor[]): Tensor[] {
    const { plan, T, keys } = job;
    const E = keys.length;
    // The previous call's buffers are free once its graph is (backward ran without retainGraph).
    const last = lastCall.get(plan)?.deref();
    if (last && isFreed(last)) plan.recycle(last.plan as PlanForward['saved']);
    lastCall.delete(plan);
    const B = x.shape[0]!;
    const needs = ctx.needsInputGrad;
    const collect = [0, ...job.collect.map((k) => keys.indexOf(k))];
    const fw: PlanForward = plan.forward(
      x.data as FA, T, rest.slice(0, E).map((t) => t.data as FA), rest.slice(E).map((t) => t.data as FA), {
        reverse: job.reverse, lengths: job.lengths, collect,
        xNeeds: job.record && needs[1]!, initNeeds: needs.slice(2, 2 + E).map((n) => job.record && n),
        captureNeeds: needs.slice(2 + E).map((n) => job.record && n),
      },
    );
    ctx.job = job;
    ctx.plan = fw.saved;
    if (job.record) lastCall.set(plan, new WeakRef(ctx));
    else plan.recycle(fw.saved);
    ctx.collect = collect;
    ctx.inputs = [x, ...rest];
    const sizes = keys.map((k) => rest[keys.indexOf(k)]!.shape[1]!);
    return [
      new Tensor(fw.sequences[0]!, [B, T, sizes[0]!]),
      ...fw.finals.map((f, e) => new Tensor(f, [B, sizes[e]!])),
      ...fw.sequences.slice(1).map((s, i) => new Tensor(s, [B, T, sizes[collect[i + 1]!]!])),
    ];
  },
  backward(ctx: FunctionCtx, ...grads: Tensor[]) {
    const job = ctx.job as Job;
    const inputs = ctx.inputs as Tensor[];
    const E = job.keys.length;
    if (isGradEnabled()) return eagerBackward(ctx, job, inputs, grads);
    const collect = ctx.collect as number[];
    const dSeq = [grads[0]!, ...grads.slice(1 + E)].map((g) => g.data as FA);
    const dFinals = grads.slice(1, 1 + E).map((g) => g.data as FA);
    const r = job.plan.backward(ctx.plan as never, dSeq, dFinals, collect);
    const x = inputs[0]!;
    return [
      null,
      r.dx && ctx.needsInputGrad[1] ? new Tensor(r.dx, x.shape) : null,
      ...r.dInit.map((d, e) => (d && ctx.needsInputGrad[2 + e] ? new Tensor(d, inputs[1 + e]!.shape) : null)),
      ...r.dCaptures.map((d, c) => (d && ctx.needsInputGrad[2 + E + c] ? new Tensor(d, inputs[1 + E + c]!.shape) : null)),
    ];
  },
});

/** createGraph through a compiled scan: the same sequence op by op, differentiated with createGraph. */
function eagerBackward(ctx: FunctionCtx, job: Job, inputs: Tensor[], grads: Tensor[]): (Tensor | null)[] {
  const [x, ...rest] = inputs as [Tensor, ...Tensor[]];
  const init: Record<string, Tensor> = {};
  job.keys.forEach((k, e) => (init[k] = rest[e]!));
  const r = eagerScan(job.fn, x, init as ScanState, job.reverse, job.lengths, job.collect);
  const outs = [r.output, ...job.keys.map((k) => r.state[k]!), ...job.collect.map((k) => r.sequences[k]!)];
  const wanted = inputs.map((t, i) => (ctx.needsInputGrad[i + 1] ? t : null));
  const list = wanted.filter((t): t is Tensor => t !== null);
  const used = outs.map((o) => o.requiresGrad);
  const gs = list.length === 0 ? [] : grad(outs.filter((_, i) => used[i]), list, {
    gradOutputs: grads.filter((_, i) => used[i]), createGraph: true, allowUnused: true,
  });
  let j = 0;
  return [null, ...wanted.map((t) => (t === null ? null : gs[j++] ?? null))];
}

/**
 * Runs `step` over the time axis of x (B, T, I) from `init`: the one loop over time of
 * seqgrad. The step is traced once per (dtype, B, I, state sizes) into a graph of
 * primitives and runs as a compiled plan: what depends only on x_t and parameters (input
 * projections) is computed for all steps at once, one GEMM over T·B rows; the recurrent part
 * runs step by step into buffers allocated once per call; the backward is derived from the
 * same graph, the weight gradients of those GEMMs summed over time in one GEMM each. The
 * rest of autograd sees one node. A step that cannot be traced (it reads values, draws random
 * numbers, uses an op the compiler does not know) runs op by op; `explainScan` says why.
 *
 * Shapes: x (B, T, I); every state entry (B, n); output (B, T, H) is h at every step.
 *
 * @example
 * const W = randn([8, 3], { requiresGrad: true }), U = randn([8, 8], { requiresGrad: true });
 * const step = (x: Tensor, s: { h: Tensor }) => ({ h: tanh(add(linear(x, W), linear(s.h, U))) });
 * const { output, state } = scan(step, randn([2, 5, 3]), { h: zeros([2, 8]) }, { lengths: [5, 3] });
 * output.shape; // [2, 5, 8]; state.h: [2, 8]
 */
export function scan<S extends ScanState>(step: ScanStep<S>, x: Tensor, init: S, opts: ScanOptions = {}): ScanResult<S> {
  const { T, B, keys } = checkArgs('scan', x, init);
  const reverse = opts.reverse ?? false;
  const lengths = checkLengths('scan', opts.lengths, B, T);
  const collect = [...(opts.collect ?? [])];
  for (const k of collect) {
    if (!keys.includes(k) || k === 'h') throw new SeqgradError('scan', `collect names '${k}', which is not a state entry besides h (${keys.join(', ')})`);
  }
  if (wantsRegularization(opts)) return regularizedScan(step, x, init, opts);
  if (opts.probe !== undefined) return probedScan(step, x, init, opts);
  if (opts.checkpoint !== undefined && opts.checkpoint !== false && T > 0) return checkpointedScan(scan as never, step as never, x, init, lengths, { ...opts, reverse, collect }) as ScanResult<S>;
  const fn = stepFunction(step);
  if (opts.compile === false || T === 0) return eagerScan(fn, x, init, reverse, lengths, collect, opts.check);
  // h first among the keys, so that the output is the first sequence.
  const ordered = ['h', ...keys.filter((k) => k !== 'h')];
  const entry = planFor(step, x, init, ordered, reverse, opts.check);
  if ('reason' in entry) return eagerScan(fn, x, init, reverse, lengths, collect, opts.check);
  const plan = entry.plan;
  const captures = plan.graph.captures.map((c) => plan.graph.values[c]!.tensor!);
  const inputs = [x, ...ordered.map((k) => init[k]!), ...captures];
  const record = isGradEnabled() && inputs.some((t) => t.requiresGrad);
  const job: Job = { plan, fn: fn as never, T, reverse, lengths, keys: ordered, collect, record };
  const outs = compiledScan(job, ...(inputs as [Tensor, ...Tensor[]]));
  const E = ordered.length;
  const state: Record<string, Tensor> = {};
  ordered.forEach((k, e) => (state[k] = outs[1 + e]!));
  const sequences: Record<string, Tensor> = {};
  collect.forEach((k, i) => (sequences[k] = outs[1 + E + i]!));
  return { output: outs[0]!, state: state as S, sequences };
}

/** scan with dropout or zoneout: the masks drawn, the wrapped step run, the mask entry removed. */
function regularizedScan<S extends ScanState>(step: ScanStep<S>, x: Tensor, init: S, opts: ScanOptions): ScanResult<S> {
  const r = regularize(step as never, x, init, opts, opts.check as never);
  const { inputDropout: _i, recurrentDropout: _r, zoneout: _z, training: _t, generator: _g, check: _c, ...rest } = opts;
  const out = scan(r.step, r.x, r.init, rest);
  return { output: out.output, state: r.strip(out.state) as S, sequences: out.sequences };
}

/** A step wrapped to add the probe; `check` validates the inner step's result in the current call. */
interface ProbedStep {
  step(x: Tensor, s: ScanState): ScanState;
  parameters?: () => Tensor[];
  check?: (next: unknown) => ScanState;
}

const probedSteps = new WeakMap<object, ProbedStep>();

/**
 * The step of a probed scan: its input is x_t with probe_t appended along the features, and
 * it returns the inner step's state with probe_t added to h. One wrapper per step, so scan's
 * plan cache keeps hitting across calls.
 */
function probedStep<S extends ScanState>(step: ScanStep<S>): ProbedStep {
  const hit = probedSteps.get(step);
  if (hit) return hit;
  const inner = stepFunction(step) as unknown as StepFunction<ScanState>;
  const w: ProbedStep = {
    step(xp: Tensor, s: ScanState): ScanState {
      const H = s.h.shape[1]!;
      const I = xp.shape[1]! - H;
      let next = inner(narrow(xp, 1, 0, I), s);
      if (w.check) next = w.check(next);
      return { ...next, h: add(next.h, narrow(xp, 1, I, H)) };
    },
  };
  const params = (step as { parameters?: unknown }).parameters;
  if (typeof params === 'function') w.parameters = () => params.call(step) as Tensor[];
  probedSteps.set(step, w);
  return w;
}

/** scan with a probe: the probe appended to x, the wrapped step adding it to h. */
function probedScan<S extends ScanState>(step: ScanStep<S>, x: Tensor, init: S, opts: ScanOptions): ScanResult<S> {
  const { probe, check, ...rest } = opts;
  const [B, T] = x.shape as [number, number, number];
  const H = init.h.shape[1]!;
  if (!(probe instanceof Tensor) || probe.ndim !== 3 || probe.shape[0] !== B || probe.shape[1] !== T || probe.shape[2] !== H) {
    throw new SeqgradError('scan', `probe must be a (B, T, H) = ${fmt([B, T, H])} tensor for x${fmt(x.shape)} and init.h${fmt(init.h.shape)}, got ${probe instanceof Tensor ? fmt(probe.shape) : typeof probe}`);
  }
  if (probe.dtype !== x.dtype) throw new SeqgradError('scan', `probe${fmt(probe.shape)} is ${probe.dtype} but x${fmt(x.shape)} is ${x.dtype}`);
  const w = probedStep(step);
  w.check = check;
  return scan(w as never, concat([x, probe], 2), init, rest) as ScanResult<S>;
}

/**
 * Says whether `scan(step, x, init, opts)` runs compiled, and if not, why: the step read
 * values (`.item()`, `.data`, `toArray()`), drew random numbers, or used an op the compiler
 * does not know. When compiled, it counts the ops outside the loop and inside it. With
 * `checkpoint` it gives the segment length k and the number of segments ⌈T/k⌉; with dropout or
 * zoneout, the rates and how their masks are drawn (dropout: one mask per sequence for all
 * steps; zoneout: a fresh mask per step; none in evaluation mode).
 *
 * @example
 * const e = explainScan(cell, randn([2, 100, 3]), cell.initialState(2), { checkpoint: true });
 * e.compiled; // true
 * e.checkpoint; // { every: 10, segments: 10 }
 * console.log(e.text);
 */
export function explainScan<S extends ScanState>(step: ScanStep<S>, x: Tensor, init: S, opts: ScanOptions = {}): ScanExplanation {
  const { T, keys } = checkArgs('explainScan', x, init);
  const base = explainPlan(step, x, init, keys, opts);
  const checkpoint = opts.checkpoint === undefined || opts.checkpoint === false || T === 0
    ? null
    : (() => {
        const every = chunkLength(opts.checkpoint, T);
        return { every, segments: Math.ceil(T / every) };
      })();
  const regularization = wantsRegularization(opts) ? regularizationOf(opts, keys) : null;
  const parts = [base.text];
  if (checkpoint) {
    parts.push(
      `checkpointed BPTT: the state is kept every ${checkpoint.every} steps (${checkpoint.segments} segment${checkpoint.segments === 1 ? '' : 's'} for T=${T}), ` +
        'each segment run again during backward',
    );
  }
  if (regularization) parts.push(describeRegularization(regularization));
  return { ...base, checkpoint, regularization, text: parts.join('; ') };
}

/** The compiled-or-not part of `explainScan`. */
function explainPlan<S extends ScanState>(
  step: ScanStep<S>, x: Tensor, init: S, keys: string[], opts: ScanOptions,
): Pick<ScanExplanation, 'compiled' | 'reason' | 'plan' | 'text'> {
  const T = x.shape[1]!;
  if (opts.compile === false) {
    return { compiled: false, reason: 'compile: false was passed', plan: null, text: 'runs op by op: compile: false was passed' };
  }
  if (T === 0) return { compiled: false, reason: 'the sequence is empty', plan: null, text: 'runs nothing: the sequence is empty' };
  if (wantsRegularization(opts)) {
    // Masks from a generator of its own: explaining leaves the caller's generator untouched.
    const r = regularize(step as never, x, init, { ...opts, generator: new Generator(0) }, opts.check);
    return explainPlan(r.step, r.x, r.init, Object.keys(r.init), { reverse: opts.reverse, lengths: opts.lengths, compile: opts.compile, probe: opts.probe });
  }
  if (opts.probe instanceof Tensor) {
    const { probe, check, ...rest } = opts;
    const w = probedStep(step);
    w.check = check;
    return explainPlan(w as never, concat([x, probe], 2), init as ScanState, keys, rest);
  }
  const ordered = ['h', ...keys.filter((k) => k !== 'h')];
  const entry = planFor(step, x, init, ordered, opts.reverse ?? false, opts.check);
  if ('reason' in entry) {
    return { compiled: false, reason: entry.reason, plan: null, text: `runs op by op: ${entry.reason}` };
  }
  const p = entry.plan.summary;
  const text =
    `compiled: ${p.ops} ops, ${p.constant} once per call, ${p.hoisted} for all steps before the loop ` +
    `(${p.hoistedGemms} GEMM${p.hoistedGemms === 1 ? '' : 's'} over all T·B rows), ${p.recurrent} per step; ` +
    `${p.deferredGemms} weight gradient${p.deferredGemms === 1 ? '' : 's'} of the loop summed over time in one GEMM each` +
    (p.fusedLayerNorms > 0 ? `; ${p.fusedLayerNorms} layer norm${p.fusedLayerNorms === 1 ? '' : 's'} fused into one kernel each` : '');
  return { compiled: true, reason: null, plan: p, text };
}

/** How the masks of a regularised call are drawn, in words. */
function describeRegularization(r: NonNullable<ScanExplanation['regularization']>): string {
  const zone = Object.entries(r.zoneout).filter(([, p]) => p > 0);
  const zoneText = zone.map(([k, p]) => `${k} ${p}`).join(', ');
  if (!r.training) {
    return 'evaluation mode: no dropout' + (zone.length ? `; zoneout (${zoneText}) by its expectation p·previous + (1 − p)·new` : '');
  }
  const drops: string[] = [];
  if (r.inputDropout > 0) drops.push(`inputDropout ${r.inputDropout} on x`);
  if (r.recurrentDropout > 0) drops.push(`recurrentDropout ${r.recurrentDropout} on the h the step reads`);
  const out: string[] = [];
  if (drops.length) out.push(`${drops.join(' and ')}: one mask per sequence, the same at every step`);
  if (zone.length) out.push(`zoneout (${zoneText}): a fresh mask per step and unit`);
  return `${out.join('; ')}; all masks drawn from the generator once per call, before the loop`;
}

/** The rates a regularised call uses, zoneout spelled out per state entry. */
function regularizationOf(opts: ScanOptions, keys: readonly string[]): NonNullable<ScanExplanation['regularization']> {
  const z = opts.zoneout;
  const zoneout: Record<string, number> = {};
  for (const k of keys) zoneout[k] = typeof z === 'number' ? z : (z?.[k] ?? 0);
  return { training: opts.training ?? true, inputDropout: opts.inputDropout ?? 0, recurrentDropout: opts.recurrentDropout ?? 0, zoneout };
}
