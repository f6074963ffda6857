import { describe, expect, test } from 'vitest';
import { Generator, defaultGenerator, manualSeed, rand, randint, randn } from '@seqgrad/autograd';

describe('Generator', () => {
  // Pinned outputs: a change to the generator or to the seeding breaks reproducibility of every
  // saved experiment, so it must show up here. xoshiro128** and splitmix-style seeding use only
  // 32-bit integer arithmetic, so these integers are the same on every machine and JS engine.
  test('Generator: pinned first integers and uniforms for fixed seeds', () => {
    const g = new Generator(42);
    expect([g.nextUint32(), g.nextUint32(), g.nextUint32(), g.nextUint32()]).toEqual([2837322924, 544945897, 479756282, 3500138142]);
    const h = new Generator(0);
    expect([h.uniform(), h.uniform(), h.uniform()]).toEqual([0.8868539502021594, 0.012474988946590604, 0.032522145755498943]);
    expect(Array.from(randint(0, 10, [8], { generator: new Generator(3) }).data)).toEqual([7, 3, 5, 1, 6, 8, 5, 0]);
    expect(Array.from(rand([3], { generator: new Generator(7) }).data)).toEqual([0.23382772505283356, 0.4489145874977112, 0.5656696557998657]);
  });

  test('Generator: pinned first normals (Box–Muller; Math.log/cos/sin may differ in the last ulp across engines)', () => {
    const k = new Generator(1234);
    const got = [k.normal(), k.normal(), k.normal()];
    expect(got).toBeAllclose([-0.5184553684997419, 1.1547781419671235, -0.15690564321277986], { rtol: 1e-14, atol: 0 });
    manualSeed(7);
    expect(randn([4], { dtype: 'float64' })).toBeAllclose([-1.6177301980272665, 0.5378571766297454, -1.0637932992656989, -0.0885088354268399], { rtol: 1e-14, atol: 0 });
  });

  test('Generator: same seed, same numbers; different seeds, different numbers', () => {
    const a = randn([50], { generator: new Generator(9), dtype: 'float64' });
    const b = randn([50], { generator: new Generator(9), dtype: 'float64' });
    const c = randn([50], { generator: new Generator(10), dtype: 'float64' });
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(a.data)).not.toEqual(Array.from(c.data));
    expect(new Generator(-1).nextUint32()).not.toBe(new Generator(1).nextUint32());
    expect(new Generator(2 ** 32).nextUint32()).not.toBe(new Generator(0).nextUint32());
  });

  test('manualSeed: reseeds the global generator used when none is passed', () => {
    manualSeed(123);
    const a = Array.from(randn([5]).data);
    manualSeed(123);
    expect(Array.from(randn([5]).data)).toEqual(a);
    expect(manualSeed(1)).toBe(defaultGenerator);
  });

  test('Generator: an explicit generator leaves the global stream untouched', () => {
    manualSeed(5);
    const expected = Array.from(rand([3]).data);
    manualSeed(5);
    rand([10], { generator: new Generator(1) });
    expect(Array.from(rand([3]).data)).toEqual(expected);
  });

  test('Generator: getState/setState resume the same stream, also between the two normals of a pair', () => {
    const g = new Generator(77);
    g.normal(); // leaves the second value of the pair pending
    const state = g.getState();
    const next = [g.normal(), g.normal(), g.uniform()];
    const restored = new Generator(0).setState(JSON.parse(JSON.stringify(state)));
    expect([restored.normal(), restored.normal(), restored.uniform()]).toEqual(next);
    // the state is a copy, not a live view
    state.s[0] = 0;
    expect(g.getState().s[0]).not.toBe(0);
  });

  test('Generator: setState and manualSeed refuse bad input', () => {
    expect(() => new Generator().setState({ s: [1, 2], spareNormal: null })).toThrow(/^Generator.setState: state.s must hold 4 integers, got \[1,2\]$/);
    expect(() => manualSeed(NaN)).toThrow(/^manualSeed: seed must be a finite number, got NaN$/);
  });

  test('Generator: uniform in [0, 1), integer in [low, high), normal with mean 0 and variance 1', () => {
    const g = new Generator(2024);
    let sum = 0;
    let sq = 0;
    const n = 20000;
    let inRange = true;
    for (let i = 0; i < n; i++) {
      const u = g.uniform();
      inRange &&= u >= 0 && u < 1;
      const v = g.normal();
      sum += v;
      sq += v * v;
    }
    expect(inRange).toBe(true);
    expect(Math.abs(sum / n)).toBeLessThan(0.03);
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.05);
    const ints = randint(-3, 4, [2000], { generator: g });
    const seen = new Set(ints.data);
    expect([...seen].sort((a, b) => a - b)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
  });

  test('rand/randn/randint: options and errors', () => {
    const g = new Generator(0);
    const u = rand([1000], { low: 2, high: 3, generator: g });
    expect(Array.from(u.data).every((v) => v >= 2 && v < 3)).toBe(true);
    const z = randn([2000], { mean: 5, std: 0.1, generator: g, dtype: 'float64' });
    expect(z.mean().item()).toBeCloseTo(5, 1);
    expect(randint(0, 2, [3]).dtype).toBe('int32');
    expect(randint(0, 2, [3], { dtype: 'float32' }).dtype).toBe('float32');
    expect(() => randint(3, 3, [1])).toThrow(/^randint: need integers low < high, got low=3, high=3$/);
    expect(() => randn([2, -1])).toThrow(/^randn: shape \[2,-1\] must hold non-negative integers$/);
  });
});
