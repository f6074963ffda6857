/**
 * PyTorch parity: replays tests/fixtures/optim/optim.json (written by generate.py with
 * Debian's python3-torch) and compares every value in float64 to 1e-12 relative.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { tensor, type Tensor } from '@seqgrad/autograd';
import {
  Adagrad, Adam, AdamW, clipGradNorm, clipGradValue, CosineAnnealingLR, ExponentialLR, LambdaLR, LinearLR, type LRScheduler,
  type Optimizer, ReduceLROnPlateau, RMSprop, SequentialLR, SGD, StepLR,
} from '@seqgrad/optim';

const fixture = JSON.parse(readFileSync(fileURLToPath(new URL('../../../tests/fixtures/optim/optim.json', import.meta.url)), 'utf8'));

/** |actual − torch| ≤ 1e-12·|torch|: float64 updates must agree to rounding (so exact zeros match exactly). */
const TOL = { rtol: 1e-12, atol: 0 };
/** Comparisons made per family: a family that compared nothing is a fixture that lost its cases. */
const compared: Record<string, number> = {};
function check(kind: string, actual: ArrayLike<number>, expected: ArrayLike<number>, where: string): void {
  compared[kind] = (compared[kind] ?? 0) + 1;
  expect(actual, where).toBeAllclose(expected, TOL);
}

const OPTIMIZERS: Record<string, new (params: never, opts: never) => Optimizer> = {
  SGD: SGD as never, Adam: Adam as never, AdamW: AdamW as never, RMSprop: RMSprop as never, Adagrad: Adagrad as never,
};

const params64 = (): Tensor[] =>
  (fixture.init as number[][]).map((v, i) => tensor(v, { dtype: 'float64', shape: fixture.shapes[i], requiresGrad: true }));

describe('PyTorch parity: optimizers', () => {
  for (const c of fixture.optimizers) {
    const label = `${c.optimizer}(${JSON.stringify(c.options)}${c.groups ? `, groups ${JSON.stringify(c.groups)}` : ''}${c.skip ? ', one grad skipped' : ''})`;
    test(`${c.optimizer}.step: matches torch.optim over ${c.history.length} steps: ${label}`, () => {
      const params = params64();
      const input = c.groups ? c.groups.map((g: object, i: number) => ({ params: [params[i]!], ...g })) : params;
      const opt = new OPTIMIZERS[c.optimizer]!(input as never, c.options as never);
      c.history.forEach((expected: number[][], t: number) => {
        params.forEach((p, i) => {
          const skipped = c.skip && c.skip[0] === t && c.skip[1] === i;
          p.grad = skipped ? null : tensor(fixture.grads[t][i], { dtype: 'float64', shape: p.shape });
        });
        opt.step();
        params.forEach((p, i) => check('optimizers', p.data, expected[i]!, `${label}, step ${t + 1}, param ${i}`));
      });
    });
  }
});

const LAMBDAS: Record<string, (t: number) => number> = {
  inverse: (t) => 1 / (1 + t),
  power: (t) => 0.95 ** t,
  warmup: (t) => Math.min(1.0, (t + 1) / 10),
};

interface Spec { type: string; args?: Record<string, unknown> }
function makeScheduler(opt: Optimizer, spec: Spec): LRScheduler | SequentialLR {
  // The fixture holds exactly the options each constructor takes.
  const a = (spec.args ?? {}) as never;
  const args = (spec.args ?? {}) as { lrLambda?: string | string[]; schedulers?: Spec[]; milestones?: number[] };
  switch (spec.type) {
    case 'LinearLR': return new LinearLR(opt, a);
    case 'CosineAnnealingLR': return new CosineAnnealingLR(opt, a);
    case 'StepLR': return new StepLR(opt, a);
    case 'ExponentialLR': return new ExponentialLR(opt, a);
    case 'LambdaLR': {
      const fn = args.lrLambda!;
      return new LambdaLR(opt, { lrLambda: Array.isArray(fn) ? fn.map((f) => LAMBDAS[f]!) : LAMBDAS[fn]! });
    }
    case 'SequentialLR': {
      const inner = args.schedulers!.map((s) => makeScheduler(opt, s) as LRScheduler);
      return new SequentialLR(opt, { schedulers: inner, milestones: args.milestones! });
    }
    default: throw new Error(`unknown schedule ${spec.type}`);
  }
}
const twoGroups = () => new SGD([{ params: [tensor([0], { dtype: 'float64', requiresGrad: true })] }, { params: [tensor([0], { dtype: 'float64', requiresGrad: true })], lr: 0.05 }], { lr: 0.1 });

describe('PyTorch parity: schedules', () => {
  for (const c of fixture.schedules) {
    const label = `${c.type}(${JSON.stringify(c.args ?? {})})`;
    test(`${c.type}: matches torch.optim.lr_scheduler over ${c.lrs.length - 1} steps: ${label}`, () => {
      const opt = twoGroups();
      const lrs = () => opt.paramGroups.map((g) => g.lr);
      if (c.type === 'ReduceLROnPlateau') {
        const sched = new ReduceLROnPlateau(opt, c.args);
        check('schedules', lrs(), c.lrs[0], `${label} at start`);
        c.metrics.forEach((m: number, t: number) => {
          sched.step(m);
          check('schedules', lrs(), c.lrs[t + 1], `${label} after metric ${t}`);
        });
        return;
      }
      const sched = makeScheduler(opt, c);
      check('schedules', lrs(), c.lrs[0], `${label} at construction`);
      for (let t = 1; t < c.lrs.length; t++) {
        opt.step();
        sched.step();
        check('schedules', lrs(), c.lrs[t], `${label} after step ${t}`);
        check('schedules', sched.getLastLr(), c.lrs[t], `${label} getLastLr after step ${t}`);
      }
    });
  }
});

const clipParams = () =>
  (fixture.clipGrads as number[][]).map((g, i) => {
    const p = tensor(new Float64Array(g.length), { shape: fixture.clipShapes[i], requiresGrad: true });
    p.grad = tensor(g, { dtype: 'float64', shape: fixture.clipShapes[i] });
    return p;
  });

describe('PyTorch parity: clipping', () => {
  for (const c of fixture.clipGradNorm) {
    const normType = c.normType === 'Infinity' ? Infinity : c.normType === '-Infinity' ? -Infinity : c.normType;
    test(`clipGradNorm: matches clip_grad_norm_ for normType ${c.normType}, maxNorm ${c.maxNorm}`, () => {
      const ps = clipParams();
      const total = clipGradNorm(ps, c.maxNorm, { normType });
      check('clipGradNorm', [total], [c.total], `total norm (p = ${c.normType})`);
      ps.forEach((p, i) => check('clipGradNorm', p.grad!.data, c.clipped[i], `clipped grad ${i} (p = ${c.normType}, maxNorm ${c.maxNorm})`));
    });
  }
  test('clipGradValue: matches clip_grad_value_', () => {
    const ps = clipParams();
    clipGradValue(ps, fixture.clipGradValue.value);
    ps.forEach((p, i) => check('clipGradValue', p.grad!.data, fixture.clipGradValue.clipped[i], `grad ${i}`));
  });
  test('parity: every family was compared', () => {
    // Runs after the tests above (vitest keeps file order); each comparison asserted the tolerance itself.
    expect(Object.keys(compared).sort()).toEqual(['clipGradNorm', 'clipGradValue', 'optimizers', 'schedules']);
  });
});
