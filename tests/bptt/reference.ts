/**
 * Test helpers for the hand-derived BPTT: random cases (fast-check), the same computation
 * composed from @seqgrad/autograd ops (the reference), the hand functions run on a case, and
 * the hand functions wrapped as one autograd function so `gradcheck` can compare them with
 * central finite differences.
 */
import fc from 'fast-check';
import {
  Tensor, concat, defineFunction, grad, linear, stack, zeros, type FunctionCtx,
} from '@seqgrad/autograd';
import {
  gruBackward, gruForward, lstmBackward, lstmCells, lstmForward, rnnBackward, rnnForward, type CellParams, type FloatArray,
} from '@seqgrad/layers';

export type Family = 'rnn' | 'lstm' | 'gru';

export interface Variant {
  name: string;
  family: Family;
  nonlinearity?: 'tanh' | 'relu';
  resetAfter?: boolean;
  proj?: boolean;
}

export const VARIANTS: Variant[] = [
  { name: 'rnn tanh', family: 'rnn', nonlinearity: 'tanh' },
  { name: 'rnn relu', family: 'rnn', nonlinearity: 'relu' },
  { name: 'lstm', family: 'lstm' },
  { name: 'lstm with projection', family: 'lstm', proj: true },
  { name: 'gru resetAfter', family: 'gru', resetAfter: true },
  { name: 'gru reset before matmul', family: 'gru', resetAfter: false },
];

const NAMES = ['x', 'h0', 'c0', 'weightIh', 'weightHh', 'biasIh', 'biasHh', 'weightHr'] as const;
export type InputName = (typeof NAMES)[number];
export type Grads = Record<InputName, Float64Array | null>;

export interface Case {
  variant: Variant;
  B: number; T: number; I: number; H: number;
  /** LSTM projection size, 0 without. */
  P: number;
  lengths: Int32Array | undefined;
  reverse: boolean;
  values: Record<InputName, Float64Array | null>;
  dOutput: Float64Array | null;
  dhT: Float64Array | null;
  dcT: Float64Array | null;
  /** LSTM only: upstream gradient of every step's cell state (B, T, H), as with returnAllStates. */
  dCells?: Float64Array | null;
}

export const gatesOf = (f: Family): number => (f === 'rnn' ? 1 : f === 'lstm' ? 4 : 3);

export function shapesOf(c: Pick<Case, 'variant' | 'B' | 'T' | 'I' | 'H' | 'P'>): Record<InputName, number[]> {
  const { B, T, I, H, P } = c;
  const G = gatesOf(c.variant.family);
  const S = P || H;
  return {
    x: [B, T, I], h0: [B, S], c0: [B, H], weightIh: [G * H, I], weightHh: [G * H, S],
    biasIh: [G * H], biasHh: [G * H], weightHr: [P, H],
  };
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
const vals = (n: number, max = 1) => fc.float64Array({ min: -max, max, noNaN: true, noDefaultInfinity: true, minLength: n, maxLength: n });

/**
 * Random B 1–4, T 1–8, I and H 1–6 (P 1..H−1 for the projection), weights, inputs, initial
 * states (given or zero), upstream gradients (many-to-many or many-to-one, and for the LSTM
 * sometimes on every step's cell state), with or without bias, lengths and reverse.
 */
export function caseArb(variant: Variant, opts: { maxT?: number } = {}): fc.Arbitrary<Case> {
  const H = variant.proj ? fc.integer({ min: 2, max: 6 }) : fc.integer({ min: 1, max: 6 });
  return fc
    .record({ B: fc.integer({ min: 1, max: 4 }), T: fc.integer({ min: 1, max: opts.maxT ?? 8 }), I: fc.integer({ min: 1, max: 6 }), H })
    .chain(({ B, T, I, H }) =>
      fc.record({
        B: fc.constant(B), T: fc.constant(T), I: fc.constant(I), H: fc.constant(H),
        P: variant.proj ? fc.integer({ min: 1, max: H - 1 }) : fc.constant(0),
        bias: fc.boolean(),
        withH0: fc.boolean(),
        upstream: fc.constantFrom('both', 'outputs', 'final'),
        lengths: fc.option(fc.array(fc.integer({ min: 1, max: T }), { minLength: B, maxLength: B }), { nil: undefined }),
        reverse: fc.boolean(),
        withCells: fc.boolean(),
      }),
    )
    .chain((d) => {
      const shapes = shapesOf({ variant, ...d });
      const S = d.P || d.H;
      const lstm = variant.family === 'lstm';
      return fc.record({
        x: vals(size(shapes.x)),
        h0: d.withH0 ? vals(size(shapes.h0)) : fc.constant(null),
        c0: d.withH0 && lstm ? vals(size(shapes.c0)) : fc.constant(null),
        weightIh: vals(size(shapes.weightIh)),
        weightHh: vals(size(shapes.weightHh)),
        biasIh: d.bias ? vals(size(shapes.biasIh)) : fc.constant(null),
        biasHh: d.bias ? vals(size(shapes.biasHh)) : fc.constant(null),
        weightHr: d.P ? vals(size(shapes.weightHr)) : fc.constant(null),
        dOutput: d.upstream !== 'final' ? vals(d.B * d.T * S) : fc.constant(null),
        dhT: d.upstream !== 'outputs' ? vals(d.B * S) : fc.constant(null),
        dcT: d.upstream !== 'outputs' && lstm ? vals(d.B * d.H) : fc.constant(null),
        dCells: d.withCells && lstm ? vals(d.B * d.T * d.H) : fc.constant(null),
      }).map((v): Case => ({
        variant, B: d.B, T: d.T, I: d.I, H: d.H, P: d.P,
        lengths: d.lengths ? Int32Array.from(d.lengths) : undefined,
        reverse: d.reverse,
        values: { x: v.x, h0: v.h0, c0: v.c0, weightIh: v.weightIh, weightHh: v.weightHh, biasIh: v.biasIh, biasHh: v.biasHh, weightHr: v.weightHr },
        dOutput: v.dOutput, dhT: v.dhT, dcT: v.dcT, dCells: v.dCells,
      }));
    });
}

export interface RunResult {
  output: FloatArray;
  hT: FloatArray;
  cT: FloatArray | null;
  /** LSTM cases with dCells: every step's cell state (B, T, H), 0 at padded steps. */
  cells?: FloatArray;
  grads: Grads;
}

function paramsOf(v: Record<InputName, FloatArray | null>): CellParams {
  return { weightIh: v.weightIh!, weightHh: v.weightHh!, biasIh: v.biasIh, biasHh: v.biasHh, weightHr: v.weightHr };
}

/** The hand functions on a case: forward, then backward with the case's upstream gradients. */
export function handRun(
  c: Case, values = c.values, up: { dOutput: Float64Array | null; dhT: Float64Array | null; dcT: Float64Array | null; dCells?: Float64Array | null } = c,
): RunResult {
  const { B, T, I, H, P, variant } = c;
  const dims = P ? { B, T, I, H, P } : { B, T, I, H };
  const p = paramsOf(values);
  const opts = { lengths: c.lengths, reverse: c.reverse };
  const none = { h0: null, c0: null, biasIh: null, biasHh: null, weightHr: null };
  if (variant.family === 'rnn') {
    const f = rnnForward(p, values.x!, values.h0, dims, { ...opts, nonlinearity: variant.nonlinearity });
    const g = rnnBackward(p, f.cache, up.dOutput, up.dhT);
    return { output: f.output, hT: f.hT, cT: null, grads: { ...none, x: g.dx, h0: g.dh0, weightIh: g.dWeightIh, weightHh: g.dWeightHh, biasIh: g.dBiasIh, biasHh: g.dBiasHh } as Grads };
  }
  if (variant.family === 'lstm') {
    const f = lstmForward(p, values.x!, values.h0, values.c0, dims, opts);
    const g = lstmBackward(p, f.cache, up.dOutput, up.dhT, up.dcT, { dCells: up.dCells ?? null });
    return {
      output: f.output, hT: f.hT, cT: f.cT, ...(c.dCells ? { cells: lstmCells(f.cache) } : {}),
      grads: { x: g.dx, h0: g.dh0, c0: g.dc0, weightIh: g.dWeightIh, weightHh: g.dWeightHh, biasIh: g.dBiasIh, biasHh: g.dBiasHh, weightHr: g.dWeightHr } as Grads,
    };
  }
  const f = gruForward(p, values.x!, values.h0, dims, { ...opts, resetAfter: variant.resetAfter });
  const g = gruBackward(p, f.cache, up.dOutput, up.dhT);
  return { output: f.output, hT: f.hT, cT: null, grads: { ...none, x: g.dx, h0: g.dh0, weightIh: g.dWeightIh, weightHh: g.dWeightHh, biasIh: g.dBiasIh, biasHh: g.dBiasHh } as Grads };
}

type P = Record<InputName, Tensor | null>;

/** One step composed from autograd ops on x (1, I), h (1, S), c (1, H); returns the new state and the pre-activations. */
function composedStep(v: Variant, p: P, x: Tensor, h: Tensor, c: Tensor | null): { h: Tensor; c: Tensor | null; pre: Tensor[] } {
  const gi = linear(x, p.weightIh!, p.biasIh);
  if (v.family === 'rnn') {
    const a = gi.add(linear(h, p.weightHh!, p.biasHh));
    return { h: v.nonlinearity === 'relu' ? a.relu() : a.tanh(), c: null, pre: [a] };
  }
  if (v.family === 'lstm') {
    const [ai, af, ag, ao] = gi.add(linear(h, p.weightHh!, p.biasHh)).chunk(4, 1) as [Tensor, Tensor, Tensor, Tensor];
    const cNew = af.sigmoid().mul(c!).add(ai.sigmoid().mul(ag.tanh()));
    const m = ao.sigmoid().mul(cNew.tanh());
    return { h: p.weightHr ? linear(m, p.weightHr) : m, c: cNew, pre: [] };
  }
  const H = h.shape[1]!;
  const [xr, xz, xn] = gi.chunk(3, 1) as [Tensor, Tensor, Tensor];
  const W = p.weightHh!;
  const b = p.biasHh;
  const part = (k: number) => [W.narrow(0, k * H, H), b ? b.narrow(0, k * H, H) : null] as const;
  const r = xr.add(linear(h, ...part(0))).sigmoid();
  const z = xz.add(linear(h, ...part(1))).sigmoid();
  const n = v.resetAfter ? xn.add(r.mul(linear(h, ...part(2)))).tanh() : xn.add(linear(r.mul(h), ...part(2))).tanh();
  return { h: z.neg().add(1).mul(n).add(z.mul(h)), c: null, pre: [] };
}

/**
 * The reference: the same computation composed from autograd ops, one batch element at a
 * time (its own length and direction, no masks), in float64; gradients from the engine.
 * Also returns the smallest |pre-activation| of a relu RNN (finite differences are
 * meaningless across the kink).
 */
export function composedRun(c: Case): RunResult & { minAbsPre: number } {
  const { B, T, P, H, variant } = c;
  const S = P || H;
  const shapes = shapesOf(c);
  const leaves = {} as P;
  for (const n of NAMES) {
    const a = c.values[n];
    leaves[n] = a ? new Tensor(Float64Array.from(a), shapes[n], true) : null;
  }
  let minAbsPre = Infinity;
  const outs: Tensor[] = [];
  const hTs: Tensor[] = [];
  const cTs: Tensor[] = [];
  const cellSeqs: Tensor[] = [];
  for (let b = 0; b < B; b++) {
    const len = c.lengths ? c.lengths[b]! : T;
    let h = leaves.h0 ? leaves.h0.narrow(0, b, 1) : zeros([1, S], { dtype: 'float64' });
    let cell = variant.family === 'lstm' ? (leaves.c0 ? leaves.c0.narrow(0, b, 1) : zeros([1, H], { dtype: 'float64' })) : null;
    const steps: Tensor[] = new Array(T);
    const cellSteps: Tensor[] = new Array(T);
    const xb = leaves.x!.select(0, b);
    for (let k = 0; k < len; k++) {
      const t = c.reverse ? len - 1 - k : k;
      const r = composedStep(variant, leaves, xb.narrow(0, t, 1), h, cell);
      for (const a of r.pre) for (const v of a.data) minAbsPre = Math.min(minAbsPre, Math.abs(v));
      h = r.h;
      cell = r.c;
      steps[t] = h;
      if (cell) cellSteps[t] = cell;
    }
    for (let t = len; t < T; t++) {
      steps[t] = zeros([1, S], { dtype: 'float64' });
      cellSteps[t] = zeros([1, H], { dtype: 'float64' });
    }
    outs.push(concat(steps, 0));
    if (cell) cellSeqs.push(concat(cellSteps, 0));
    hTs.push(h);
    if (cell) cTs.push(cell);
  }
  const output = stack(outs, 0);
  const hT = concat(hTs, 0);
  const cT = cTs.length ? concat(cTs, 0) : null;
  const terms: Tensor[] = [];
  if (c.dOutput) terms.push(output.mul(new Tensor(c.dOutput, output.shape)).sum());
  if (c.dhT) terms.push(hT.mul(new Tensor(c.dhT, hT.shape)).sum());
  if (c.dcT && cT) terms.push(cT.mul(new Tensor(c.dcT, cT.shape)).sum());
  const cells = c.dCells ? stack(cellSeqs, 0) : null;
  if (c.dCells && cells) terms.push(cells.mul(new Tensor(c.dCells, cells.shape)).sum());
  const loss = terms.reduce((a, t) => a.add(t));
  const present = NAMES.filter((n) => leaves[n] !== null);
  const g = grad(loss, present.map((n) => leaves[n]!), { allowUnused: true });
  const grads = Object.fromEntries(NAMES.map((n) => [n, null])) as Grads;
  present.forEach((n, k) => {
    grads[n] = (g[k]?.data as Float64Array | undefined) ?? new Float64Array(leaves[n]!.size);
  });
  return {
    output: output.data as FloatArray, hT: hT.data as FloatArray, cT: cT ? (cT.data as FloatArray) : null,
    ...(cells ? { cells: cells.data as FloatArray } : {}), grads, minAbsPre,
  };
}

/**
 * The hand forward and backward as one autograd function of the case's present inputs,
 * returning [output, hT] (+ cT), so `gradcheck` compares the hand backward with central
 * finite differences of the hand forward.
 */
export function handAsFunction(c: Case): { fn: (...inputs: Tensor[]) => Tensor[]; inputs: Tensor[]; names: InputName[] } {
  const present = NAMES.filter((n) => c.values[n] !== null);
  const shapes = shapesOf(c);
  const S = c.P || c.H;
  const lstm = c.variant.family === 'lstm';
  const withCells = lstm && Boolean(c.dCells);
  const outShapes = [[c.B, c.T, S], [c.B, S], ...(lstm ? [[c.B, c.H]] : []), ...(withCells ? [[c.B, c.T, c.H]] : [])];
  const toValues = (ts: Tensor[]) => {
    const v = Object.fromEntries(NAMES.map((n) => [n, null])) as Record<InputName, Float64Array | null>;
    present.forEach((n, k) => { v[n] = ts[k]!.data as Float64Array; });
    return v;
  };
  const f = defineFunction({
    name: `hand ${c.variant.name}`,
    forward(ctx: FunctionCtx, ...ts: Tensor[]) {
      ctx.values = toValues(ts);
      const r = handRun(c, ctx.values as Record<InputName, Float64Array | null>, { dOutput: null, dhT: null, dcT: null });
      return [
        new Tensor(r.output, outShapes[0]!), new Tensor(r.hT, outShapes[1]!),
        ...(lstm ? [new Tensor(r.cT!, outShapes[2]!)] : []), ...(withCells ? [new Tensor(r.cells!, outShapes[3]!)] : []),
      ];
    },
    backward(ctx: FunctionCtx, ...gs: Tensor[]) {
      const r = handRun(c, ctx.values as Record<InputName, Float64Array | null>, {
        dOutput: gs[0]!.data as Float64Array, dhT: gs[1]!.data as Float64Array, dcT: lstm ? (gs[2]!.data as Float64Array) : null,
        dCells: withCells ? (gs[3]!.data as Float64Array) : null,
      });
      return present.map((n) => new Tensor(r.grads[n]!, shapes[n]));
    },
  });
  return {
    fn: (...ts: Tensor[]) => f(...ts),
    inputs: present.map((n) => new Tensor(Float64Array.from(c.values[n]!), shapes[n], true)),
    names: present,
  };
}

/** Largest |a − b| / max(1, |b|) over two arrays (relative error with an absolute floor at 1). */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return m;
}
