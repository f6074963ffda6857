/**
 * Random recurrent cells from a small grammar of ops, for property tests of everything that
 * runs a step (the scan compiler, the ONNX Scan export): gates from linear maps of x and h (one
 * map chunked, or one per gate), optional layer norm, activations, an expression tree over the
 * gates and the state, and an optional concatenation followed by a recurrent matmul.
 */
import fc from 'fast-check';
import { type Tensor, add, chunk, concat, div, linear, mean, mul, relu, sigmoid, sqrt, sub, tanh, variance } from '@seqgrad/autograd';

export type Expr = { leaf: number } | { un: number; a: Expr } | { bin: number; a: Expr; b: Expr };

export interface GrammarSpec {
  withC: boolean;
  /**
   * act: 0 sigmoid, 1 tanh, 2 relu, 3 none; useH: the gate reads h (else it is hoisted); ln:
   * layer-normed, lnForm: 0 with a gain, 1 without one and with the unbiased variance, 2 with
   * a gain and the normalised value used a second time (y·gain + y).
   */
  gates: { act: number; useH: boolean; ln: boolean; lnForm: number }[];
  /** One linear map for all gates, then chunk (true), or one per gate. */
  split: boolean;
  exprH: Expr;
  exprC: Expr;
  /** h' += W_m [g_0, h] (a concatenation and a recurrent matmul). */
  mix: boolean;
}

export const exprArb = fc.letrec<{ e: Expr }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ leaf: fc.nat(7) }),
    fc.record({ un: fc.nat(2), a: tie('e') }),
    fc.record({ bin: fc.nat(2), a: tie('e'), b: tie('e') }),
  ),
})).e;

/** The fields of a GrammarSpec as arbitraries, to spread into a larger `fc.record`. */
export const grammarFields = {
  withC: fc.boolean(),
  gates: fc.array(fc.record({ act: fc.nat(3), useH: fc.boolean(), ln: fc.boolean(), lnForm: fc.nat(2) }), { minLength: 1, maxLength: 4 }),
  split: fc.boolean(), exprH: exprArb, exprC: exprArb, mix: fc.boolean(),
};

export const grammarArb: fc.Arbitrary<GrammarSpec> = fc.record(grammarFields);

/** The parameters a spec's cell holds. */
export interface GrammarParams {
  wx: Tensor[];
  wh: Tensor[];
  bias: Tensor;
  lnGain: Tensor;
  wm: Tensor;
}

/** The shape of every parameter, by name, in creation order (wx or wx0.., wh or wh0.., bias, ln_gain, wm). */
export function grammarShapes(spec: GrammarSpec, I: number, H: number): [string, number[]][] {
  const G = spec.gates.length;
  const wx: [string, number[]][] = spec.split ? [['wx', [G * H, I]]] : spec.gates.map((_, i) => [`wx${i}`, [H, I]]);
  const wh: [string, number[]][] = spec.split ? [['wh', [G * H, H]]] : spec.gates.map((_, i) => [`wh${i}`, [H, H]]);
  return [...wx, ...wh, ['bias', [G * H]], ['ln_gain', [H]], ['wm', [H, 2 * H]]];
}

/** Groups parameters made in `grammarShapes` order. */
export function grammarParams(spec: GrammarSpec, made: Tensor[]): GrammarParams {
  const n = spec.split ? 1 : spec.gates.length;
  return { wx: made.slice(0, n), wh: made.slice(n, 2 * n), bias: made[2 * n]!, lnGain: made[2 * n + 1]!, wm: made[2 * n + 2]! };
}

/** One step of the spec's cell. */
export function grammarStep(spec: GrammarSpec, p: GrammarParams, x: Tensor, s: { h: Tensor; c?: Tensor }): { h: Tensor; c?: Tensor } {
  const G = spec.gates.length;
  const layerNorm = (v: Tensor, form: number) => {
    const centered = sub(v, mean(v, -1, true));
    // The unbiased variance only where a row has more than one value (else it divides by 0).
    const correction = form === 1 && v.shape[v.ndim - 1]! > 1 ? 1 : 0;
    const y = div(centered, sqrt(add(variance(v, -1, { keepdim: true, correction }), 1e-5)));
    return form === 0 ? mul(y, p.lnGain) : form === 1 ? y : add(mul(y, p.lnGain), y);
  };
  const acts = [sigmoid, tanh, relu, (v: Tensor) => v];
  const bs = chunk(p.bias, G, 0);
  let pre: Tensor[];
  if (spec.split) {
    const xs = chunk(linear(x, p.wx[0]!), G, -1);
    const hs = chunk(linear(s.h, p.wh[0]!), G, -1);
    pre = spec.gates.map((g, i) => (g.useH ? add(xs[i]!, hs[i]!) : xs[i]!));
  } else pre = spec.gates.map((g, i) => (g.useH ? add(linear(x, p.wx[i]!), linear(s.h, p.wh[i]!)) : linear(x, p.wx[i]!)));
  const gates = spec.gates.map((g, i) => acts[g.act]!(add(g.ln ? layerNorm(pre[i]!, g.lnForm) : pre[i]!, bs[i]!)));
  const leaves = [...gates, s.h, ...(s.c ? [s.c] : [])];
  const ev = (e: Expr): Tensor => {
    if ('leaf' in e) return leaves[e.leaf % leaves.length]!;
    if ('un' in e) return [tanh, sigmoid, relu][e.un]!(ev(e.a));
    return [add, mul, sub][e.bin]!(ev(e.a), ev(e.b));
  };
  let h = ev(spec.exprH);
  if (spec.mix) h = add(h, linear(concat([gates[0]!, s.h], -1), p.wm));
  return s.c ? { h, c: ev(spec.exprC) } : { h };
}
