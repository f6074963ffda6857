/**
 * Recurrent regularisation as options of `scan`, for any step, compiled or eager:
 * variational dropout (Gal & Ghahramani 2016) on the inputs and on the recurrent h, one mask
 * per sequence for all steps, and zoneout (Krueger et al. 2017), a fresh keep-the-previous-value
 * mask per step and unit. Nothing here changes the compiler: the recurrent-dropout mask travels
 * through the scan as one more state entry that the wrapped step returns unchanged, and the
 * zoneout masks are appended to x along the feature axis and split off again by the wrapped
 * step, so the tracer and the plan see an ordinary step. The wrapped step is cached per
 * (step, option shape), so scan's plan cache keeps hitting across calls.
 */
import { SeqgradError } from '../errors.js';
import { add, mul } from '../ops/elementwise.js';
import { concat, narrow, reshape } from '../ops/shape.js';
import { type Generator, defaultGenerator } from '../random.js';
import { type FloatDType, Tensor, arrayFor } from '../tensor.js';

type State = { readonly h: Tensor } & { readonly [name: string]: Tensor };
type Step = ((x: Tensor, s: State) => State) | { step(x: Tensor, s: State): State };

/** The options of `scan` that regularise a recurrent network during training. */
export interface RegularizeOptions {
  /**
   * Fraction of the input features dropped (Keras's `dropout`): one mask per sequence,
   * (B, I), the same at every step, scaled by 1/(1 − p). Default 0.
   */
  inputDropout?: number;
  /**
   * Fraction of the recurrent h dropped before the step reads it (Keras's
   * `recurrent_dropout`, Gal & Ghahramani's variational dropout): one (B, H) mask per
   * sequence, the same at every step, scaled by 1/(1 − p). Only h is masked, not the other
   * state entries (an LSTM's c), and the output h is unmasked. Default 0.
   */
  recurrentDropout?: number;
  /**
   * Zoneout (Krueger et al. 2017): each unit of a state entry keeps its previous value with
   * probability p at each step, a fresh mask per step. A number applies to every state
   * entry; an object gives a rate per entry (e.g. `{ h: 0.05, c: 0.5 }`). Not training, the
   * step returns the expectation p·previous + (1 − p)·new. Default 0.
   */
  zoneout?: number | Readonly<Record<string, number>>;
  /** false: evaluation mode, no dropout, zoneout by its expectation (default true). */
  training?: boolean;
  /** Where the masks are drawn from (default the global generator). */
  generator?: Generator;
}

/** The mask entry's name in the wrapped state; no user entry may use it. */
const MASK = '$recurrentDropout';

/** Is any regularisation option set to a nonzero rate? */
export function wantsRegularization(opts: RegularizeOptions): boolean {
  const z = opts.zoneout;
  const zs = z === undefined ? [] : typeof z === 'number' ? [z] : Object.values(z);
  return !!opts.inputDropout || !!opts.recurrentDropout || zs.some((p) => p !== 0);
}

function rate(op: string, name: string, p: unknown): number {
  if (p === undefined) return 0;
  if (typeof p !== 'number' || !(p >= 0 && p < 1)) throw new SeqgradError(op, `${name} must be a number in [0, 1), got ${String(p)}`);
  return p;
}

/** A (rows, n) mask of 0 and 1/(1 − p), drawn row by row. */
function dropMask(g: Generator, dtype: FloatDType, shape: number[], p: number, scale: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const m = arrayFor(dtype, n);
  for (let i = 0; i < n; i++) m[i] = g.uniform() < p ? 0 : scale;
  return new Tensor(m, shape);
}

interface Wrapped {
  step(x: Tensor, s: State): State;
  parameters?: () => Tensor[];
  /** The validation of the inner step's result for the current call (scan's `check`). */
  check?: (next: unknown) => State;
}

const wrappers = new WeakMap<object, Map<string, Wrapped>>();

function innerFunction(step: Step): (x: Tensor, s: State) => State {
  if (typeof step === 'function') return step;
  if (step && typeof (step as { step?: unknown }).step === 'function') return (x, s) => step.step(x, s);
  throw new SeqgradError('scan', 'step must be a function (x, state) => state or an object with a step method');
}

/**
 * The step with the masks applied. `recurrent`: the state carries the h mask as entry MASK.
 * `zone`: the zoneout entries in x's order; training reads their masks from x's last
 * features, evaluation mixes with the constant rates `evalRates`.
 */
function wrap(step: Step, recurrent: boolean, zone: readonly string[], evalRates: readonly number[] | null): Wrapped {
  const key = `${recurrent ? 'r' : '-'}|${zone.join(',')}|${evalRates ? `eval:${evalRates.join(',')}` : 'train'}`;
  let byKey = wrappers.get(step);
  if (!byKey) wrappers.set(step, (byKey = new Map()));
  const hit = byKey.get(key);
  if (hit) return hit;
  const inner = innerFunction(step);
  const w: Wrapped = {
    step(xIn: Tensor, s: State): State {
      let x = xIn;
      const zMasks: Tensor[] = [];
      if (zone.length > 0 && !evalRates) {
        const sizes = zone.map((k) => s[k]!.shape[1]!);
        const total = sizes.reduce((a, b) => a + b, 0);
        const I = x.shape[1]! - total;
        let at = I;
        for (const n of sizes) {
          zMasks.push(narrow(x, 1, at, n));
          at += n;
        }
        x = narrow(x, 1, 0, I);
      }
      const cellState: Record<string, Tensor> = {};
      for (const k of Object.keys(s)) if (k !== MASK) cellState[k] = s[k]!;
      if (recurrent) cellState.h = mul(s.h, s[MASK]!);
      let next = inner(x, cellState as State) as Record<string, Tensor>;
      if (w.check) next = w.check(next) as Record<string, Tensor>;
      const out: Record<string, Tensor> = { ...next };
      zone.forEach((k, i) => {
        const prev = s[k]!;
        const now = next[k]!;
        if (evalRates) out[k] = add(mul(prev, evalRates[i]!), mul(now, 1 - evalRates[i]!));
        else {
          // z is 1 where the unit keeps its previous value: z·prev + (1 − z)·new.
          const z = zMasks[i]!;
          out[k] = add(mul(z, prev), mul(now, add(mul(z, -1), 1)));
        }
      });
      if (recurrent) out[MASK] = s[MASK]!;
      return out as State;
    },
  };
  const params = (step as { parameters?: unknown }).parameters;
  if (typeof params === 'function') w.parameters = () => params.call(step) as Tensor[];
  byKey.set(key, w);
  return w;
}

export interface RegularizedCall {
  step: Wrapped;
  x: Tensor;
  init: State;
  /** Removes the mask entry from a final state. */
  strip(state: Record<string, Tensor>): State;
}

/**
 * Draws the masks for one call of scan and returns the wrapped step, the input with input
 * dropout applied (and the zoneout masks appended), and the initial state with the
 * recurrent-dropout mask as one more entry. Masks are drawn in this order: input, recurrent,
 * zoneout (b, t, then feature), all from `generator`.
 */
export function regularize(step: Step, x: Tensor, init: State, opts: RegularizeOptions, check?: (next: unknown) => State): RegularizedCall {
  const op = 'scan';
  const pIn = rate(op, 'inputDropout', opts.inputDropout);
  const pRec = rate(op, 'recurrentDropout', opts.recurrentDropout);
  const keys = Object.keys(init);
  if (keys.includes(MASK)) throw new SeqgradError(op, `init has an entry named '${MASK}', which scan uses for the recurrent-dropout mask`);
  const zRates: Record<string, number> = {};
  if (typeof opts.zoneout === 'number') for (const k of keys) zRates[k] = rate(op, 'zoneout', opts.zoneout);
  else if (opts.zoneout !== undefined) {
    if (opts.zoneout === null || typeof opts.zoneout !== 'object') throw new SeqgradError(op, `zoneout must be a number or an object of rates per state entry, got ${String(opts.zoneout)}`);
    for (const [k, p] of Object.entries(opts.zoneout)) {
      if (!keys.includes(k)) throw new SeqgradError(op, `zoneout names '${k}', which is not a state entry (${keys.join(', ')})`);
      zRates[k] = rate(op, `zoneout.${k}`, p);
    }
  }
  const zone = keys.filter((k) => (zRates[k] ?? 0) > 0);
  const training = opts.training ?? true;
  if (opts.training !== undefined && typeof opts.training !== 'boolean') throw new SeqgradError(op, `training must be a boolean, got ${String(opts.training)}`);
  const g = opts.generator ?? defaultGenerator;
  const [B, T, I] = x.shape as [number, number, number];
  const dtype = x.dtype as FloatDType;
  const recurrent = training && pRec > 0;
  const w = wrap(step, recurrent, zone, training ? null : zone.map((k) => zRates[k]!));
  w.check = check;
  let xs = x;
  const s: Record<string, Tensor> = { ...init };
  if (training) {
    if (pIn > 0) xs = mul(x, reshape(dropMask(g, dtype, [B, I], pIn, 1 / (1 - pIn)), [B, 1, I]));
    if (recurrent) {
      const H = init.h.shape[1]!;
      s[MASK] = dropMask(g, dtype, [B, H], pRec, 1 / (1 - pRec));
    }
    if (zone.length > 0) {
      const sizes = zone.map((k) => init[k]!.shape[1]!);
      const total = sizes.reduce((a, b) => a + b, 0);
      const z = arrayFor(dtype, B * T * total);
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          let at = (b * T + t) * total;
          zone.forEach((k, i) => {
            const p = zRates[k]!;
            for (let j = 0; j < sizes[i]!; j++) z[at++] = g.uniform() < p ? 1 : 0;
          });
        }
      }
      xs = concat([xs, new Tensor(z, [B, T, total])], 2);
    }
  }
  return {
    step: w,
    x: xs,
    init: s as State,
    strip(state) {
      const out: Record<string, Tensor> = {};
      for (const k of Object.keys(state)) if (k !== MASK) out[k] = state[k]!;
      return out as State;
    },
  };
}
