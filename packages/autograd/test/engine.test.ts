import { describe, expect, test } from 'vitest';
import {
  type FunctionCtx, SeqgradError, Tensor,
  binaryCrossEntropyWithLogits, crossEntropy, defineFunction, detectAnomaly, enableGrad, exp, grad, isGradEnabled, log, logsumexp, matmul,
  mseLoss, noGrad, ones, sigmoid, softmax, tanh, tensor, valueAndGrad, zeros,
} from '@seqgrad/autograd';
import { f64, num } from './helpers.js';


describe('backward', () => {
  test('backward: a chain of 100,000 ops does not overflow the stack', () => {
    const x = tensor([1], { dtype: 'float64', requiresGrad: true });
    let y = x;
    for (let i = 0; i < 100_000; i++) y = y.add(1e-5);
    y.sum().backward();
    expect(x.grad!.item()).toBe(1);
    expect(y.item()).toBeCloseTo(2, 8);
  });

  test('backward: a deep chain of muls gives the product rule result', () => {
    const x = tensor([2], { dtype: 'float64', requiresGrad: true });
    let y = x;
    for (let i = 0; i < 10_000; i++) y = y.mul(1);
    y.mul(y).sum().backward();
    expect(x.grad!.item()).toBe(4);
  });

  test('backward: a non-scalar output needs an explicit gradient', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    expect(() => x.mul(2).backward()).toThrow(/backward: grad can be implicitly created only for one-element outputs; this output has shape \[2\]/);
    x.mul(2).backward(tensor([1, 10]));
    expect(num(x.grad)).toEqual([2, 20]);
  });

  test('backward: a given gradient of another float dtype is converted to the output dtype', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    x.backward(f64([3, 4]));
    expect(x.grad!.dtype).toBe('float32');
    x.mul(2).backward(f64([1, 1]));
    expect(Array.from(x.grad!.data)).toEqual([5, 6]);
  });

  test('backward: a gradient of the wrong shape is refused', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    expect(() => x.mul(2).backward(tensor([1, 2, 3]))).toThrow(/backward: grad\[3\] does not match the output's shape \[2\]/);
  });

  test('backward: a tensor that does not require grad throws', () => {
    expect(() => tensor([1]).backward()).toThrow(SeqgradError);
  });

  test('backward: a second backward over a freed graph throws a clear error', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.mul(x).sum();
    y.backward();
    expect(() => y.backward()).toThrow(/backward through the graph a second time.*retainGraph: true/);
  });

  test('backward: retainGraph allows a second backward, and gradients accumulate', () => {
    const x = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const y = x.mul(x).sum();
    y.backward(undefined, { retainGraph: true });
    expect(num(x.grad)).toEqual([2, 4]);
    y.backward();
    expect(num(x.grad)).toEqual([4, 8]);
    expect(() => y.backward()).toThrow(SeqgradError);
  });

  test('backward: gradients accumulate across separate graphs until zeroed', () => {
    const w = tensor([3], { dtype: 'float64', requiresGrad: true });
    w.mul(2).sum().backward();
    w.mul(w).sum().backward();
    expect(num(w.grad)).toEqual([2 + 6]);
    w.grad = null;
    w.mul(5).sum().backward();
    expect(num(w.grad)).toEqual([5]);
  });

  test('backward: a tensor used twice gets both contributions (diamond graph)', () => {
    const x = f64([1.5], true);
    const a = x.tanh();
    const y = a.mul(a).add(a.exp()); // tanh² + e^tanh
    y.sum().backward();
    const t = Math.tanh(1.5);
    expect(x.grad).toBeAllclose([(2 * t + Math.exp(t)) * (1 - t * t)]);
  });

  test('backward: .grad of a leaf is a plain tensor that owns its buffer', () => {
    const x = f64([1, 2], true);
    const g = f64([1, 1]);
    x.add(0).backward(g);
    expect(x.grad!.requiresGrad).toBe(false);
    expect(x.grad!.data).not.toBe(g.data);
  });

  test('backward: float32 leaf used in a float64 computation gets a float32 gradient', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = f64([3, 4]);
    x.mul(y).sum().backward();
    expect(x.grad!.dtype).toBe('float32');
    expect(num(x.grad)).toEqual([3, 4]);
  });
});

describe('graph control', () => {
  test('noGrad: records nothing and restores the mode afterwards', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = noGrad(() => {
      expect(isGradEnabled()).toBe(false);
      return x.mul(2);
    });
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(isGradEnabled()).toBe(true);
    expect(() => noGrad(() => { throw new Error('boom'); })).toThrow('boom');
    expect(isGradEnabled()).toBe(true);
  });

  test('enableGrad: records inside noGrad', () => {
    const x = tensor([1], { requiresGrad: true });
    const y = noGrad(() => enableGrad(() => x.mul(2)));
    expect(y.requiresGrad).toBe(true);
  });

  test('detach: shares values, cuts the graph', () => {
    const x = f64([1, 2], true);
    const d = x.mul(3).detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.isLeaf).toBe(true);
    const y = x.mul(d).sum(); // d acts as a constant
    y.backward();
    expect(num(x.grad)).toEqual([3, 6]);
  });

  test('retainGrad: a non-leaf keeps its gradient after backward (dL/dh_t per step)', () => {
    const w = f64([0.5], true);
    const hs: Tensor[] = [];
    let h = f64([1]);
    for (let t = 0; t < 3; t++) {
      h = h.mul(w).tanh();
      h.retainGrad();
      hs.push(h);
    }
    h.sum().backward();
    expect(num(hs[2]!.grad)).toEqual([1]);
    const a2 = hs[2]!.data[0]!;
    expect(hs[1]!.grad).toBeAllclose([(1 - a2 * a2) * 0.5]);
    expect(hs[0]!.grad!.item()).toBeCloseTo(hs[1]!.grad!.item() * (1 - hs[1]!.data[0]! ** 2) * 0.5, 12);
    // Without retainGrad a non-leaf keeps no gradient.
    const z = w.mul(2);
    z.sum().backward();
    expect(z.grad).toBeNull();
  });

  test('retainGrad: refused on a tensor that does not require grad', () => {
    expect(() => tensor([1]).retainGrad()).toThrow(/retainGrad/);
  });

  test('requiresGrad: int32 tensors cannot require grad; non-leaves cannot switch it off', () => {
    expect(() => tensor([1], { dtype: 'int32', requiresGrad: true })).toThrow(/only float tensors can require grad/);
    const y = tensor([1], { requiresGrad: true }).mul(2);
    expect(() => { y.requiresGrad = false; }).toThrow(/detach/);
  });

  test('cast: converting to int32 gives a tensor without gradient', () => {
    const x = tensor([1.7, -2.2], { requiresGrad: true });
    const i = x.to('int32');
    expect(i.dtype).toBe('int32');
    expect(i.requiresGrad).toBe(false);
    expect(num(i)).toEqual([1, -2]);
  });
});

describe('grad', () => {
  test('grad: returns gradients without touching .grad', () => {
    const x = f64([1, 2], true);
    const [dx] = grad(x.mul(x).sum(), [x]);
    expect(num(dx)).toEqual([2, 4]);
    expect(x.grad).toBeNull();
  });

  test('grad: gradients with respect to a non-leaf tensor', () => {
    const x = f64([1, 2], true);
    const h = x.mul(3);
    const [dh, dx] = grad(h.mul(h).sum(), [h, x]);
    expect(num(dh)).toEqual([6, 12]);
    expect(num(dx)).toEqual([18, 36]);
  });

  test('grad: an unused input throws unless allowUnused', () => {
    const x = f64([1], true);
    const u = f64([1], true);
    expect(() => grad(x.mul(2).sum(), [x, u])).toThrow(/grad: input 1 \(shape \[1\]\) was not used.*allowUnused/);
    const [dx, du] = grad(x.mul(2).sum(), [x, u], { allowUnused: true });
    expect(num(dx)).toEqual([2]);
    expect(du).toBeNull();
  });

  test('grad: gradOutputs weight a non-scalar output', () => {
    const x = f64([1, 2, 3], true);
    const [dx] = grad(x.mul(x), [x], { gradOutputs: [f64([1, 0, -1])] });
    expect(num(dx)).toEqual([2, 0, -6]);
    expect(() => grad(x.mul(x), [x])).toThrow(/grad: output 0 has shape \[3\].*gradOutputs/);
  });

  test('grad: several outputs add their vector-Jacobian products', () => {
    const x = f64([2], true);
    const [dx] = grad([x.mul(x).sum(), x.mul(3).sum()], [x]);
    expect(num(dx)).toEqual([4 + 3]);
  });

  test('grad: retainGraph keeps the graph for another call', () => {
    const x = f64([2], true);
    const y = x.pow(3).sum();
    grad(y, [x], { retainGraph: true });
    expect(num(grad(y, [x])[0])).toEqual([12]);
    expect(() => grad(y, [x])).toThrow(/second time/);
  });

  test('grad: does not fill .grad of retained non-leaves', () => {
    const x = f64([2], true);
    const h = x.mul(3).retainGrad();
    grad(h.mul(h).sum(), [x]);
    expect(h.grad).toBeNull();
  });

  test('grad: createGraph gives a differentiable gradient (x³ → 3x² → 6x)', () => {
    const x = f64([2, -1], true);
    const [dx] = grad(x.pow(3).sum(), [x], { createGraph: true });
    expect(dx!.requiresGrad).toBe(true);
    expect(num(dx)).toEqual([12, 3]);
    const [ddx] = grad(dx!.sum(), [x], { createGraph: true });
    expect(num(ddx)).toEqual([12, -6]);
    const [dddx] = grad(ddx!.sum(), [x]);
    expect(num(dddx)).toEqual([6, 6]);
  });

  test('backward: createGraph leaves a differentiable .grad', () => {
    const x = f64([3], true);
    x.pow(2).sum().backward(undefined, { createGraph: true });
    const g = x.grad!;
    expect(g.requiresGrad).toBe(true);
    const [dg] = grad(g.sum(), [x]);
    expect(num(dg)).toEqual([2]);
  });
});

describe('valueAndGrad', () => {
  test('valueAndGrad: value and gradient of the first argument, inputs untouched', () => {
    const f = valueAndGrad((x: Tensor, y: Tensor) => x.mul(y).sum());
    const x = f64([1, 2]);
    const y = f64([3, 4]);
    const [value, [dx]] = f(x, y);
    expect(value.item()).toBe(11);
    expect(value.requiresGrad).toBe(false);
    expect(num(dx)).toEqual([3, 4]);
    expect(x.grad).toBeNull();
    expect(x.requiresGrad).toBe(false);
  });

  test('valueAndGrad: argnums selects several arguments; an unused one gets zeros', () => {
    const f = valueAndGrad((x: Tensor, y: Tensor, _z: Tensor) => x.mul(y).sum(), { argnums: [1, 2] });
    const [, [dy, dz]] = f(f64([1, 2]), f64([3, 4]), f64([5]));
    expect(num(dy)).toEqual([1, 2]);
    expect(num(dz)).toEqual([0]);
  });

  test('valueAndGrad: createGraph gives differentiable gradients (grad of grad)', () => {
    const x = f64([2], true);
    const [value, [dx]] = valueAndGrad((t: Tensor) => t.pow(3).sum(), { createGraph: true })(x);
    expect(value.item()).toBe(8);
    expect(dx!.item()).toBe(12);
    expect(num(grad(dx!.sum(), [x])[0])).toEqual([12]);
  });

  test('valueAndGrad: a non-scalar result and a non-tensor argument are refused', () => {
    expect(() => valueAndGrad((x: Tensor) => x.mul(2))(f64([1, 2]))).toThrow(/valueAndGrad: fn must return a one-element tensor, got shape \[2\]/);
    expect(() => valueAndGrad((x: unknown) => f64([1]).mul(x as number))(2)).toThrow(/valueAndGrad: argument 0 is not a tensor/);
  });
});

// ---------------------------------------------------------------------------------------
// Higher-order gradients against closed forms
// ---------------------------------------------------------------------------------------

/** Second derivative of an elementwise f: d/dx (df/dx), summed over elements. */
function secondDerivative(f: (x: Tensor) => Tensor, values: number[]): [number[], number[]] {
  const x = f64(values, true);
  const [d1] = grad(f(x).sum(), [x], { createGraph: true });
  const [d2] = grad(d1!.sum(), [x]);
  return [num(d1), num(d2)];
}

describe('higher-order gradients', () => {
  const xs = [-1.3, -0.2, 0.4, 2.1];

  test('tanh: second derivative −2 tanh(x)(1 − tanh²x)', () => {
    const [d1, d2] = secondDerivative(tanh, xs);
    expect(d1).toBeAllclose(xs.map((v) => 1 - Math.tanh(v) ** 2));
    expect(d2).toBeAllclose(xs.map((v) => -2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2)));
  });

  test('sigmoid: second derivative σ(1 − σ)(1 − 2σ)', () => {
    const s = (v: number) => 1 / (1 + Math.exp(-v));
    const [d1, d2] = secondDerivative(sigmoid, xs);
    expect(d1).toBeAllclose(xs.map((v) => s(v) * (1 - s(v))));
    expect(d2).toBeAllclose(xs.map((v) => s(v) * (1 - s(v)) * (1 - 2 * s(v))));
  });

  test('exp: every derivative is exp', () => {
    const [d1, d2] = secondDerivative(exp, xs);
    expect(d1).toBeAllclose(xs.map(Math.exp));
    expect(d2).toBeAllclose(xs.map(Math.exp));
  });

  test('log: 1/x and −1/x²', () => {
    const pos = [0.3, 1, 2.5];
    const [d1, d2] = secondDerivative(log, pos);
    expect(d1).toBeAllclose(pos.map((v) => 1 / v));
    expect(d2).toBeAllclose(pos.map((v) => -1 / (v * v)));
  });

  test('tanh: third derivative through three createGraph passes', () => {
    const x = f64([0.7], true);
    const [d1] = grad(tanh(x).sum(), [x], { createGraph: true });
    const [d2] = grad(d1!.sum(), [x], { createGraph: true });
    const [d3] = grad(d2!.sum(), [x]);
    const t = Math.tanh(0.7);
    expect(d3).toBeAllclose([(1 - t * t) * (6 * t * t - 2)]);
  });

  test('matmul: the mixed second derivative of sum(A B) is the column sums of the weights', () => {
    const A = f64([[1, 2, 3], [4, 5, 6]], true);
    const B = f64([[1, -1], [0, 2], [3, 1]], true);
    const C = f64([[0.5, -1, 2], [1, 1, 1]]);
    const [gA] = grad(matmul(A, B).sum(), [A], { createGraph: true }); // ones @ Bᵀ
    expect(gA).toBeAllclose([[0, 2, 4], [0, 2, 4]]);
    const [gB] = grad(gA!.mul(C).sum(), [B]); // d/dB_kj = Σ_i C_ik
    expect(gB).toBeAllclose([[1.5, 1.5], [0, 0], [3, 3]]);
  });

  test('matmul: Hessian-vector product of ‖A x‖² is 2 AᵀA v', () => {
    const A = f64([[1, 2], [3, 4], [5, 6]]);
    const x = f64([0.3, -0.7], true);
    const v = [1, -2];
    const [gx] = grad(matmul(A, x).square().sum(), [x], { createGraph: true });
    const [hv] = grad(gx!.mul(f64(v)).sum(), [x]);
    // AᵀA = [[35, 44], [44, 56]]
    expect(hv).toBeAllclose([2 * (35 * 1 + 44 * -2), 2 * (44 * 1 + 56 * -2)]);
  });

  test('softmax: Hessian-vector product of sum(softmax(x)·w) against the closed form', () => {
    const xv = [0.2, -1.1, 0.7, 1.5];
    const w = [1, -0.5, 2, 0.3];
    const v = [0.4, 1, -1, 0.2];
    const x = f64(xv, true);
    const [g] = grad(softmax(x).mul(f64(w)).sum(), [x], { createGraph: true });
    const [hv] = grad(g!.mul(f64(v)).sum(), [x]);
    const e = xv.map(Math.exp);
    const Z = e.reduce((p, q) => p + q);
    const s = e.map((q) => q / Z);
    const dot = (p: number[], q: number[]) => p.reduce((acc, pi, i) => acc + pi * q[i]!, 0);
    const a = dot(s, w);
    const b = dot(s, v);
    const svw = dot(s, v.map((vi, i) => vi * w[i]!));
    expect(g).toBeAllclose(s.map((si, k) => si * (w[k]! - a)));
    const expected = s.map((sk, k) => sk * (v[k]! * w[k]! - svw) - a * sk * (v[k]! - b) - b * sk * (w[k]! - a));
    expect(hv).toBeAllclose(expected, { atol: 1e-12 });
  });

  test('logsumexp: its gradient is softmax and its Hessian diag(s) − s sᵀ', () => {
    const xv = [1, 2, -0.5];
    const v = [0.3, -1, 2];
    const x = f64(xv, true);
    const [g] = grad(logsumexp(x), [x], { createGraph: true });
    const [hv] = grad(g!.mul(f64(v)).sum(), [x]);
    const e = xv.map(Math.exp);
    const Z = e.reduce((p, q) => p + q);
    const s = e.map((q) => q / Z);
    const sv = s.reduce((acc, si, i) => acc + si * v[i]!, 0);
    expect(g).toBeAllclose(s);
    expect(hv).toBeAllclose(s.map((si, i) => si * v[i]! - si * sv));
  });

  test('crossEntropy: gradient softmax − onehot, Hessian-vector (diag(s) − s sᵀ) v', () => {
    const xv = [[0.5, -1, 2], [1, 1, 0]];
    const targets = [2, 0];
    const v = [[1, 0, -1], [0.5, 2, 0]];
    const x = f64(xv, true);
    const [g] = grad(crossEntropy(x, tensor(targets, { dtype: 'int32' })), [x], { createGraph: true });
    const [hv] = grad(g!.mul(f64(v)).sum(), [x]);
    const N = 2;
    const sm = xv.map((row) => {
      const e = row.map(Math.exp);
      const Z = e.reduce((p, q) => p + q);
      return e.map((q) => q / Z);
    });
    expect(g).toBeAllclose(sm.map((s, n) => s.map((si, c) => (si - (c === targets[n] ? 1 : 0)) / N)));
    expect(hv).toBeAllclose(sm.map((s, n) => {
      const sv = s.reduce((acc, si, c) => acc + si * v[n]![c]!, 0);
      return s.map((si, c) => (si * v[n]![c]! - si * sv) / N);
    }));
  });

  test('mseLoss: Hessian is 2/n · I', () => {
    const x = f64([1, 2, 3, 4], true);
    const [g] = grad(mseLoss(x, f64([0, 0, 1, 1])), [x], { createGraph: true });
    expect(g).toBeAllclose([0.5, 1, 1, 1.5]);
    const [hv] = grad(g!.mul(f64([1, -1, 2, 0])).sum(), [x]);
    expect(hv).toBeAllclose([0.5, -0.5, 1, 0]);
  });

  test('binaryCrossEntropyWithLogits: gradient (σ(x) − y)/n, Hessian σ(1 − σ)/n', () => {
    const xv = [-2, 0.5, 3];
    const y = [0, 1, 1];
    const x = f64(xv, true);
    const [g] = grad(binaryCrossEntropyWithLogits(x, f64(y)), [x], { createGraph: true });
    const s = xv.map((q) => 1 / (1 + Math.exp(-q)));
    expect(g).toBeAllclose(s.map((si, i) => (si - y[i]!) / 3));
    const [h] = grad(g!.sum(), [x]);
    expect(h).toBeAllclose(s.map((si) => (si * (1 - si)) / 3));
  });
});

// ---------------------------------------------------------------------------------------
// Custom functions
// ---------------------------------------------------------------------------------------

describe('defineFunction', () => {
  const cube = defineFunction({
    name: 'cube',
    forward(ctx: FunctionCtx, x: Tensor) {
      ctx.saveForBackward(x);
      return x.pow(3);
    },
    // d x³ = 3x² dx
    backward(ctx, g) {
      const [x] = ctx.savedTensors;
      return g!.mul(x!.pow(2)).mul(3);
    },
  });

  test('defineFunction: saveForBackward feeds the backward; the result is recorded', () => {
    const x = f64([1, -2], true);
    const y = cube(x);
    expect(num(y)).toEqual([1, -8]);
    expect(y.gradFn?.name).toBe('cube');
    y.sum().backward();
    expect(num(x.grad)).toEqual([3, 12]);
  });

  test('defineFunction: the backward is differentiable (second order through a custom op)', () => {
    const x = f64([2], true);
    const [d1] = grad(cube(x).sum(), [x], { createGraph: true });
    const [d2] = grad(d1!.sum(), [x]);
    expect(num(d2)).toEqual([12]);
  });

  test('defineFunction: forward runs without recording, even when inputs require grad', () => {
    let recorded: boolean | null = null;
    const f = defineFunction({
      forward(_ctx, x: Tensor) {
        recorded = isGradEnabled();
        return x.mul(2);
      },
      backward: (_ctx, g) => g!.mul(2),
    });
    f(f64([1], true));
    expect(recorded).toBe(false);
  });

  test('defineFunction: needsInputGrad tells which inputs want a gradient; null skips one', () => {
    const seen: boolean[][] = [];
    const mulFn = defineFunction({
      name: 'myMul',
      forward(ctx, a: Tensor, b: Tensor, scale: number) {
        seen.push([...ctx.needsInputGrad]);
        ctx.saveForBackward(a, b);
        ctx.scale = scale;
        return a.mul(b).mul(scale);
      },
      backward(ctx, g) {
        const [a, b] = ctx.savedTensors;
        const s = ctx.scale as number;
        return [ctx.needsInputGrad[0] ? g!.mul(b!).mul(s) : null, ctx.needsInputGrad[1] ? g!.mul(a!).mul(s) : null, null];
      },
    });
    const a = f64([2, 3], true);
    const b = f64([5, 7]);
    mulFn(a, b, 10).sum().backward();
    expect(seen[0]).toEqual([true, false, false]);
    expect(num(a.grad)).toEqual([50, 70]);
  });

  test('defineFunction: ctx.recorded says whether a backward can follow (not under noGrad, not without inputs wanting gradients)', () => {
    const seen: boolean[] = [];
    const twice = defineFunction({
      name: 'twice',
      forward(ctx, a: Tensor) {
        seen.push(ctx.recorded);
        return a.mul(2);
      },
      backward: (_ctx, g) => g!.mul(2),
    });
    const a = f64([1, 2], true);
    twice(a);
    noGrad(() => twice(a));
    twice(f64([1, 2]));
    expect(seen).toEqual([true, false, false]);
  });

  test('FunctionCtx.onFree: runs once, after the backward that frees the graph, and not while it is retained', () => {
    let freed = 0;
    const twice = defineFunction({
      name: 'twice',
      forward(ctx, a: Tensor) {
        ctx.onFree(() => freed++);
        return a.mul(2);
      },
      backward: (_ctx, g) => g!.mul(2),
    });
    const a = f64([1, 2], true);
    const y = twice(a).sum();
    expect(freed).toBe(0);
    y.backward(undefined, { retainGraph: true });
    expect(freed).toBe(0);
    y.backward();
    expect(freed).toBe(1);
    expect(num(a.grad)).toEqual([4, 4]);
    expect(() => y.backward()).toThrow(/second time/);
    expect(freed).toBe(1);
  });

  test('defineFunction: freshGradients keeps a returned gradient as the first .grad (no copy), but never one tensor for two leaves', () => {
    let returned: Tensor[] = [];
    const make = (freshGradients: boolean, same: boolean) => defineFunction({
      name: 'addFresh',
      freshGradients,
      forward: (_ctx, a: Tensor, b: Tensor) => a.add(b),
      backward: (_ctx, g) => {
        const ga = g!.mul(1);
        returned = [ga, same ? ga : g!.mul(1)];
        return returned;
      },
    });
    const run = (freshGradients: boolean, same: boolean) => {
      const a = f64([1, 2], true);
      const b = f64([3, 4], true);
      make(freshGradients, same)(a, b).sum().backward();
      return { a, b };
    };
    let r = run(true, false);
    expect(r.a.grad).toBe(returned[0]);
    expect(r.b.grad).toBe(returned[1]);
    r = run(false, false);
    expect(r.a.grad).not.toBe(returned[0]);
    expect(num(r.a.grad)).toEqual([1, 1]);
    r = run(true, true);
    expect(r.a.grad).toBe(returned[0]);
    expect(r.b.grad).not.toBe(r.a.grad);
    r.a.grad!.data.fill(7);
    expect(num(r.b.grad)).toEqual([1, 1]);
  });

  test('defineFunction: several outputs; an unused output sends a zero gradient', () => {
    let got: number[][] = [];
    const sumAndProd = defineFunction({
      name: 'sumAndProd',
      forward(ctx, a: Tensor, b: Tensor) {
        ctx.saveForBackward(a, b);
        return [a.add(b), a.mul(b)];
      },
      backward(ctx, gSum, gProd) {
        got = [num(gSum), num(gProd)];
        const [a, b] = ctx.savedTensors;
        return [gSum!.add(gProd!.mul(b!)), gSum!.add(gProd!.mul(a!))];
      },
    });
    const a = f64([2], true);
    const b = f64([3], true);
    const [s, p] = sumAndProd(a, b);
    expect(num(s)).toEqual([5]);
    expect(num(p)).toEqual([6]);
    p!.sum().backward();
    expect(got).toEqual([[0], [1]]);
    expect(num(a.grad)).toEqual([3]);
    expect(num(b.grad)).toEqual([2]);
    const [s2, p2] = sumAndProd(a, b);
    a.grad = null;
    s2!.add(p2!).sum().backward();
    expect(num(a.grad)).toEqual([1 + 3]);
  });

  test('defineFunction: a backward returning the wrong shape is named with the input index', () => {
    const bad = defineFunction({ name: 'badShape', forward: (_ctx, x: Tensor) => x.mul(2), backward: (_ctx, g) => g!.sum() });
    expect(() => bad(f64([1, 2], true)).sum().backward()).toThrow(/badShape: backward returned a gradient of shape \[\] for input 0, whose shape is \[2\]/);
  });

  test('defineFunction: a backward may return the broadcast shape; the engine sums it to the input', () => {
    // y = x + 1 broadcast to [2, 3] from x [3]: the backward hands back dy itself.
    const broadcastAdd = defineFunction({
      name: 'broadcastAdd',
      forward: (_ctx, x: Tensor) => x.expand([2, 3]).add(1),
      backward: (_ctx, g) => g!,
    });
    const x = f64([1, 2, 3], true);
    broadcastAdd(x).mul(f64([1, 2, 3, 4, 5, 6]).reshape([2, 3])).sum().backward();
    expect(num(x.grad)).toEqual([1 + 4, 2 + 5, 3 + 6]);
  });

  test('defineFunction: a backward returning a non-tensor is named', () => {
    const bad = defineFunction({ name: 'numberGrad', forward: (_ctx, x: Tensor) => x.mul(2), backward: () => 2 as unknown as Tensor });
    expect(() => bad(f64([1], true)).sum().backward()).toThrow(/^numberGrad: backward returned number for input 0; expected a Tensor, null or undefined$/);
  });

  test('defineFunction: forward must return tensors', () => {
    const bad = defineFunction({ name: 'notTensor', forward: () => 3 as unknown as Tensor, backward: () => null });
    expect(() => bad()).toThrow(/notTensor: forward must return tensors, got number/);
  });

  test('defineFunction: onceDifferentiable works to first order but a double backward throws', () => {
    const square = defineFunction({
      name: 'onceSquare',
      onceDifferentiable: true,
      forward(ctx, x: Tensor) {
        ctx.saveForBackward(x);
        return x.mul(x);
      },
      backward(ctx, g) {
        return g!.mul(ctx.savedTensors[0]!).mul(2);
      },
    });
    const x = f64([3], true);
    square(x).sum().backward();
    expect(num(x.grad)).toEqual([6]);
    const [d1] = grad(square(x).sum(), [x], { createGraph: true });
    expect(num(d1)).toEqual([6]);
    expect(() => grad(d1!.sum(), [x])).toThrow(/onceSquare.*onceDifferentiable/);
  });

  test('defineFunction: onceDifferentiable throws when a gradient flowing into it requires grad', () => {
    const ident = defineFunction({ name: 'onceIdent', onceDifferentiable: true, forward: (_c, x: Tensor) => x.mul(1), backward: (_c, g) => g });
    const x = f64([3], true);
    expect(() => grad(ident(x.mul(x)).sum().mul(x), [x], { createGraph: true })).not.toThrow();
    const y = ident(x).mul(x).sum();
    const [d1] = grad(y, [x], { createGraph: true });
    expect(() => grad(d1!.sum(), [x])).toThrow(/onceIdent.*onceDifferentiable/);
  });
});

describe('detectAnomaly', () => {
  test('detectAnomaly: names the op whose backward produced NaN/Infinity and where it was created', () => {
    const x = f64([0, 1], true);
    let err: unknown;
    try {
      detectAnomaly(() => {
        const y = log(x); // log(0) = −Infinity; its backward divides by 0
        y.mul(f64([1, 1])).sum().backward();
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SeqgradError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/detectAnomaly: backward of 'log' returned a gradient with NaN or Infinity for input 0 \(shape \[2\]\)/);
    expect(msg).toMatch(/created at:[\s\S]*engine\.test\.ts/);
  });

  test('detectAnomaly: reaches the user frame through a deep composite (crossEntropy)', () => {
    const logits = f64([[0, 0]], true);
    const g = defineFunction({ name: 'nanGrad', forward: (_c, x: Tensor) => x.mul(1), backward: (_c, gr) => gr!.mul(NaN) });
    let msg = '';
    try {
      detectAnomaly(() => crossEntropy(g(logits), tensor([1], { dtype: 'int32' })).backward());
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/backward of 'nanGrad'/);
    expect(msg).toMatch(/engine\.test\.ts/);
  });

  test('detectAnomaly: without it, the same NaN flows silently into .grad', () => {
    const x = f64([0], true);
    log(x).sum().backward();
    expect(x.grad!.data[0]).toBe(Infinity);
    expect(zeros([1]).data[0]).toBe(0);
    expect(ones([1]).data[0]).toBe(1);
  });
});
