import { setGradEnabled } from './engine.js';
import { SeqgradError, checkOptions, fmt, show } from './errors.js';
import { unravelIndex } from './shapes.js';
import { Generator } from './random.js';
import { randn } from './creation.js';
import { grad } from './functional.js';
import { Tensor } from './tensor.js';

export interface GradcheckOptions {
  /** Finite-difference step (central differences). */
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Check one random projection vᵀJu per (output, input) pair instead of the whole Jacobian. */
  fastMode?: boolean;
  /** Seed of the random directions (fast mode, linearity check, gradgradcheck's gradOutputs). */
  seed?: number;
  /** Throw a GradcheckError with the details (default) or return false. */
  raise?: boolean;
  /** Names for the inputs in messages (default: each tensor's `name`, else its position). */
  names?: readonly (string | undefined)[];
}

/** The error gradcheck throws: names the output, the input, the element and both values. */
export class GradcheckError extends SeqgradError {
  constructor(message: string) {
    super('gradcheck', message);
    this.name = 'GradcheckError';
  }
}

type Fn = (...inputs: Tensor[]) => Tensor | readonly Tensor[];

function outputsOf(fn: Fn, inputs: Tensor[], op = 'gradcheck'): Tensor[] {
  const out: unknown = fn(...inputs);
  if (out instanceof Tensor) return [out];
  if (!Array.isArray(out)) throw new SeqgradError(op, `fn must return a Tensor or an array of Tensors, got ${show(out)}`);
  out.forEach((o, i) => {
    if (!(o instanceof Tensor)) throw new SeqgradError(op, `fn returned an array whose output ${i} is ${show(o)}, not a Tensor`);
  });
  return out as Tensor[];
}

const GRADCHECK_OPTIONS = ['eps', 'atol', 'rtol', 'fastMode', 'seed', 'raise', 'names'];

/** Checks gradcheck's arguments before anything runs, naming the public function. */
function checkArgs(op: string, fn: unknown, inputs: unknown, opts: GradcheckOptions): void {
  if (typeof fn !== 'function') throw new SeqgradError(op, `fn must be a function of the inputs, got ${show(fn)}`);
  if (!Array.isArray(inputs)) throw new SeqgradError(op, `inputs must be an array of tensors, got ${show(inputs)}`);
  inputs.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new SeqgradError(op, `input ${i} must be a Tensor, got ${show(t)}`);
  });
  checkOptions(op, opts, GRADCHECK_OPTIONS);
  if (opts.eps !== undefined && !(typeof opts.eps === 'number' && opts.eps > 0 && Number.isFinite(opts.eps))) {
    throw new SeqgradError(op, `eps must be a positive finite number, got ${show(opts.eps)}`);
  }
  for (const k of ['atol', 'rtol'] as const) {
    const v = opts[k];
    if (v !== undefined && !(typeof v === 'number' && v >= 0 && Number.isFinite(v))) {
      throw new SeqgradError(op, `${k} must be a non-negative finite number, got ${show(v)}`);
    }
  }
}

/**
 * Compares the gradients autograd computes for `fn` with central finite differences, in
 * float64 (PyTorch's `gradcheck` semantics: |analytical − numerical| ≤ atol + rtol·|numerical|).
 * Also checks that backward is linear in the incoming gradient.
 *
 * @example
 * const x = randn([3, 4], { dtype: 'float64', requiresGrad: true });
 * gradcheck((a) => a.tanh().sum(1), [x]); // true, or throws naming output, input and element
 */
export function gradcheck(fn: Fn, inputs: readonly Tensor[], opts: GradcheckOptions = {}): boolean {
  checkArgs('gradcheck', fn, inputs, opts);
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-3;
  const raise = opts.raise ?? true;
  const gen = new Generator(opts.seed ?? 0);
  const ins = [...inputs];
  const nameOf = (i: number) => {
    const n = opts.names?.[i] ?? ins[i]!.name;
    return n ? `input ${i} ('${n}')` : `input ${i}`;
  };
  ins.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new GradcheckError(`input ${i} is not a Tensor`);
    if (t.requiresGrad && t.dtype !== 'float64') {
      throw new GradcheckError(
        `${nameOf(i)}${fmt(t.shape)} is ${t.dtype}; gradcheck needs float64 inputs: in float32 a step of ${eps} is near the ` +
          'rounding error of the values, so finite differences would be mostly noise. Convert with .to(\'float64\')',
      );
    }
  });
  const wrt = ins.map((t, i) => (t.requiresGrad ? i : -1)).filter((i) => i >= 0);
  if (wrt.length === 0) throw new GradcheckError('no input requires grad; nothing to check');

  const outs = setGradEnabled(true, () => outputsOf(fn, ins));
  const fail = (msg: string): false => {
    if (raise) throw new GradcheckError(msg);
    return false;
  };
  // Every float64 output is compared with finite differences, also one that does not require
  // grad (its analytical Jacobian is 0): an op that forgets to record itself must not pass.
  const outIdx = outs.map((_, i) => i).filter((i) => outs[i]!.dtype === 'float64');
  for (const [o, out] of outs.entries()) {
    if (out.dtype !== 'float64' && out.requiresGrad) {
      return fail(`output ${o}${fmt(out.shape)} is ${out.dtype}; every differentiable output must be float64`);
    }
  }

  // Output values at perturbed inputs, copied before the input is restored: an output may
  // share its buffer with an input (reshape, or an op that returns its argument unchanged).
  const evalAt = (i: number, j: number, delta: number): Float64Array[] => {
    const d = ins[i]!.data;
    const orig = d[j]!;
    d[j] = orig + delta;
    try {
      return setGradEnabled(true, () => outputsOf(fn, ins)).map((y) => Float64Array.from(y.data));
    } finally {
      d[j] = orig;
    }
  };

  // Vector-Jacobian product for output o with gradient v.
  const vjp = (o: number, v: Tensor): (Tensor | null)[] =>
    outs[o]!.requiresGrad
      ? grad(outs[o]!, wrt.map((i) => ins[i]!), { gradOutputs: [v], retainGraph: true, allowUnused: true })
      : wrt.map(() => null);

  // 1. Backward is linear in the incoming gradient: J^T(a u + b v) = a J^T u + b J^T v.
  for (const o of outIdx.filter((i) => outs[i]!.requiresGrad)) {
    const out = outs[o]!;
    const u = randn(out.shape, { dtype: 'float64', generator: gen });
    const v = randn(out.shape, { dtype: 'float64', generator: gen });
    const gu = vjp(o, u);
    const gv = vjp(o, v);
    const guv = vjp(o, u.mul(2).add(v.mul(-3)));
    for (let k = 0; k < wrt.length; k++) {
      const a = guv[k];
      if (!a) continue;
      const ua = gu[k]?.data;
      const va = gv[k]?.data;
      for (let e = 0; e < a.size; e++) {
        const want = 2 * (ua?.[e] ?? 0) - 3 * (va?.[e] ?? 0);
        if (Math.abs(a.data[e]! - want) > atol + rtol * Math.abs(want)) {
          return fail(
            `backward is not linear in the incoming gradient for output ${o} and ${nameOf(wrt[k]!)} at element ` +
              `[${unravelIndex(e, a.shape).join(',')}]: J^T(2u − 3v) = ${a.data[e]} but 2 J^T u − 3 J^T v = ${want}`,
          );
        }
      }
    }
  }

  // 2. Compare with central differences.
  if (opts.fastMode) {
    for (const o of outIdx) {
      const v = randn(outs[o]!.shape, { dtype: 'float64', generator: gen });
      const g = vjp(o, v);
      for (let k = 0; k < wrt.length; k++) {
        const i = wrt[k]!;
        const u = randn(ins[i]!.shape, { dtype: 'float64', generator: gen });
        const x = ins[i]!.data;
        const orig = Float64Array.from(x);
        const project = (sign: number): number => {
          for (let j = 0; j < x.length; j++) x[j] = orig[j]! + sign * eps * u.data[j]!;
          const y = setGradEnabled(true, () => outputsOf(fn, ins))[o]!;
          let s = 0;
          for (let j = 0; j < y.size; j++) s += y.data[j]! * v.data[j]!;
          return s;
        };
        let numerical: number;
        try {
          numerical = (project(1) - project(-1)) / (2 * eps);
        } finally {
          x.set(orig);
        }
        let analytical = 0;
        const gk = g[k];
        if (gk) for (let j = 0; j < u.size; j++) analytical += gk.data[j]! * u.data[j]!;
        if (!(Math.abs(analytical - numerical) <= atol + rtol * Math.abs(numerical))) {
          return fail(
            `fast mode: for output ${o} and ${nameOf(i)}${fmt(ins[i]!.shape)}, the random projection vᵀJu differs: ` +
              `numerical ${numerical}, analytical ${analytical} (rerun without fastMode to find the element)`,
          );
        }
      }
    }
    return true;
  }

  for (const o of outIdx) {
    const out = outs[o]!;
    // Analytical Jacobian rows, one backward per output element.
    const rows: (Tensor | null)[][] = [];
    for (let r = 0; r < out.size; r++) {
      const e = new Float64Array(out.size);
      e[r] = 1;
      rows.push(vjp(o, new Tensor(e, out.shape)));
    }
    for (let k = 0; k < wrt.length; k++) {
      const i = wrt[k]!;
      const input = ins[i]!;
      for (let j = 0; j < input.size; j++) {
        const plus = evalAt(i, j, eps)[o]!;
        const minus = evalAt(i, j, -eps)[o]!;
        for (let r = 0; r < out.size; r++) {
          const numerical = (plus[r]! - minus[r]!) / (2 * eps);
          const analytical = rows[r]![k]?.data[j] ?? 0;
          if (!(Math.abs(analytical - numerical) <= atol + rtol * Math.abs(numerical))) {
            return fail(
              `Jacobian mismatch for output ${o}${fmt(out.shape)} element [${unravelIndex(r, out.shape).join(',')}] with respect to ` +
                `${nameOf(i)}${fmt(input.shape)} element [${unravelIndex(j, input.shape).join(',')}]: ` +
                `numerical ${numerical}, analytical ${analytical}`,
            );
          }
        }
      }
    }
  }
  return true;
}

/**
 * Second-order check: gradcheck of the function (inputs, gradOutputs) ↦ Jᵀ·gradOutputs,
 * built with `createGraph`. Random float64 gradOutputs are drawn when not given.
 *
 * @example
 * const x = randn([4], { dtype: 'float64', requiresGrad: true });
 * gradgradcheck((a) => a.sigmoid(), [x]);
 */
export function gradgradcheck(
  fn: Fn, inputs: readonly Tensor[], gradOutputs?: readonly Tensor[], opts: GradcheckOptions = {},
): boolean {
  checkArgs('gradgradcheck', fn, inputs, opts);
  const gen = new Generator((opts.seed ?? 0) + 1);
  const ins = [...inputs];
  const outs = setGradEnabled(true, () => outputsOf(fn, ins, 'gradgradcheck'));
  const gos = gradOutputs
    ? gradOutputs.map((g) => new Tensor(g.data, g.shape, true))
    : outs.map((o) => randn(o.shape, { dtype: 'float64', generator: gen, requiresGrad: true }));
  if (gos.length !== outs.length) {
    throw new GradcheckError(`gradgradcheck: ${outs.length} outputs but ${gos.length} gradOutputs`);
  }
  const nIn = ins.length;
  const wrt = ins.map((t, i) => (t.requiresGrad ? i : -1)).filter((i) => i >= 0);
  const firstOrder = (...all: Tensor[]): Tensor[] => {
    const xs = all.slice(0, nIn);
    const vs = all.slice(nIn);
    const ys = outputsOf(fn, xs);
    const used = ys.map((y, i) => [y, vs[i]!] as const).filter(([y]) => y.requiresGrad);
    const gs = grad(used.map(([y]) => y), wrt.map((i) => xs[i]!), {
      gradOutputs: used.map(([, v]) => v), createGraph: true, allowUnused: true,
    });
    return gs.map((g, k) => g ?? xs[wrt[k]!]!.mul(0));
  };
  const names = [...ins.map((t, i) => opts.names?.[i] ?? t.name), ...gos.map((_, i) => `gradOutput ${i}`)];
  return gradcheck(firstOrder, [...ins, ...gos], { ...opts, names });
}
