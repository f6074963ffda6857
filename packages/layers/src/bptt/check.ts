import { Generator, SeqgradError, Tensor, fmt, unravelIndex } from '@seqgrad/autograd';

/** Raw float64 values by name (parameters, states, gates). */
export type Float64Record = Record<string, Float64Array>;

/** What a hand-written step backward returns. Every array is flat, row-major, float64. */
export interface HandStepGrads {
  /** dL/dx_t (B, I). */
  dx: Float64Array;
  /** Gradient for each state that entered the step, e.g. { h: dL/dh_{t−1}, c: dL/dc_{t−1} }. */
  dState: Float64Record;
  /** This step's contribution to each parameter's gradient (null for an absent parameter). */
  dParams: Record<string, Float64Array | null>;
  /** Gradient for each gate named in `BpttCell.gates` (same layout as the composed tensor). */
  dGates?: Float64Record;
}

/**
 * One recurrent cell written twice: `composed` with autograd ops (the reference) and
 * `forward`/`backward` by hand on raw arrays. `checkBptt` runs both over a random sequence.
 *
 * Shapes: x (B, inputSize), each state (B, stateSizes[name]), parameters `paramShapes`.
 * `composed` returns the new state under the state names plus, under each name in `gates`,
 * a tensor it used on the way (typically a gate's pre-activation); the hand backward reports
 * the loss gradient for the same tensors in `dGates`.
 *
 * @example
 * const cell = lstmBpttCell({ inputSize: 3, hiddenSize: 4 });
 * const report = checkBptt(cell, { steps: 6 });
 * report.ok; // true, or report.first = { step, kind, name, index, autograd, hand, message }
 */
export interface BpttCell<Cache = unknown> {
  name: string;
  inputSize: number;
  /** State name → size per batch element (h, c, ...), in the order reports compare them. */
  stateSizes: Record<string, number>;
  /** Parameter name → shape, in the order reports compare them. */
  paramShapes: Record<string, readonly number[]>;
  /** Names of the extra tensors `composed` returns, compared in this order. */
  gates?: readonly string[];
  composed(params: Record<string, Tensor>, x: Tensor, state: Record<string, Tensor>): Record<string, Tensor>;
  forward(params: Float64Record, x: Float64Array, state: Float64Record, batch: number): { state: Float64Record; cache: Cache };
  backward(params: Float64Record, cache: Cache, dState: Float64Record, batch: number): HandStepGrads;
}

export interface CheckBpttOptions {
  /** Batch size (default 2). */
  batch?: number;
  /** Sequence length T (default 5). */
  steps?: number;
  /** Seed of the random parameters, inputs, initial states and loss weights (default 0). */
  seed?: number;
  /** Parameters are drawn from U(−scale, scale) (default 0.5) unless given in `params`. */
  scale?: number;
  /** Fixed values for some parameters (e.g. a forget-gate bias). */
  params?: Float64Record;
  /** States the loss reads at every step (default: every state): L = Σ_t Σ_s ⟨u_{t,s}, s_t⟩ with random u. */
  lossOn?: readonly string[];
  /** |autograd − hand| ≤ atol + rtol·|autograd| counts as agreement (defaults 1e-9 and 1e-6). */
  atol?: number;
  rtol?: number;
}

/** Where the hand BPTT first departs from autograd. */
export interface BpttDisagreement {
  /** Time step t (0-based). */
  step: number;
  /**
   * forward: a new state value differs; gate: dL/d(gate tensor) of step t; input: dL/dx_t;
   * param: step t's contribution to a parameter's gradient; state: the gradient for a state
   * entering step t (dL/dh_{t−1}: all that flows back through steps t, t+1, ...).
   */
  kind: 'forward' | 'gate' | 'input' | 'param' | 'state';
  name: string;
  /** The element, in the shape of what is compared (e.g. [b, j] or [row, col]). */
  index: number[];
  autograd: number;
  hand: number;
  message: string;
}

export interface BpttReport {
  ok: boolean;
  /** The first disagreement in the order backward computes things, or null. */
  first: BpttDisagreement | null;
  /** How many values were compared before stopping. */
  compared: number;
  /** Largest |autograd − hand| among the compared values. */
  maxAbsDiff: number;
}

/**
 * Checks a hand-written BPTT step against the same cell composed from autograd ops, over a
 * random sequence, and reports the FIRST place they disagree, in the order a backward pass
 * computes them: forward states for t = 0 … T−1, then for t = T−1 … 0 the gates of step t, dx_t,
 * each parameter's step-t contribution, and the gradients of the states entering step t.
 * Computations run in float64.
 *
 * @example
 * const report = checkBptt(gruBpttCell({ inputSize: 3, hiddenSize: 4 }), { steps: 8, seed: 1 });
 * if (!report.ok) console.log(report.first!.message);
 * // e.g. "checkBptt(gru): step 7, gate 'z'[0,2]: autograd -0.0316, hand 0.0316"
 */
export function checkBptt<Cache>(cell: BpttCell<Cache>, opts: CheckBpttOptions = {}): BpttReport {
  const fn = 'checkBptt';
  const B = opts.batch ?? 2;
  const T = opts.steps ?? 5;
  const scale = opts.scale ?? 0.5;
  const atol = opts.atol ?? 1e-9;
  const rtol = opts.rtol ?? 1e-6;
  if (!Number.isInteger(B) || B < 1) throw new SeqgradError(fn, `opts.batch must be a positive integer, got ${B}`);
  if (!Number.isInteger(T) || T < 1) throw new SeqgradError(fn, `opts.steps must be a positive integer, got ${T}`);
  const I = cell.inputSize;
  const stateNames = Object.keys(cell.stateSizes);
  const paramNames = Object.keys(cell.paramShapes);
  const gateNames = cell.gates ?? [];
  const lossOn = opts.lossOn ?? stateNames;
  for (const s of lossOn) {
    if (!stateNames.includes(s)) throw new SeqgradError(fn, `opts.lossOn names '${s}', which is not a state of ${cell.name} (${stateNames.join(', ')})`);
  }
  const gen = new Generator(opts.seed ?? 0);
  const uniform = (n: number, s: number) => Float64Array.from({ length: n }, () => s * (2 * gen.uniform() - 1));
  const normal = (n: number) => Float64Array.from({ length: n }, () => gen.normal());
  const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

  const params: Float64Record = {};
  for (const n of paramNames) {
    const shape = cell.paramShapes[n]!;
    const given = opts.params?.[n];
    if (given && given.length !== size(shape)) {
      throw new SeqgradError(fn, `opts.params.${n} has ${given.length} values but ${cell.name}'s ${n}${fmt(shape)} holds ${size(shape)}`);
    }
    params[n] = given ? Float64Array.from(given) : uniform(size(shape), scale);
  }
  const xs = Array.from({ length: T }, () => normal(B * I));
  const state0: Float64Record = {};
  for (const s of stateNames) state0[s] = uniform(B * cell.stateSizes[s]!, 0.5);
  const upstream = Array.from({ length: T }, () => {
    const u: Float64Record = {};
    for (const s of lossOn) u[s] = normal(B * cell.stateSizes[s]!);
    return u;
  });

  // --- autograd: per-step parameter leaves (sharing the values) give per-step contributions;
  // each state entering a step is a clone whose gradient is what flows back through that step.
  const stepParams: Record<string, Tensor>[] = [];
  const xLeaves: Tensor[] = [];
  const stateIn: Record<string, Tensor>[] = [];
  const gateTensors: Record<string, Tensor>[] = [];
  const composedStates: Float64Record[] = [];
  let prev: Record<string, Tensor> = {};
  for (const s of stateNames) prev[s] = new Tensor(Float64Array.from(state0[s]!), [B, cell.stateSizes[s]!], true);
  let loss: Tensor | null = null;
  for (let t = 0; t < T; t++) {
    const ps: Record<string, Tensor> = {};
    for (const n of paramNames) ps[n] = new Tensor(params[n]!, cell.paramShapes[n]!, true);
    stepParams.push(ps);
    const x = new Tensor(xs[t]!, [B, I], true);
    xLeaves.push(x);
    const sin: Record<string, Tensor> = {};
    for (const s of stateNames) sin[s] = t === 0 ? prev[s]! : prev[s]!.clone().retainGrad();
    stateIn.push(sin);
    const out = cell.composed(ps, x, sin);
    const gates: Record<string, Tensor> = {};
    for (const g of gateNames) {
      const v = out[g];
      if (!v) throw new SeqgradError(fn, `${cell.name}.composed did not return gate '${g}' named in cell.gates`);
      gates[g] = v.requiresGrad ? v.retainGrad() : v;
    }
    gateTensors.push(gates);
    const next: Record<string, Tensor> = {};
    const values: Float64Record = {};
    for (const s of stateNames) {
      const v = out[s];
      if (!v || v.size !== B * cell.stateSizes[s]!) {
        throw new SeqgradError(fn, `${cell.name}.composed must return state '${s}' of shape [${B},${cell.stateSizes[s]}], got ${v ? fmt(v.shape) : 'nothing'}`);
      }
      next[s] = v;
      values[s] = Float64Array.from(v.data);
    }
    composedStates.push(values);
    for (const s of lossOn) {
      const term = next[s]!.mul(new Tensor(upstream[t]![s]!, next[s]!.shape)).sum();
      loss = loss ? loss.add(term) : term;
    }
    prev = next;
  }
  loss!.backward();
  const gradOf = (t: Tensor, n: number) => (t.grad ? (t.grad.data as Float64Array) : new Float64Array(n));

  // --- compare, first disagreement wins.
  let compared = 0;
  let maxAbsDiff = 0;
  let first: BpttDisagreement | null = null;
  const compare = (
    step: number, kind: BpttDisagreement['kind'], name: string, shape: readonly number[], a: ArrayLike<number>, h: ArrayLike<number> | undefined | null,
  ): boolean => {
    if (!h || h.length !== a.length) {
      throw new SeqgradError(
        fn,
        `${cell.name}: the hand ${kind === 'forward' ? 'forward' : 'backward'} returned ${h ? `${h.length} values` : 'nothing'} for ${kind} '${name}' at step ${step}, expected ${fmt(shape)}`,
      );
    }
    for (let e = 0; e < a.length; e++) {
      const d = Math.abs(a[e]! - h[e]!);
      compared++;
      if (!(d <= atol + rtol * Math.abs(a[e]!))) {
        const index = unravelIndex(e, shape);
        const what = kind === 'state' ? `state '${name}' entering the step (dL/d${name}_${step - 1})` : `${kind} '${name}'`;
        first = {
          step, kind, name, index, autograd: a[e]!, hand: h[e]!,
          message: `checkBptt(${cell.name}): step ${step}, ${what}[${index.join(',')}]: autograd ${a[e]}, hand ${h[e]}`,
        };
        return false;
      }
      maxAbsDiff = Math.max(maxAbsDiff, d);
    }
    return true;
  };
  const report = (): BpttReport => ({ ok: first === null, first, compared, maxAbsDiff });

  // forward
  const caches: Cache[] = [];
  let state: Float64Record = {};
  for (const s of stateNames) state[s] = Float64Array.from(state0[s]!);
  for (let t = 0; t < T; t++) {
    const r = cell.forward(params, xs[t]!, state, B);
    caches.push(r.cache);
    for (const s of stateNames) {
      if (!compare(t, 'forward', s, [B, cell.stateSizes[s]!], composedStates[t]![s]!, r.state[s])) return report();
    }
    state = r.state;
  }
  // backward
  let dNext: Float64Record = {};
  for (const s of stateNames) dNext[s] = new Float64Array(B * cell.stateSizes[s]!);
  for (let t = T - 1; t >= 0; t--) {
    const dState: Float64Record = {};
    for (const s of stateNames) {
      const d = Float64Array.from(dNext[s]!);
      const u = upstream[t]![s];
      if (u) for (let k = 0; k < d.length; k++) d[k] += u[k]!;
      dState[s] = d;
    }
    const g = cell.backward(params, caches[t]!, dState, B);
    for (const name of gateNames) {
      const gt = gateTensors[t]![name]!;
      if (!compare(t, 'gate', name, gt.shape, gradOf(gt, gt.size), g.dGates?.[name])) return report();
    }
    if (!compare(t, 'input', 'x', [B, I], gradOf(xLeaves[t]!, B * I), g.dx)) return report();
    for (const n of paramNames) {
      const shape = cell.paramShapes[n]!;
      if (!compare(t, 'param', n, shape, gradOf(stepParams[t]![n]!, size(shape)), g.dParams[n])) return report();
    }
    for (const s of stateNames) {
      const n = B * cell.stateSizes[s]!;
      if (!compare(t, 'state', s, [B, cell.stateSizes[s]!], gradOf(stateIn[t]![s]!, n), g.dState[s])) return report();
    }
    dNext = g.dState;
  }
  return report();
}
