import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  Generator, PRIMITIVES, SeqgradError, type Tensor, defineFunction, grad, hvp, jvp, noGrad, randn, tensor, vjp,
} from '@seqgrad/autograd';
import { cases } from './primitiveCases.js';

/**
 * Forward mode over the primitive table (primitiveCases.ts, keyed by `Primitive`), in
 * float64: every primitive's jvp against central finite differences and against reverse mode
 * (⟨u, J v⟩ = ⟨Jᵀ u, v⟩); the smooth ones' hvp against finite differences of the gradient.
 */

const EPS = 1e-6;
const TOL = { atol: 1e-6, rtol: 1e-4 };

const randomLike = (xs: readonly Tensor[], g: Generator): Tensor[] => xs.map((x) => randn([...x.shape], { dtype: 'float64', generator: g }));
const shifted = (xs: readonly Tensor[], vs: readonly Tensor[], s: number): Tensor[] =>
  noGrad(() => xs.map((x, i) => x.detach().add(vs[i]!.mul(s))));
const dot = (a: Tensor, b: Tensor): number => noGrad(() => a.mul(b).sum().item());

describe('jvp over the primitive table', () => {
  for (const name of PRIMITIVES) {
    const c = cases[name];
    test(`${name}: jvp matches central finite differences and reverse mode (⟨u, Jv⟩ = ⟨Jᵀu, v⟩)`, () => {
      fc.assert(fc.property(c.arb, fc.nat(), ({ fn, inputs }, seed) => {
        const g = new Generator(seed);
        const primals = inputs.map((x) => x.detach());
        const vs = randomLike(primals, g);
        const [y, dy] = jvp(fn, primals, vs);
        expect(dy.shape).toEqual(y.shape);
        const plus = fn(...shifted(primals, vs, EPS)).detach();
        const minus = fn(...shifted(primals, vs, -EPS)).detach();
        const fd = plus.sub(minus).div(2 * EPS);
        expect(dy, 'jvp vs finite differences').toBeAllclose(fd, TOL);
        const u = randn([...y.shape], { dtype: 'float64', generator: g });
        const [, pullback] = vjp(fn, primals);
        const vjps = pullback(u);
        const lhs = dot(u, dy);
        const rhs = vjps.reduce((s, w, i) => s + dot(w, vs[i]!), 0);
        expect(lhs, '⟨u, Jv⟩ vs ⟨Jᵀu, v⟩').toBeAllclose(rhs, { atol: 1e-9, rtol: 1e-9 });
      }));
    });
    if (c.smooth) {
      test(`${name}: hvp matches finite differences of the gradient`, () => {
        fc.assert(fc.property(c.arb, fc.nat(), ({ fn, inputs }, seed) => {
          const g = new Generator(seed);
          const primals = inputs.map((x) => x.detach());
          // A scalar of the primitive's output: Σ w ⊙ fn(x) with fixed random weights w.
          const w = randn([...fn(...primals).shape], { dtype: 'float64', generator: g });
          const scalar = (...xs: Tensor[]) => fn(...xs).mul(w).sum();
          const vs = randomLike(primals, g);
          const [, , hv] = hvp(scalar, primals, vs);
          const gradAt = (xs: Tensor[]) => {
            const leaves = xs.map((x) => { const l = x.detach(); l.requiresGrad = true; return l; });
            return grad(scalar(...leaves), leaves, { allowUnused: true }).map((d, i) => d ?? leaves[i]!.mul(0));
          };
          const gp = gradAt(shifted(primals, vs, EPS));
          const gm = gradAt(shifted(primals, vs, -EPS));
          hv.forEach((h, i) => {
            const fd = noGrad(() => gp[i]!.sub(gm[i]!).div(2 * EPS));
            expect(h, `hvp of input ${i} vs finite differences`).toBeAllclose(fd, { atol: 1e-5, rtol: 1e-4 });
          });
        }));
      });
    }
  }
});

describe('jvp', () => {
  const f64 = (v: number[]) => tensor(v, { dtype: 'float64' });

  test('jvp: returns the output and J v for a composite (tanh of a matrix product)', () => {
    const W = f64([1, 2, 3, 4]).reshape([2, 2]);
    const x = f64([0.1, -0.2]);
    const v = f64([1, 0.5]);
    const [y, dy] = jvp((h) => W.matmul(h).tanh(), [x], [v]);
    const z = noGrad(() => W.matmul(x));
    const expected = noGrad(() => z.tanh().square().neg().add(1).mul(W.matmul(v)));
    expect(y).toBeAllclose(z.tanh());
    expect(dy).toBeAllclose(expected, { atol: 1e-12 });
  });

  test('jvp: a function of several outputs returns one tangent per output, zeros where an output does not depend on the primals', () => {
    const x = f64([1, 2]);
    const c = f64([5, 6]);
    const [[a, b], [ta, tb]] = jvp((p) => [p.mul(3), c.add(1)], [x], [f64([1, 1])]);
    expect(a).toBeAllclose([3, 6]);
    expect(b).toBeAllclose([6, 7]);
    expect(ta).toBeAllclose([3, 3]);
    expect(tb).toBeAllclose([0, 0]);
  });

  test('jvp: tangents are differentiable by reverse mode (grad of J v with respect to v and x)', () => {
    const x = f64([0.3, -0.7]);
    x.requiresGrad = true;
    const v = f64([1, 2]);
    v.requiresGrad = true;
    const [, dy] = jvp((p) => p.square().sum(), [x], [v]); // 2 x·v
    const [dx, dv] = grad(dy, [x, v]);
    expect(dx).toBeAllclose([2, 4]); // 2v
    expect(dv).toBeAllclose([0.6, -1.4]); // 2x
  });

  test('jvp: nested levels give the second directional derivative', () => {
    const x = f64([0.5]);
    // d²/dx² sin-free example: f = x³, f'' = 6x
    const inner = (p: Tensor) => jvp((q) => q.pow(3), [p], [f64([1])])[1];
    const [, second] = jvp(inner, [x], [f64([1])]);
    expect(second).toBeAllclose([3], { atol: 1e-12 });
  });

  test('jvp: bad arguments are named', () => {
    const x = f64([1, 2]);
    expect(() => jvp((p) => p, [x], [f64([1])])).toThrow(/jvp: tangents\[0\]\[1\] does not match primals\[0\]\[2\]/);
    expect(() => jvp((p) => p, [x], [])).toThrow(/jvp: got 1 primals but 0 tangents/);
    expect(() => jvp((() => 3) as never, [x], [x])).toThrow(/jvp: fn must return a Tensor/);
    expect(() => hvp((p) => p, [x], [x])).toThrow(/hvp: fn must return a one-element tensor, got shape \[2\]/);
  });

  test('jvp: a custom function computing outside seqgrad ops is refused by name, not given a zero tangent', () => {
    const opaque = defineFunction({
      name: 'opaqueDouble',
      forward: (_ctx, x: Tensor) => tensor(Array.from(x.data, (v) => 2 * v), { dtype: 'float64' }),
      backward: (_ctx, g) => g!.mul(2),
    });
    expect(() => jvp((p) => opaque(p), [f64([1])], [f64([1])])).toThrow(SeqgradError);
    expect(() => jvp((p) => opaque(p), [f64([1])], [f64([1])])).toThrow(/opaqueDouble: jvp: an input carries a tangent/);
  });

  test('hvp: equals the Hessian of a quadratic form times v, and returns value and gradient', () => {
    // f(x) = ½ xᵀ A x with A symmetric: ∇f = A x, H = A.
    const A = f64([2, 1, 1, 3]).reshape([2, 2]);
    const x = f64([1, -1]);
    const [value, [g], [hv]] = hvp((p) => p.matmul(A.matmul(p)).mul(0.5), [x], [f64([1, 2])]);
    expect(value.item()).toBeCloseTo(0.5 * (2 - 1 - 1 + 3), 12);
    expect(g).toBeAllclose([1, -2]);
    expect(hv).toBeAllclose([4, 7]);
  });
});
