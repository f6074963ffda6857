import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Scalar, SeqgradError, type Tensor, tensor } from '@seqgrad/autograd';

/** The same operations on Scalars and on 0-d float64 tensors. */
interface Algebra<V> {
  add(a: V, b: V): V;
  sub(a: V, b: V): V;
  mul(a: V, b: V): V;
  div(a: V, b: V): V;
  pow(a: V, b: V | number): V;
  neg(a: V): V;
  exp(a: V): V;
  log(a: V): V;
  tanh(a: V): V;
  sigmoid(a: V): V;
  relu(a: V): V;
  addNumber(a: V, c: number): V;
}

const scalars: Algebra<Scalar> = {
  add: (a, b) => a.add(b), sub: (a, b) => a.sub(b), mul: (a, b) => a.mul(b), div: (a, b) => a.div(b), pow: (a, b) => a.pow(b),
  neg: (a) => a.neg(), exp: (a) => a.exp(), log: (a) => a.log(), tanh: (a) => a.tanh(), sigmoid: (a) => a.sigmoid(),
  relu: (a) => a.relu(), addNumber: (a, c) => a.add(c),
};
const tensors: Algebra<Tensor> = {
  add: (a, b) => a.add(b), sub: (a, b) => a.sub(b), mul: (a, b) => a.mul(b), div: (a, b) => a.div(b), pow: (a, b) => a.pow(b),
  neg: (a) => a.neg(), exp: (a) => a.exp(), log: (a) => a.log(), tanh: (a) => a.tanh(), sigmoid: (a) => a.sigmoid(),
  relu: (a) => a.relu(), addNumber: (a, c) => a.add(c),
};

type Step = { op: string; i: number; j: number; c: number };
const OPS = ['add', 'sub', 'mul', 'div', 'powNumber', 'powValue', 'neg', 'exp', 'log', 'tanh', 'sigmoid', 'relu'] as const;

/**
 * Builds the expression: each step combines earlier values (indices taken modulo the count so
 * far). Domains are kept valid the same way in both worlds: log and pow act on x² + 0.5 of a
 * tanh, exp on a tanh, division by y² + 1.
 */
function build<V>(alg: Algebra<V>, leaves: V[], steps: Step[]): V {
  const vals = [...leaves];
  const pick = (k: number) => vals[k % vals.length]!;
  const positive = (v: V) => { const t = alg.tanh(v); return alg.addNumber(alg.mul(t, t), 0.5); };
  for (const { op, i, j, c } of steps) {
    const a = pick(i);
    const b = pick(j);
    let r: V;
    switch (op) {
      case 'add': r = alg.add(a, b); break;
      case 'sub': r = alg.sub(a, b); break;
      case 'mul': r = alg.mul(alg.tanh(a), b); break;
      case 'div': r = alg.div(a, alg.addNumber(alg.mul(b, b), 1)); break;
      case 'powNumber': r = alg.pow(positive(a), c); break;
      case 'powValue': r = alg.pow(positive(a), alg.tanh(b)); break;
      case 'neg': r = alg.neg(a); break;
      case 'exp': r = alg.exp(alg.tanh(a)); break;
      case 'log': r = alg.log(positive(a)); break;
      case 'tanh': r = alg.tanh(a); break;
      case 'sigmoid': r = alg.sigmoid(a); break;
      default: r = alg.relu(a); break;
    }
    vals.push(r);
  }
  // Sum everything so that every intermediate value feeds the output (shared subexpressions).
  return vals.slice(1).reduce((acc, v) => alg.add(acc, v), vals[0]!);
}

const stepArb = fc.record({
  op: fc.constantFrom(...OPS),
  i: fc.nat(50),
  j: fc.nat(50),
  c: fc.constantFrom(-1.5, -1, 0.5, 2, 3),
});

describe('Scalar', () => {
  test('Scalar: the same random expression on Scalars and on tensors gives equal values and gradients', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 1, maxLength: 3 }),
        fc.array(stepArb, { minLength: 1, maxLength: 12 }),
        (x, steps) => {
          const sLeaves = x.map((v) => new Scalar(v));
          const tLeaves = x.map((v) => tensor(v, { dtype: 'float64', requiresGrad: true }));
          const s = build(scalars, sLeaves, steps);
          const t = build(tensors, tLeaves, steps);
          s.backward();
          t.backward();
          expect(s.data, 'value').toBeAllclose(t.item(), { rtol: 1e-12, atol: 1e-12 });
          expect(sLeaves.map((l) => l.grad), 'gradient').toBeAllclose(tLeaves.map((l) => l.grad?.item() ?? 0), { rtol: 1e-10, atol: 1e-12 });
        },
      ),
    );
  });

  test('Scalar: hand-computed gradient of a·b + tanh(a)', () => {
    const a = new Scalar(2);
    const b = new Scalar(-3);
    const y = a.mul(b).add(a.tanh());
    y.backward();
    expect(y.data).toBeCloseTo(-6 + Math.tanh(2), 14);
    expect(a.grad).toBeCloseTo(-3 + (1 - Math.tanh(2) ** 2), 14);
    expect(b.grad).toBe(2);
  });

  test('Scalar: gradients accumulate across backward calls, like tensors', () => {
    const a = new Scalar(3);
    a.mul(a).backward();
    a.mul(2).backward();
    expect(a.grad).toBe(6 + 2);
  });

  test('Scalar: backward through a chain of 100,000 ops (iterative, no stack overflow)', () => {
    const x = new Scalar(1);
    let y = x;
    for (let i = 0; i < 100_000; i++) y = y.add(1);
    y.backward();
    expect(x.grad).toBe(1);
    expect(y.data).toBe(100_001);
  });

  test('Scalar: pow with a zero base gives gradient 0 for the exponent; sigmoid is stable', () => {
    const a = new Scalar(0);
    const b = new Scalar(2);
    a.pow(b).backward();
    expect(b.grad).toBe(0);
    expect(new Scalar(-1e4).sigmoid().data).toBe(0);
    expect(new Scalar(1e4).sigmoid().data).toBe(1);
  });

  test('Scalar: a non-number operand is refused', () => {
    expect(() => new Scalar(1).add('2' as unknown as number)).toThrow(SeqgradError);
    expect(() => new Scalar(1).add('2' as unknown as number)).toThrow(/^Scalar: operand must be a Scalar or a number, got string$/);
  });
});
