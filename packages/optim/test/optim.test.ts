import { describe, expect, test } from 'vitest';
import { SeqgradError, tensor, type Tensor } from '@seqgrad/autograd';
import {
  Adam, AdamW, clipGradNorm, clipGradValue, ExponentialLR, LambdaLR, type OptimizerStateDict, ReduceLROnPlateau, RMSprop, SGD, StepLR,
} from '@seqgrad/optim';

const param = (values: number[], dtype: 'float32' | 'float64' = 'float64') => tensor(values, { dtype, requiresGrad: true });
const setGrad = (p: Tensor, values: number[]) => (p.grad = tensor(values, { dtype: p.dtype as 'float32' | 'float64' }));

describe('clipGradNorm', () => {
  test('clipGradNorm: scales by maxNorm / (total + 1e-6) only when that is below 1', () => {
    const a = param([0, 0]);
    setGrad(a, [3, 4]);
    expect(clipGradNorm([a], 1)).toBe(5);
    expect(Array.from(a.grad!.data)).toEqual([3 * (1 / (5 + 1e-6)), 4 * (1 / (5 + 1e-6))]);
    const b = param([0, 0]);
    setGrad(b, [0.3, 0.4]);
    expect(clipGradNorm(b, 1)).toBeCloseTo(0.5, 15);
    expect(Array.from(b.grad!.data)).toEqual([0.3, 0.4]);
  });

  test('clipGradNorm: accepts parameter groups and generators, and skips tensors without a gradient', () => {
    const a = param([0]);
    const b = param([0]);
    const c = param([0]);
    setGrad(a, [3]);
    setGrad(c, [4]);
    function* all() {
      yield a;
      yield b;
      yield c;
    }
    expect(clipGradNorm(all(), 10)).toBe(5);
    expect(clipGradNorm([{ params: [a] }, { params: [b, c], lr: 1 }], 10)).toBe(5);
    expect(b.grad).toBeNull();
    expect(clipGradNorm([b], 1)).toBe(0);
  });

  test('clipGradNorm: errorIfNonfinite throws, naming the option', () => {
    const a = param([0, 0]);
    setGrad(a, [NaN, 1]);
    expect(() => clipGradNorm([a], 1, { errorIfNonfinite: true })).toThrow(/errorIfNonfinite/);
    setGrad(a, [Infinity, 1]);
    expect(() => clipGradNorm([a], 1, { errorIfNonfinite: true })).toThrow(SeqgradError);
  });

  test('clipGradNorm: without errorIfNonfinite, NaN spreads to every gradient and an infinite norm zeroes the finite entries', () => {
    const a = param([0, 0]);
    const b = param([0]);
    setGrad(a, [NaN, 1]);
    setGrad(b, [2]);
    expect(clipGradNorm([a, b], 1)).toBeNaN();
    expect([...a.grad!.data, ...b.grad!.data].every(Number.isNaN)).toBe(true);
    setGrad(a, [Infinity, 1]);
    setGrad(b, [2]);
    expect(clipGradNorm([a, b], 1)).toBe(Infinity);
    expect(Array.from(a.grad!.data)).toEqual([NaN, 0]);
    expect(Array.from(b.grad!.data)).toEqual([0]);
  });

  test('clipGradNorm: rejects what is not a parameter list', () => {
    expect(() => clipGradNorm(42 as never, 1)).toThrow(/params must be/);
    expect(() => clipGradNorm([param([1]), { params: [] }] as never, 1)).toThrow(/only tensors or only parameter groups/);
  });
});

describe('clipGradValue', () => {
  test('clipGradValue: clamps every entry into [-value, value]', () => {
    const a = param([0, 0, 0, 0]);
    setGrad(a, [-3, -0.2, 0.5, 7]);
    clipGradValue([a], 0.5);
    expect(Array.from(a.grad!.data)).toEqual([-0.5, -0.2, 0.5, 0.5]);
    expect(() => clipGradValue([a], -1)).toThrow(/non-negative/);
  });
});

describe('Optimizer', () => {
  test('Optimizer: rejects an empty parameter list, unknown options, bad values and shared parameters', () => {
    expect(() => new SGD([], { lr: 0.1 })).toThrow(/empty parameter list/);
    const p = param([1]);
    expect(() => new Adam([p], { weight_decay: 0.1 } as never)).toThrow(/unknown option 'weight_decay'/);
    expect(() => new Adam([p], { lr: -1 })).toThrow(/invalid lr: -1/);
    expect(() => new Adam([p], { betas: [0.9, 1] })).toThrow(/betas\[1\]/);
    expect(() => new SGD([p], { lr: 0.1, nesterov: true })).toThrow(/nesterov/);
    expect(() => new SGD([{ params: [p] }, { params: [p] }], { lr: 0.1 })).toThrow(/more than one parameter group/);
  });

  test('Optimizer: groups take their own options and fall back to the defaults', () => {
    const a = param([1]);
    const b = param([1]);
    const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.5, momentum: 0.9 }], { lr: 0.1 });
    expect(opt.paramGroups.map((g) => [g.lr, g.momentum])).toEqual([[0.1, 0], [0.5, 0.9]]);
    setGrad(a, [1]);
    setGrad(b, [1]);
    opt.step();
    expect(a.data[0]).toBeCloseTo(0.9, 15);
    expect(b.data[0]).toBeCloseTo(0.5, 15);
  });

  test('Optimizer.step: parameters without a gradient are skipped and get no state', () => {
    const a = param([1]);
    const b = param([1]);
    const opt = new Adam([a, b]);
    setGrad(a, [1]);
    opt.step();
    expect(b.data[0]).toBe(1);
    expect(opt.state.has(b)).toBe(false);
    expect(opt.state.get(a)!.step).toBe(1);
  });

  test('Optimizer.step: float32 parameters keep float32 state, allocated once on the first step', () => {
    const p = param([1, -2, 3], 'float32');
    const opt = new RMSprop([p], { momentum: 0.9, centered: true });
    setGrad(p, [0.1, 0.2, 0.3]);
    opt.step();
    const buffers = { ...opt.state.get(p)! };
    expect(buffers.squareAvg).toBeInstanceOf(Float32Array);
    for (let t = 0; t < 3; t++) {
      setGrad(p, [0.1, -0.2, 0.3]);
      opt.step();
    }
    for (const key of ['squareAvg', 'gradAvg', 'momentumBuffer']) expect(opt.state.get(p)![key]).toBe(buffers[key]);
    expect(p.data).toBeInstanceOf(Float32Array);
  });

  test('Optimizer.step: the closure is evaluated and its loss returned', () => {
    const p = param([2]);
    const opt = new SGD([p], { lr: 0.25 });
    const loss = opt.step(() => {
      p.grad = null;
      const l = p.mul(p).sum();
      l.backward();
      return l.item();
    });
    expect(loss).toBe(4);
    expect(p.data[0]).toBe(1);
  });

  test('Optimizer.zeroGrad: sets gradients to null by default, or fills them with zeros', () => {
    const p = param([1, 2]);
    const opt = new AdamW([p]);
    setGrad(p, [3, 4]);
    const g = p.grad!;
    opt.zeroGrad({ setToNone: false });
    expect(p.grad).toBe(g);
    expect(Array.from(g.data)).toEqual([0, 0]);
    opt.zeroGrad();
    expect(p.grad).toBeNull();
  });

  test('Optimizer.loadStateDict: rejects a state dict of a different layout', () => {
    const a = param([1]);
    const b = param([1]);
    const sd: OptimizerStateDict = new SGD([a, b], { lr: 1 }).stateDict();
    expect(() => new SGD([{ params: [a] }, { params: [b] }], { lr: 1 }).loadStateDict(sd)).toThrow(/1 parameter groups, this optimizer 2/);
    expect(() => new SGD([a], { lr: 1 }).loadStateDict(sd)).toThrow(/2 parameters in the state dict and 1 here/);
  });

  test('Optimizer.stateDict: is a deep copy in PyTorch layout', () => {
    const p = param([1, 2]);
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9 });
    setGrad(p, [1, 1]);
    opt.step();
    const sd = opt.stateDict();
    expect(sd.paramGroups).toEqual([{ lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, params: [0] }]);
    expect(sd.state[0]).toEqual({ momentumBuffer: [1, 1] });
    opt.step();
    expect(sd.state[0]).toEqual({ momentumBuffer: [1, 1] });
  });
});

describe('schedules', () => {
  const sgd = (lr = 1) => new SGD([param([0])], { lr });

  test('StepLR: multiplies by gamma every stepSize steps', () => {
    const opt = sgd();
    const s = new StepLR(opt, { stepSize: 2, gamma: 0.5 });
    const lrs = [opt.paramGroups[0]!.lr];
    for (let i = 0; i < 5; i++) {
      s.step();
      lrs.push(opt.paramGroups[0]!.lr);
    }
    expect(lrs).toEqual([1, 1, 0.5, 0.5, 0.25, 0.25]);
  });

  test('LambdaLR: stateDict restores the counters; the function is supplied again', () => {
    const optA = sgd(0.1);
    const a = new LambdaLR(optA, { lrLambda: (t) => 1 / (t + 1) });
    for (let i = 0; i < 3; i++) a.step();
    const optB = sgd(0.1);
    const b = new LambdaLR(optB, { lrLambda: (t) => 1 / (t + 1) });
    b.loadStateDict(JSON.parse(JSON.stringify(a.stateDict())));
    a.step();
    b.step();
    expect(optB.paramGroups[0]!.lr).toBe(optA.paramGroups[0]!.lr);
  });

  test('ExponentialLR: stateDict round trip continues the same rates', () => {
    const optA = sgd();
    const a = new ExponentialLR(optA, { gamma: 0.9 });
    a.step();
    const optB = sgd();
    optB.loadStateDict(optA.stateDict());
    const b = new ExponentialLR(optB, { gamma: 0.5 });
    b.loadStateDict(a.stateDict());
    a.step();
    b.step();
    expect(b.getLastLr()).toEqual(a.getLastLr());
  });

  test('ReduceLROnPlateau: survives JSON even before any metric (best = Infinity)', () => {
    const opt = sgd();
    const s = new ReduceLROnPlateau(opt, { patience: 0 });
    const restored = new ReduceLROnPlateau(sgd(), { patience: 5 });
    restored.loadStateDict(JSON.parse(JSON.stringify(s.stateDict())));
    expect(restored.best).toBe(Infinity);
    expect(restored.patience).toBe(0);
    s.step(1);
    s.step(2);
    expect(opt.paramGroups[0]!.lr).toBeCloseTo(0.1, 15);
  });
});
