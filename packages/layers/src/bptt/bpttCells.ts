import { SeqgradError, type Tensor, linear } from '@seqgrad/autograd';
import type { BpttCell, Float64Record, HandStepGrads } from './check.js';
import { gruCellBackward, gruCellForward, type GruCache } from './gru.js';
import { lstmCellBackward, lstmCellForward, type LstmCache } from './lstm.js';
import { rnnCellBackward, rnnCellForward, type RnnCache } from './rnn.js';
import type { CellParams, Nonlinearity } from './types.js';

export interface BpttCellOptions {
  inputSize: number;
  hiddenSize: number;
  /** Default true. */
  bias?: boolean;
}

function paramShapes(G: number, I: number, H: number, S: number, bias: boolean): Record<string, number[]> {
  const shapes: Record<string, number[]> = { weightIh: [G * H, I], weightHh: [G * H, S] };
  if (bias) {
    shapes.biasIh = [G * H];
    shapes.biasHh = [G * H];
  }
  return shapes;
}

function cellParams(p: Float64Record): CellParams {
  return { weightIh: p.weightIh!, weightHh: p.weightHh!, biasIh: p.biasIh ?? null, biasHh: p.biasHh ?? null, weightHr: p.weightHr ?? null };
}

function checkSizes(fn: string, o: BpttCellOptions): void {
  for (const k of ['inputSize', 'hiddenSize'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new SeqgradError(fn, `${k} must be a positive integer, got ${String(o[k])}`);
  }
}

/** Splits (B, G·H) rows into G arrays (B, H) named by `names`. */
function splitGates(a: Float64Array, B: number, H: number, names: readonly string[]): Float64Record {
  const G = names.length;
  const out: Float64Record = {};
  names.forEach((n, k) => {
    const v = new Float64Array(B * H);
    for (let b = 0; b < B; b++) v.set(a.subarray(b * G * H + k * H, b * G * H + (k + 1) * H), b * H);
    out[n] = v;
  });
  return out;
}

function dParams(g: { dWeightIh: unknown; dWeightHh: unknown; dBiasIh: unknown; dBiasHh: unknown; dWeightHr?: unknown }, bias: boolean) {
  const d: Record<string, Float64Array | null> = { weightIh: g.dWeightIh as Float64Array, weightHh: g.dWeightHh as Float64Array };
  if (bias) {
    d.biasIh = g.dBiasIh as Float64Array;
    d.biasHh = g.dBiasHh as Float64Array;
  }
  if (g.dWeightHr) d.weightHr = g.dWeightHr as Float64Array;
  return d;
}

/**
 * The RNN cell for `checkBptt`: composed a = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh, h' = φ(a), and
 * the hand `rnnCellForward`/`rnnCellBackward`. Gate: 'a' (the pre-activation).
 *
 * @example
 * checkBptt(rnnBpttCell({ inputSize: 3, hiddenSize: 4, nonlinearity: 'relu' })).ok; // true
 */
export function rnnBpttCell(o: BpttCellOptions & { nonlinearity?: Nonlinearity }): BpttCell<RnnCache> {
  checkSizes('rnnBpttCell', o);
  const { inputSize: I, hiddenSize: H } = o;
  const bias = o.bias ?? true;
  const nonlinearity = o.nonlinearity ?? 'tanh';
  return {
    name: `rnn ${nonlinearity}`,
    inputSize: I,
    stateSizes: { h: H },
    paramShapes: paramShapes(1, I, H, H, bias),
    gates: ['a'],
    composed(p, x, s) {
      const a = linear(x, p.weightIh!, p.biasIh).add(linear(s.h!, p.weightHh!, p.biasHh));
      return { h: nonlinearity === 'relu' ? a.relu() : a.tanh(), a };
    },
    forward(p, x, s, B) {
      const r = rnnCellForward(cellParams(p), x, s.h!, { B, I, H }, { nonlinearity });
      return { state: { h: r.h as Float64Array }, cache: r.cache };
    },
    backward(p, cache, d): HandStepGrads {
      const g = rnnCellBackward(cellParams(p), cache, d.h!);
      return { dx: g.dx as Float64Array, dState: { h: g.dhPrev as Float64Array }, dParams: dParams(g, bias), dGates: { a: g.dGates as Float64Array } };
    },
  };
}

/**
 * The LSTM cell for `checkBptt` (optionally with a projection of size `projSize`): gates
 * 'i', 'f', 'g', 'o' are the pre-activations; states 'h' (size P or H) and 'c'.
 *
 * @example
 * checkBptt(lstmBpttCell({ inputSize: 3, hiddenSize: 4, projSize: 2 })).ok; // true
 */
export function lstmBpttCell(o: BpttCellOptions & { projSize?: number }): BpttCell<LstmCache> {
  checkSizes('lstmBpttCell', o);
  const { inputSize: I, hiddenSize: H } = o;
  const P = o.projSize ?? 0;
  if (!Number.isInteger(P) || P < 0 || (P > 0 && P >= H)) throw new SeqgradError('lstmBpttCell', `projSize must be an integer in 1..hiddenSize−1, got ${P}`);
  const S = P || H;
  const bias = o.bias ?? true;
  const shapes = paramShapes(4, I, H, S, bias);
  if (P) shapes.weightHr = [P, H];
  return {
    name: P ? 'lstm with projection' : 'lstm',
    inputSize: I,
    stateSizes: { h: S, c: H },
    paramShapes: shapes,
    gates: ['i', 'f', 'g', 'o'],
    composed(p, x, s) {
      const [i, f, g, o] = linear(x, p.weightIh!, p.biasIh).add(linear(s.h!, p.weightHh!, p.biasHh)).chunk(4, 1) as [Tensor, Tensor, Tensor, Tensor];
      const c = f.sigmoid().mul(s.c!).add(i.sigmoid().mul(g.tanh()));
      const m = o.sigmoid().mul(c.tanh());
      return { h: P ? linear(m, p.weightHr!) : m, c, i, f, g, o };
    },
    forward(p, x, s, B) {
      const r = lstmCellForward(cellParams(p), x, s.h!, s.c!, P ? { B, I, H, P } : { B, I, H });
      return { state: { h: r.h as Float64Array, c: r.c as Float64Array }, cache: r.cache };
    },
    backward(p, cache, d, B): HandStepGrads {
      const g = lstmCellBackward(cellParams(p), cache, d.h!, d.c!);
      return {
        dx: g.dx as Float64Array, dState: { h: g.dhPrev as Float64Array, c: g.dcPrev as Float64Array }, dParams: dParams(g, bias),
        dGates: splitGates(g.dGates as Float64Array, B, H, ['i', 'f', 'g', 'o']),
      };
    },
  };
}

/**
 * The GRU cell for `checkBptt`, either reset placement: gates 'r', 'z', 'n' are the
 * pre-activations (n's includes the reset term), state 'h'.
 *
 * @example
 * checkBptt(gruBpttCell({ inputSize: 3, hiddenSize: 4, resetAfter: false })).ok; // true
 */
export function gruBpttCell(o: BpttCellOptions & { resetAfter?: boolean }): BpttCell<GruCache> {
  checkSizes('gruBpttCell', o);
  const { inputSize: I, hiddenSize: H } = o;
  const bias = o.bias ?? true;
  const resetAfter = o.resetAfter ?? true;
  return {
    name: resetAfter ? 'gru' : 'gru (reset before matmul)',
    inputSize: I,
    stateSizes: { h: H },
    paramShapes: paramShapes(3, I, H, H, bias),
    gates: ['r', 'z', 'n'],
    composed(p, x, s) {
      const h = s.h!;
      const [xr, xz, xn] = linear(x, p.weightIh!, p.biasIh).chunk(3, 1) as [Tensor, Tensor, Tensor];
      const block = (k: number) => [p.weightHh!.narrow(0, k * H, H), p.biasHh ? p.biasHh.narrow(0, k * H, H) : null] as const;
      const r = xr.add(linear(h, ...block(0)));
      const z = xz.add(linear(h, ...block(1)));
      const rs = r.sigmoid();
      const n = resetAfter ? xn.add(rs.mul(linear(h, ...block(2)))) : xn.add(linear(rs.mul(h), ...block(2)));
      const zs = z.sigmoid();
      // h' = (1 − z) ⊙ n + z ⊙ h
      return { h: zs.neg().add(1).mul(n.tanh()).add(zs.mul(h)), r, z, n };
    },
    forward(p, x, s, B) {
      const r = gruCellForward(cellParams(p), x, s.h!, { B, I, H }, { resetAfter });
      return { state: { h: r.h as Float64Array }, cache: r.cache };
    },
    backward(p, cache, d, B): HandStepGrads {
      const g = gruCellBackward(cellParams(p), cache, d.h!);
      return {
        dx: g.dx as Float64Array, dState: { h: g.dhPrev as Float64Array }, dParams: dParams(g, bias),
        dGates: splitGates(g.dGates as Float64Array, B, H, ['r', 'z', 'n']),
      };
    },
  };
}
