/**
 * Memory-light BPTT (Chen et al. 2016; Gruslys et al. 2016): `scan` with `checkpoint: k`
 * splits the sequence into chunks of k steps. Each chunk is one autograd function whose
 * forward runs scan over the chunk without recording (compiled when the step can be) and
 * keeps only the chunk's initial state; its backward runs the chunk again with recording and
 * differentiates it. Memory holds the states at chunk boundaries and one chunk's
 * activations instead of every step's; the price is a second forward pass.
 */
import { type FunctionCtx, defineFunction, enableGrad, isGradEnabled } from '../engine.js';
import { SeqgradError, fmt } from '../errors.js';
import { where } from '../ops/elementwise.js';
import { concat, narrow } from '../ops/shape.js';
import { type FloatDType, Tensor, arrayFor } from '../tensor.js';
import { grad } from '../functional.js';

type State = { readonly h: Tensor } & { readonly [name: string]: Tensor };
type Step = ((x: Tensor, s: State) => State) | { step(x: Tensor, s: State): State };

export interface CheckpointOptions {
  /**
   * Recompute activations in backward instead of keeping them: `k` keeps the state every k
   * steps, `true` every ⌈√T⌉ steps. Needs the step's parameters: a step with a
   * `parameters()` method (a cell) gives them, a plain function needs `params`.
   */
  checkpoint?: number | boolean;
  /** The tensors a plain-function step reads that need gradients (for `checkpoint`). */
  params?: readonly Tensor[];
}

interface InnerOptions {
  reverse: boolean;
  compile?: boolean;
  collect: string[];
  check?: (next: unknown) => State;
}

type ScanFn = (
  step: Step, x: Tensor, init: State, opts: InnerOptions & { lengths: Int32Array | null },
) => { output: Tensor; state: State; sequences: Record<string, Tensor> };

interface Job {
  scan: ScanFn;
  step: Step;
  keys: string[];
  opts: InnerOptions;
  /** Valid steps of each sequence inside this chunk, 0..n; null when all are full. */
  lengths: Int32Array | null;
}

/** The chunk's outputs: output sequence, final entries in `keys` order, collected sequences. */
function runChunk(job: Job, x: Tensor, init: Tensor[]): Tensor[] {
  const { keys, opts, lengths } = job;
  const state: Record<string, Tensor> = {};
  keys.forEach((k, e) => (state[k] = init[e]!));
  // scan wants lengths ≥ 1; a sequence that ended before the chunk runs one step whose results
  // are then replaced: its state stays as it was and its outputs are zero.
  let idle: Tensor | null = null;
  let lens: Int32Array | null = null;
  if (lengths) {
    lens = lengths.map((l) => Math.max(l, 1));
    if (lengths.some((l) => l === 0)) {
      const m = arrayFor(x.dtype as FloatDType, lengths.length);
      lengths.forEach((l, b) => (m[b] = l > 0 ? 1 : 0));
      idle = new Tensor(m, [lengths.length, 1]);
    }
  }
  const r = job.scan(job.step, x, state as State, { ...opts, lengths: lens });
  const seqs = [r.output, ...opts.collect.map((k) => r.sequences[k]!)];
  const finals = keys.map((k) => r.state[k]!);
  if (!idle) return [seqs[0]!, ...finals, ...seqs.slice(1)];
  const keep = idle;
  const m3 = keep.reshape([keep.shape[0]!, 1, 1]);
  const masked = seqs.map((s) => where(m3, s, 0));
  return [masked[0]!, ...finals.map((f, e) => where(keep, f, init[e]!)), ...masked.slice(1)];
}

const chunk = defineFunction({
  name: 'scan (checkpointed chunk)',
  forward(ctx: FunctionCtx, job: Job, x: Tensor, ...rest: Tensor[]): Tensor[] {
    ctx.job = job;
    // Kept: the chunk's input and initial state (already alive outside), nothing per step.
    ctx.inputs = [x, ...rest];
    return runChunk(job, x, rest.slice(0, job.keys.length));
  },
  backward(ctx: FunctionCtx, ...grads: Tensor[]) {
    const job = ctx.job as Job;
    const inputs = ctx.inputs as Tensor[];
    const E = job.keys.length;
    const needs = ctx.needsInputGrad.slice(1);
    const createGraph = isGradEnabled();
    return enableGrad(() => {
      // x and the initial state are cut from the outer graph (unless differentiating the
      // backward itself); parameters are used as they are, since the step reads them directly.
      const ins = inputs.map((t, i) => {
        if (i > E || createGraph || !needs[i]) return t;
        const d = t.detach();
        d.requiresGrad = true;
        return d;
      });
      const outs = runChunk(job, ins[0]!, ins.slice(1, 1 + E));
      const wanted = ins.map((t, i) => (needs[i] ? t : null));
      const list = wanted.filter((t): t is Tensor => t !== null);
      const used = outs.map((o) => o.requiresGrad);
      const gs = list.length === 0 || !used.some(Boolean) ? [] : grad(outs.filter((_, i) => used[i]), list, {
        gradOutputs: grads.filter((_, i) => used[i]), createGraph, allowUnused: true,
      });
      let j = 0;
      return [null, ...wanted.map((t) => (t === null ? null : gs[j++] ?? null))];
    });
  },
});

/** The tensors the step reads that need gradients: `params`, or the step's `parameters()`. */
function stepParams(step: Step, params: readonly Tensor[] | undefined): Tensor[] {
  if (params !== undefined) {
    if (!Array.isArray(params) || params.some((p) => !(p instanceof Tensor))) {
      throw new SeqgradError('scan', 'params must be an array of the tensors the step reads');
    }
    return [...params];
  }
  const own = (step as { parameters?: unknown }).parameters;
  if (typeof own === 'function') return own.call(step) as Tensor[];
  throw new SeqgradError(
    'scan',
    'checkpoint needs the tensors the step reads: pass a cell (an object with step and parameters()) ' +
      'or a params option listing them, e.g. { checkpoint: 32, params: [W, U, b] }',
  );
}

/** The chunk length for `checkpoint` at T steps. */
export function chunkLength(checkpoint: number | boolean, T: number): number {
  if (checkpoint === true) return Math.max(1, Math.ceil(Math.sqrt(T)));
  if (typeof checkpoint !== 'number' || !Number.isInteger(checkpoint) || checkpoint < 1) {
    throw new SeqgradError('scan', `checkpoint must be true or a positive integer number of steps, got ${String(checkpoint)}`);
  }
  return checkpoint;
}

/**
 * scan in chunks of k steps, each chunk one recomputing autograd function. Called by `scan`
 * with validated arguments: lengths normalised (null when all full), keys in init's order.
 */
export function checkpointedScan(
  scanFn: ScanFn, step: Step, x: Tensor, init: State, lengths: Int32Array | null,
  opts: InnerOptions & CheckpointOptions,
): { output: Tensor; state: State; sequences: Record<string, Tensor> } {
  const [, T] = x.shape as [number, number, number];
  const k = chunkLength(opts.checkpoint!, T);
  const params = stepParams(step, opts.params);
  params.forEach((p, i) => {
    if (p.dtype !== x.dtype) throw new SeqgradError('scan', `params[${i}]${fmt(p.shape)} is ${p.dtype} but x${fmt(x.shape)} is ${x.dtype}`);
  });
  const keys = Object.keys(init);
  const inner: InnerOptions = { reverse: opts.reverse, compile: opts.compile, collect: opts.collect, check: opts.check };
  const starts: number[] = [];
  for (let t0 = 0; t0 < T; t0 += k) starts.push(t0);
  if (opts.reverse) starts.reverse();
  const seqs = new Map<number, Tensor[]>();
  let state: Tensor[] = keys.map((key) => init[key]!);
  for (const t0 of starts) {
    const n = Math.min(k, T - t0);
    let lens: Int32Array | null = null;
    if (lengths) {
      lens = lengths.map((l) => Math.min(Math.max(l - t0, 0), n));
      if (lens.every((l) => l === n)) lens = null;
    }
    const job: Job = { scan: scanFn, step, keys, opts: inner, lengths: lens };
    const outs = chunk(job, narrow(x, 1, t0, n), ...state, ...params);
    state = outs.slice(1, 1 + keys.length);
    seqs.set(t0, [outs[0]!, ...outs.slice(1 + keys.length)]);
  }
  const inOrder = [...seqs.keys()].sort((a, b) => a - b).map((t0) => seqs.get(t0)!);
  const joined = (i: number) => (inOrder.length === 1 ? inOrder[0]![i]! : concat(inOrder.map((s) => s[i]!), 1));
  const finalState: Record<string, Tensor> = {};
  keys.forEach((key, e) => (finalState[key] = state[e]!));
  const sequences: Record<string, Tensor> = {};
  opts.collect.forEach((key, i) => (sequences[key] = joined(i + 1)));
  return { output: joined(0), state: finalState as State, sequences };
}
