import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Tensor, defineFunction, gradcheck, type FunctionCtx } from '@seqgrad/autograd';
import {
  gruCellBackward, gruCellForward, lstmCellBackward, lstmCellForward, rnnCellBackward, rnnCellForward, type CellParams,
} from '@seqgrad/layers';
import { VARIANTS, caseArb, composedRun, maxRelErr, shapesOf, type Case, type InputName } from './reference.js';

type Values = Record<InputName, Float64Array | null>;

/** The single-step cell functions on a T = 1 case: new state(s) and all gradients. */
function cellRun(c: Case, v: Values, dh: Float64Array | null, dc: Float64Array | null) {
  const { B, I, H, P, variant } = c;
  const dims = P ? { B, I, H, P } : { B, I, H };
  const p: CellParams = { weightIh: v.weightIh!, weightHh: v.weightHh!, biasIh: v.biasIh, biasHh: v.biasHh, weightHr: v.weightHr };
  if (variant.family === 'lstm') {
    const f = lstmCellForward(p, v.x!, v.h0, v.c0, dims);
    const g = lstmCellBackward(p, f.cache, dh, dc);
    return { h: f.h, c: f.c as Float64Array | null, g: { x: g.dx, h0: g.dhPrev, c0: g.dcPrev, weightIh: g.dWeightIh, weightHh: g.dWeightHh, biasIh: g.dBiasIh, biasHh: g.dBiasHh, weightHr: g.dWeightHr } };
  }
  const f = variant.family === 'rnn'
    ? rnnCellForward(p, v.x!, v.h0, dims, { nonlinearity: variant.nonlinearity })
    : gruCellForward(p, v.x!, v.h0, dims, { resetAfter: variant.resetAfter });
  const g = variant.family === 'rnn' ? rnnCellBackward(p, f.cache as never, dh) : gruCellBackward(p, f.cache as never, dh);
  return { h: f.h, c: null, g: { x: g.dx, h0: g.dhPrev, c0: null, weightIh: g.dWeightIh, weightHh: g.dWeightHh, biasIh: g.dBiasIh, biasHh: g.dBiasHh, weightHr: null } };
}

/** T = 1, all of the batch valid, upstream gradient on the new state(s) only. */
const stepCase = (variant: (typeof VARIANTS)[number]) =>
  caseArb(variant, { maxT: 1 }).map((c): Case => ({
    ...c, lengths: undefined, reverse: false, dOutput: null, dCells: null,
    dhT: c.dhT ?? c.dOutput, dcT: c.variant.family === 'lstm' ? (c.dcT ?? new Float64Array(c.B * c.H).fill(0.5)) : null,
  }));

describe.each(VARIANTS)('hand cell $name', (variant) => {
  const fnName = `${variant.family}CellBackward`;

  test(`${fnName}: equals autograd of the composed step to 1e-9 relative (float64)`, () => {
    fc.assert(
      fc.property(stepCase(variant), (c) => {
        const hand = cellRun(c, c.values, c.dhT, c.dcT);
        const ref = composedRun(c);
        // A relu pre-activation within rounding of 0 may take either side of the kink, since
        // the two computations sum in different orders.
        if (variant.nonlinearity === 'relu') fc.pre(ref.minAbsPre > 1e-9);
        expect(maxRelErr(hand.h, ref.hT)).toBeLessThan(1e-9);
        if (ref.cT) expect(maxRelErr(hand.c!, ref.cT)).toBeLessThan(1e-9);
        for (const n of Object.keys(ref.grads) as InputName[]) {
          if (ref.grads[n] === null) continue;
          expect(maxRelErr(hand.g[n]!, ref.grads[n]!), `gradient of ${n}`).toBeLessThan(1e-9);
        }
      }),
    );
  });

  test(`${fnName}: equals central finite differences of ${variant.family}CellForward (gradcheck)`, () => {
    fc.assert(
      fc.property(stepCase(variant), (c) => {
        if (variant.nonlinearity === 'relu') fc.pre(composedRun(c).minAbsPre > 1e-4);
        const names = (Object.keys(c.values) as InputName[]).filter((n) => c.values[n] !== null);
        const shapes = shapesOf(c);
        const lstm = variant.family === 'lstm';
        const S = c.P || c.H;
        const values = (ts: Tensor[]) => {
          const v = Object.fromEntries(Object.keys(c.values).map((n) => [n, null])) as Values;
          names.forEach((n, k) => { v[n] = ts[k]!.data as Float64Array; });
          return v;
        };
        const cell = defineFunction({
          forward(ctx: FunctionCtx, ...ts: Tensor[]) {
            ctx.v = values(ts);
            const r = cellRun(c, ctx.v as Values, null, null);
            return [new Tensor(r.h, [c.B, S]), ...(lstm ? [new Tensor(r.c!, [c.B, c.H])] : [])];
          },
          backward(ctx: FunctionCtx, ...gs: Tensor[]) {
            const r = cellRun(c, ctx.v as Values, gs[0]!.data as Float64Array, lstm ? (gs[1]!.data as Float64Array) : null);
            return names.map((n) => new Tensor(r.g[n]!, shapes[n]));
          },
        });
        const inputs = names.map((n) => new Tensor(Float64Array.from(c.values[n]!), shapes[n], true));
        expect(gradcheck((...ts) => cell(...ts), inputs, { names })).toBe(true);
      }),
    );
  });
});
