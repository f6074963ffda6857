import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { gradcheck } from '@seqgrad/autograd';
import { VARIANTS, caseArb, composedRun, handAsFunction, handRun, maxRelErr, type InputName } from './reference.js';

/** Worst relative error seen per variant, printed at the end for the report. */
const worst: Record<string, number> = {};

describe.each(VARIANTS)('hand BPTT $name', (variant) => {
  const fnName = `${variant.family}Backward`;

  test(`${fnName}: equals autograd of the composed computation to 1e-9 relative (float64)`, () => {
    fc.assert(
      fc.property(caseArb(variant), (c) => {
        const hand = handRun(c);
        const ref = composedRun(c);
        // A relu pre-activation within rounding of 0 may take either side of the kink, since
        // the two computations sum in different orders.
        if (variant.nonlinearity === 'relu') fc.pre(ref.minAbsPre > 1e-9);
        let err = Math.max(maxRelErr(hand.output, ref.output), maxRelErr(hand.hT, ref.hT));
        if (ref.cT) err = Math.max(err, maxRelErr(hand.cT!, ref.cT));
        if (ref.cells) err = Math.max(err, maxRelErr(hand.cells!, ref.cells));
        expect(err, 'forward').toBeLessThan(1e-9);
        for (const n of Object.keys(ref.grads) as InputName[]) {
          const want = ref.grads[n];
          const got = hand.grads[n];
          if (want === null) {
            // Without a given initial state the hand functions still return its gradient (of the zeros).
            if (n !== 'h0' && n !== 'c0') expect(got, `${n} should be null`).toBeNull();
            continue;
          }
          expect(got, `${n} missing`).not.toBeNull();
          const e = maxRelErr(got!, want);
          expect(e, `gradient of ${n}`).toBeLessThan(1e-9);
          err = Math.max(err, e);
        }
        worst[variant.name] = Math.max(worst[variant.name] ?? 0, err);
      }),
    );
  });

  test(`${fnName}: equals central finite differences of ${variant.family}Forward (gradcheck)`, () => {
    fc.assert(
      fc.property(caseArb(variant), (c) => {
        if (variant.nonlinearity === 'relu') fc.pre(composedRun(c).minAbsPre > 1e-4);
        const { fn, inputs, names } = handAsFunction(c);
        expect(gradcheck(fn, inputs, { eps: 1e-6, atol: 1e-5, rtol: 1e-3, names })).toBe(true);
      }),
    );
  });
});

test('hand BPTT: every variant was compared with autograd, within 1e-9', () => {
  // Runs after the property tests above (vitest keeps file order): a variant missing here compared nothing.
  expect(Object.keys(worst).sort()).toEqual(VARIANTS.map((v) => v.name).sort());
  for (const [name, err] of Object.entries(worst)) expect(err, name).toBeLessThan(1e-9);
});
