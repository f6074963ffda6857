import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { PRIMITIVES, gradcheck, gradgradcheck } from '@seqgrad/autograd';
import { cases } from './primitiveCases.js';

/**
 * Every primitive (the ops with backward code of their own) checked against central finite
 * differences in float64 on random shapes, including broadcasting; smooth ones also to
 * second order. The table (primitiveCases.ts) is keyed by the `Primitive` union: a new
 * primitive without a case there does not compile.
 */


describe('primitives', () => {
  test('PRIMITIVES: the table covers every primitive and nothing else', () => {
    expect(Object.keys(cases).sort()).toEqual([...PRIMITIVES].sort());
  });

  for (const name of PRIMITIVES) {
    const c = cases[name];
    test(`${name}: gradient matches central finite differences on random shapes (float64)`, () => {
      fc.assert(fc.property(c.arb, ({ fn, inputs }) => gradcheck(fn, inputs)));
    });
    test(`${name}: float32 agrees with float64 in values and gradients`, () => {
      fc.assert(fc.property(c.arb, ({ fn, inputs }) => {
        const as32 = inputs.map((t) => t.detach().to('float32'));
        as32.forEach((t) => (t.requiresGrad = true));
        const as64 = as32.map((t) => t.detach().to('float64'));
        as64.forEach((t) => (t.requiresGrad = true));
        const y32 = fn(...as32);
        const y64 = fn(...as64);
        const tol = { atol: 1e-4, rtol: 1e-3 };
        expect(y32.data, 'value').toBeAllclose(y64.data, tol);
        if (!y64.requiresGrad || y64.size === 0) return;
        const v = y64.detach().tanh().add(0.5);
        y32.backward(v.to(y32.dtype));
        y64.backward(v.to('float64'));
        as32.forEach((t, i) => {
          expect(t.grad?.dtype ?? 'float32').toBe('float32');
          expect(t.grad ?? [], `gradient of input ${i}`).toBeAllclose(as64[i]!.grad ?? [], tol);
        });
      }));
    });
    if (c.smooth) {
      test(`${name}: second-order gradient matches finite differences (gradgradcheck)`, () => {
        fc.assert(fc.property(c.arb, ({ fn, inputs }) => gradgradcheck(fn, inputs)));
      });
    }
  }
});

