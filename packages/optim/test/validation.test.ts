import { ones, randn, tensor } from '@seqgrad/autograd';
import { Adam, SGD, StepLR, clipGradNorm, clipGradValue } from '@seqgrad/optim';
import { describe, expect, test } from 'vitest';

function withGrads() {
  const w = randn([2, 3], { requiresGrad: true });
  const b = randn([3], { requiresGrad: true });
  w.grad = ones([2, 3]);
  b.grad = ones([3]);
  return [w, b] as const;
}

describe('validation', () => {
  test('Optimizer.loadStateDict: a dict rejected late changes nothing', () => {
    const opt = new Adam([...withGrads()], { lr: 0.1 });
    opt.step();
    const before = JSON.stringify(opt.stateDict());
    const sd = opt.stateDict();
    sd.state[0]!.expAvg = (sd.state[0]!.expAvg as number[]).map((x) => x + 1); // valid change
    sd.paramGroups[0]!.lr = 0.5; // valid change
    delete sd.state[1]!.expAvgSq; // the invalid part, found after the valid ones
    expect(() => opt.loadStateDict(sd)).toThrow("Adam.loadStateDict: state 'expAvgSq' of parameter 1 is missing");
    expect(JSON.stringify(opt.stateDict())).toBe(before);
  });

  test("Optimizer.loadStateDict: another optimizer's dict is refused before anything changes", () => {
    const sgd = new SGD([...withGrads()], { lr: 0.1, momentum: 0.9 });
    sgd.step();
    const adam = new Adam([...withGrads()], { lr: 0.1 });
    adam.step();
    const before = JSON.stringify(adam.stateDict());
    expect(() => adam.loadStateDict(sgd.stateDict())).toThrow(/'momentumBuffer', which Adam does not keep/);
    expect(JSON.stringify(adam.stateDict())).toBe(before);
  });

  test('Optimizer.step: bumps the version of every parameter it updates', () => {
    const [w, b] = withGrads();
    const frozen = randn([2], { requiresGrad: true }); // no grad: not updated
    const opt = new SGD([w, b, frozen], { lr: 0.1 });
    opt.step();
    expect([w.version, b.version, frozen.version]).toEqual([1, 1, 0]);
  });

  test('Optimizer.step: a saved parameter changed by a step makes the pending backward fail', () => {
    const [w] = withGrads();
    const loss = w.mul(w).sum();
    new SGD([w], { lr: 0.1 }).step();
    expect(() => loss.backward()).toThrow(/^mul: a tensor needed for gradient computation has been modified by an inplace operation/);
  });

  test('clipGradNorm: clips parameters given as a one-shot iterator, and bumps the clipped gradients', () => {
    const [w, b] = withGrads();
    function* params() {
      yield w;
      yield b;
    }
    const total = clipGradNorm(params(), 1);
    expect(total).toBeCloseTo(3, 6);
    expect(w.grad!.data[0]).toBeCloseTo(1 / (3 + 1e-6), 6);
    expect(w.grad!.version).toBe(1);
    clipGradValue([w], 0.1);
    expect(w.grad!.version).toBe(2);
  });

  test('clipGradNorm: maxNorm <= 0 is an error, unlike PyTorch', () => {
    const [w] = withGrads();
    expect(() => clipGradNorm([w], -1)).toThrow('clipGradNorm: maxNorm must be a positive number (or Infinity), got the number -1');
    expect(Array.from(w.grad!.data)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  test('LRScheduler.step: a schedule that would set a non-finite lr is an error', () => {
    const opt = new SGD([tensor([1], { requiresGrad: true })], { lr: 0.1 });
    const sched = new StepLR(opt, { stepSize: 1, gamma: 1e308 });
    sched.step();
    expect(() => sched.step()).toThrow(/^StepLR: the lr of paramGroups\[0\] at step 2 would be Infinity/);
  });
});
