/** Property tests of clipping and optimizers (run count from tests/setup/property.ts). */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { tensor, type Tensor } from '@seqgrad/autograd';
import {
  Adagrad, Adam, AdamW, clipGradNorm, CosineAnnealingLR, LinearLR, type Optimizer, RMSprop, SequentialLR, SGD,
} from '@seqgrad/optim';

const value = fc.double({ min: -100, max: 100, noNaN: true });
const gradList = fc.array(fc.array(value, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 });
const normType = fc.constantFrom(1, 2, 3, 0.5, 1.5, Infinity);

function withGrads(grads: number[][]): Tensor[] {
  return grads.map((g) => {
    const p = tensor(new Float64Array(g.length), { requiresGrad: true });
    p.grad = tensor(g, { dtype: 'float64' });
    return p;
  });
}

/** The p-norm of all gradients as one concatenated vector, summed in a different order than clipGradNorm. */
function independentNorm(grads: number[][], p: number): number {
  const all = grads.flat();
  if (p === Infinity) return all.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
  return all.reduce((s, x) => s + Math.abs(x) ** p, 0) ** (1 / p);
}

describe('clipGradNorm properties', () => {
  test('clipGradNorm: afterwards the total norm is at most maxNorm·(1 + 1e-9)', () => {
    fc.assert(
      fc.property(gradList, fc.double({ min: 1e-3, max: 50, noNaN: true }), normType, (grads, maxNorm, p) => {
        const ps = withGrads(grads);
        clipGradNorm(ps, maxNorm, { normType: p });
        const after = independentNorm(ps.map((q) => Array.from(q.grad!.data)), p);
        expect(after).toBeLessThanOrEqual(maxNorm * (1 + 1e-9));
      }),
    );
  });

  test('clipGradNorm: every gradient keeps its direction (one common factor in [0, 1])', () => {
    fc.assert(
      fc.property(gradList, fc.double({ min: 1e-3, max: 50, noNaN: true }), normType, (grads, maxNorm, p) => {
        const ps = withGrads(grads);
        const total = clipGradNorm(ps, maxNorm, { normType: p });
        const factor = Math.min(1, maxNorm / (total + 1e-6));
        ps.forEach((q, i) => {
          grads[i]!.forEach((x, j) => {
            const y = q.grad!.data[j]!;
            expect(Math.sign(y) === Math.sign(x) || y === 0).toBe(true);
            expect(Math.abs(y - x * factor)).toBeLessThanOrEqual(1e-15 * Math.abs(x));
          });
        });
      }),
    );
  });

  test('clipGradNorm: the returned norm equals an independently computed one', () => {
    fc.assert(
      fc.property(gradList, normType, (grads, p) => {
        const total = clipGradNorm(withGrads(grads), 1, { normType: p });
        const expected = independentNorm(grads, p);
        expect(Math.abs(total - expected)).toBeLessThanOrEqual(1e-12 * expected);
      }),
    );
  });
});

type Make = (params: Tensor[], lr: number) => Optimizer;
const anyOptimizer: fc.Arbitrary<{ name: string; make: Make }> = fc.oneof(
  fc.record({ momentum: fc.double({ min: 0, max: 0.99, noNaN: true }), weightDecay: fc.double({ min: 0, max: 0.1, noNaN: true }), nesterov: fc.boolean(), maximize: fc.boolean() })
    .map((o) => ({ name: `SGD ${JSON.stringify(o)}`, make: (ps: Tensor[], lr: number) => new SGD(ps, { ...o, lr, nesterov: o.nesterov && o.momentum > 0 }) })),
  fc.record({ beta1: fc.double({ min: 0, max: 0.99, noNaN: true }), beta2: fc.double({ min: 0.5, max: 0.9999, noNaN: true }), weightDecay: fc.double({ min: 0, max: 0.1, noNaN: true }), amsgrad: fc.boolean(), decoupled: fc.boolean() })
    .map(({ beta1, beta2, decoupled, ...o }) => ({
      name: `${decoupled ? 'AdamW' : 'Adam'} ${JSON.stringify({ beta1, beta2, ...o })}`,
      make: (ps: Tensor[], lr: number) => new (decoupled ? AdamW : Adam)(ps, { ...o, lr, betas: [beta1, beta2] }),
    })),
  fc.record({ alpha: fc.double({ min: 0.5, max: 0.999, noNaN: true }), momentum: fc.double({ min: 0, max: 0.9, noNaN: true }), centered: fc.boolean(), weightDecay: fc.double({ min: 0, max: 0.1, noNaN: true }) })
    .map((o) => ({ name: `RMSprop ${JSON.stringify(o)}`, make: (ps: Tensor[], lr: number) => new RMSprop(ps, { ...o, lr }) })),
  fc.record({ lrDecay: fc.double({ min: 0, max: 0.5, noNaN: true }), initialAccumulatorValue: fc.double({ min: 0, max: 1, noNaN: true }) })
    .map((o) => ({ name: `Adagrad ${JSON.stringify(o)}`, make: (ps: Tensor[], lr: number) => new Adagrad(ps, { ...o, lr }) })),
);
const trajectory = fc.record({
  init: fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 1, maxLength: 5 }),
  seed: fc.integer({ min: 1, max: 1_000_000 }),
});

/** A deterministic gradient: that of a quadratic bowl plus a step-dependent push (from the seed). */
function setGrad(p: Tensor, t: number, seed: number): void {
  const g = new Float64Array(p.size);
  for (let i = 0; i < p.size; i++) g[i] = 0.7 * p.data[i]! + Math.sin(seed * 0.001 + 1.3 * t + 0.7 * i);
  p.grad = tensor(g, { dtype: 'float64' });
}

describe('optimizer properties', () => {
  test('optimizer.step: lr = 0 leaves every parameter unchanged', () => {
    fc.assert(
      fc.property(anyOptimizer, trajectory, ({ make }, { init, seed }) => {
        const p = tensor(init, { dtype: 'float64', requiresGrad: true });
        const opt = make([p], 0);
        for (let t = 0; t < 4; t++) {
          setGrad(p, t, seed);
          opt.step();
        }
        // === so that -0 and +0 count as the same value (-0 + -0·g can give +0, in PyTorch too).
        expect(Array.from(p.data).every((x, i) => x === init[i])).toBe(true);
      }),
    );
  });

  test('optimizer.stateDict: a JSON round trip resumes training exactly', () => {
    fc.assert(
      fc.property(anyOptimizer, trajectory, fc.integer({ min: 0, max: 4 }), ({ make }, { init, seed }, k) => {
        const a = tensor(init, { dtype: 'float64', requiresGrad: true });
        const optA = make([a], 0.01);
        const sched = new SequentialLR(optA, {
          schedulers: [new LinearLR(optA, { startFactor: 0.2, totalIters: 3 }), new CosineAnnealingLR(optA, { tMax: 5 })],
          milestones: [3],
        });
        const run = (p: Tensor, opt: Optimizer, s: SequentialLR, from: number, to: number) => {
          for (let t = from; t < to; t++) {
            setGrad(p, t, seed);
            opt.step();
            s.step();
          }
        };
        run(a, optA, sched, 0, k);
        const saved = JSON.parse(JSON.stringify({ opt: optA.stateDict(), sched: sched.stateDict() }));
        const b = tensor(Array.from(a.data), { dtype: 'float64', requiresGrad: true });
        const optB = make([b], 123); // the loaded state replaces the lr
        const schedB = new SequentialLR(optB, {
          schedulers: [new LinearLR(optB, { startFactor: 0.9, totalIters: 3 }), new CosineAnnealingLR(optB, { tMax: 5 })],
          milestones: [3],
        });
        optB.loadStateDict(saved.opt);
        schedB.loadStateDict(saved.sched);
        run(a, optA, sched, k, k + 5);
        run(b, optB, schedB, k, k + 5);
        expect(Array.from(b.data)).toEqual(Array.from(a.data));
        expect(schedB.getLastLr()).toEqual(sched.getLastLr());
      }),
    );
  });
});
