import { ones, randn, tensor } from '@seqgrad/autograd';
import {
  Adagrad, Adam, AdamW, CosineAnnealingLR, ExponentialLR, LambdaLR, LinearLR, type OptimizerStateDict, RMSprop, ReduceLROnPlateau, SGD,
  SequentialLR, StepLR, clipGradNorm, clipGradValue, gradNorm,
} from '@seqgrad/optim';
import { describe } from 'vitest';
import { type MisuseCase, runMisuseSuite } from './classify.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
const bad = (x: unknown) => x as any;
/** Two parameters with gradients, as after a backward. */
function params() {
  const w = randn([2, 3], { requiresGrad: true });
  const b = randn([3], { requiresGrad: true });
  w.grad = ones([2, 3]);
  b.grad = ones([3]);
  return [w, b];
}
/** An Adam that has taken one step, and its state dict. */
function adamWithState(): { opt: Adam; sd: OptimizerStateDict } {
  const opt = new Adam(params(), { lr: 0.1 });
  opt.step();
  return { opt, sd: JSON.parse(JSON.stringify(opt.stateDict())) as OptimizerStateDict };
}
const sgd = () => new SGD(params(), { lr: 0.1 });

const optimizers: MisuseCase[] = [
  { name: 'SGD: an infinite lr', run: () => new SGD(params(), { lr: Infinity }), expect: ['SGD', 'lr', 'Infinity'] },
  { name: 'SGD: a NaN lr', run: () => new SGD(params(), { lr: NaN }), expect: ['SGD', 'lr', 'NaN'] },
  { name: 'SGD: no lr', run: () => new SGD(params(), bad({})), expect: ['SGD', 'lr', 'undefined'] },
  { name: 'SGD: lr as a string', run: () => new SGD(params(), { lr: bad('0.1') }), expect: ['SGD', 'lr', '0.1'] },
  { name: 'SGD: a misspelt option', run: () => new SGD(params(), bad({ lr: 0.1, momentum: 0.9, nestrov: true })), expect: ['SGD', "'nestrov'", "did you mean 'nesterov'"] },
  { name: 'SGD: nesterov without momentum', run: () => new SGD(params(), { lr: 0.1, nesterov: true }), expect: ['SGD', 'nesterov', 'momentum'] },
  { name: 'SGD: an empty parameter list', run: () => new SGD([], { lr: 0.1 }), expect: ['SGD', 'empty parameter list'] },
  { name: 'SGD: an int32 parameter', run: () => new SGD([tensor([1], { dtype: 'int32' })], { lr: 0.1 }), expect: ['SGD', 'int32'] },
  { name: 'SGD: a non-leaf parameter', run: () => new SGD([ones([2], { requiresGrad: true }).mul(2)], { lr: 0.1 }), expect: ['SGD', 'non-leaf'] },
  { name: 'SGD: null params', run: () => new SGD(bad(null), { lr: 0.1 }), expect: ['SGD', 'params', 'null'] },
  { name: 'SGD: a string as params', run: () => new SGD(bad('weights'), { lr: 0.1 }), expect: ['SGD', 'params', 'string'] },
  { name: 'SGD: a parameter in two groups', run: () => { const [w] = params(); return new SGD([{ params: [w!] }, { params: [w!] }], { lr: 0.1 }); }, expect: ['SGD', 'more than one parameter group'] },
  { name: 'SGD: a non-boolean nesterov', run: () => new SGD(params(), { lr: 0.1, momentum: 0.9, nesterov: bad('yes') }), expect: ['SGD', 'nesterov', "'yes'"] },
  { name: 'Adam: a negative lr', run: () => new Adam(params(), { lr: -1 }), expect: ['Adam', 'lr', '-1'] },
  { name: 'Adam: PyTorch option beta1', run: () => new Adam(params(), bad({ beta1: 0.9 })), expect: ['Adam', "'beta1'"] },
  { name: 'Adam: beta of 1', run: () => new Adam(params(), { betas: [0.9, 1] }), expect: ['Adam', 'betas[1]', '1'] },
  { name: 'Adam: an infinite eps', run: () => new Adam(params(), { eps: Infinity }), expect: ['Adam', 'eps', 'Infinity'] },
  { name: 'Adam: betas as a number', run: () => new Adam(params(), { betas: bad(0.9) }), expect: ['Adam', 'betas', '0.9'] },
  { name: 'AdamW: PyTorch option weight_decay', run: () => new AdamW(params(), bad({ weight_decay: 0.1 })), expect: ['AdamW', "'weight_decay'", "did you mean 'weightDecay'"] },
  { name: 'AdamW: an infinite weightDecay', run: () => new AdamW(params(), { weightDecay: Infinity }), expect: ['AdamW', 'weightDecay', 'Infinity'] },
  { name: 'RMSprop: a negative momentum', run: () => new RMSprop(params(), { momentum: -1 }), expect: ['RMSprop', 'momentum', '-1'] },
  { name: 'RMSprop: an infinite lr', run: () => new RMSprop(params(), { lr: Infinity }), expect: ['RMSprop', 'lr', 'Infinity'] },
  { name: 'Adagrad: a negative lrDecay', run: () => new Adagrad(params(), { lrDecay: -1 }), expect: ['Adagrad', 'lrDecay', '-1'] },
  { name: 'Adagrad: PyTorch option lr_decay', run: () => new Adagrad(params(), bad({ lr_decay: 0.1 })), expect: ['Adagrad', "'lr_decay'", "did you mean 'lrDecay'"] },
  { name: 'Optimizer.addParamGroup: an unknown option', run: () => sgd().addParamGroup(bad({ params: [ones([1], { requiresGrad: true })], learningRate: 1 })), expect: ['SGD', "'learningRate'"] },
  { name: 'Optimizer.addParamGroup: an infinite lr', run: () => sgd().addParamGroup({ params: [ones([1], { requiresGrad: true })], lr: Infinity }), expect: ['SGD', 'lr', 'Infinity'] },
  {
    name: 'Optimizer.step: a group lr set to NaN by hand',
    run: () => { const o = sgd(); o.paramGroups[0]!.lr = NaN; o.step(); },
    expect: ['SGD.step', 'lr', 'NaN'],
  },
];

const stateDicts: MisuseCase[] = [
  { name: 'Optimizer.loadStateDict: null', run: () => adamWithState().opt.loadStateDict(bad(null)), expect: ['Adam.loadStateDict', 'state', 'paramGroups'] },
  {
    name: 'Optimizer.loadStateDict: a missing expAvg',
    run: () => { const { opt, sd } = adamWithState(); delete sd.state[0]!.expAvg; opt.loadStateDict(sd); },
    expect: ['Adam.loadStateDict', 'parameter 0', 'expAvg'],
  },
  {
    name: "Optimizer.loadStateDict: another optimizer's dict",
    run: () => {
      const o = new SGD(params(), { lr: 0.1, momentum: 0.9 });
      o.step();
      adamWithState().opt.loadStateDict(o.stateDict());
    },
    expect: ['Adam.loadStateDict', 'momentumBuffer'],
  },
  {
    name: 'Optimizer.loadStateDict: a step that is a string',
    run: () => { const { opt, sd } = adamWithState(); sd.state[0]!.step = bad('1'); opt.loadStateDict(sd); },
    expect: ['Adam.loadStateDict', 'step', "'1'"],
  },
  {
    name: 'Optimizer.loadStateDict: a fractional step',
    run: () => { const { opt, sd } = adamWithState(); sd.state[1]!.step = 1.5; opt.loadStateDict(sd); },
    expect: ['Adam.loadStateDict', 'parameter 1', 'step', '1.5'],
  },
  {
    name: 'Optimizer.loadStateDict: a buffer of the wrong length',
    run: () => { const { opt, sd } = adamWithState(); sd.state[1]!.expAvgSq = [1]; opt.loadStateDict(sd); },
    expect: ['Adam.loadStateDict', 'expAvgSq', 'parameter 1', '3'],
  },
  {
    name: 'Optimizer.loadStateDict: a buffer holding strings',
    run: () => { const { opt, sd } = adamWithState(); sd.state[1]!.expAvg = bad(['a', 'b', 'c']); opt.loadStateDict(sd); },
    expect: ['Adam.loadStateDict', 'expAvg', 'parameter 1'],
  },
  {
    name: 'Optimizer.loadStateDict: a group count that differs',
    run: () => { const { opt, sd } = adamWithState(); sd.paramGroups.push({ ...sd.paramGroups[0]!, params: [] }); opt.loadStateDict(sd); },
    expect: ['Adam.loadStateDict', '2 parameter groups', '1'],
  },
  {
    name: 'Optimizer.loadStateDict: a NaN lr in a group',
    run: () => { const { opt, sd } = adamWithState(); sd.paramGroups[0]!.lr = NaN; opt.loadStateDict(sd); },
    expect: ['Adam.loadStateDict', 'lr', 'NaN'],
  },
  {
    name: 'Optimizer.loadStateDict: an unknown option in a group',
    run: () => { const { opt, sd } = adamWithState(); sd.paramGroups[0]!.momentum = 0.9; opt.loadStateDict(sd); },
    expect: ['Adam.loadStateDict', "'momentum'"],
  },
  {
    name: 'Optimizer.loadStateDict: state for a parameter no group lists',
    run: () => { const { opt, sd } = adamWithState(); sd.state[7] = sd.state[0]!; opt.loadStateDict(sd); },
    expect: ['Adam.loadStateDict', 'parameter 7'],
  },
  {
    name: 'Optimizer.loadStateDict: params that are not indices',
    run: () => { const { opt, sd } = adamWithState(); sd.paramGroups[0]!.params = bad(['w', 'b']); opt.loadStateDict(sd); },
    expect: ['Adam.loadStateDict', 'params', "'w'"],
  },
];

const clipping: MisuseCase[] = [
  { name: 'clipGradNorm: maxNorm of 0', run: () => clipGradNorm(params(), 0), expect: ['clipGradNorm', 'maxNorm', '0'] },
  { name: 'clipGradNorm: a negative maxNorm', run: () => clipGradNorm(params(), -1), expect: ['clipGradNorm', 'maxNorm', '-1'] },
  { name: 'clipGradNorm: a NaN maxNorm', run: () => clipGradNorm(params(), NaN), expect: ['clipGradNorm', 'maxNorm', 'NaN'] },
  { name: 'clipGradNorm: a string normType', run: () => clipGradNorm(params(), 1, { normType: bad('inf') }), expect: ['clipGradNorm', 'normType', 'inf'] },
  { name: 'clipGradNorm: PyTorch option norm_type', run: () => clipGradNorm(params(), 1, bad({ norm_type: 1 })), expect: ['clipGradNorm', "'norm_type'", "did you mean 'normType'"] },
  { name: 'clipGradNorm: null params', run: () => clipGradNorm(bad(null), 1), expect: ['clipGradNorm', 'params', 'null'] },
  { name: 'clipGradValue: a negative value', run: () => clipGradValue(params(), -1), expect: ['clipGradValue', 'value', '-1'] },
  { name: 'clipGradValue: a NaN value', run: () => clipGradValue(params(), NaN), expect: ['clipGradValue', 'value', 'NaN'] },
  { name: 'gradNorm: a NaN normType', run: () => gradNorm(params(), NaN), expect: ['gradNorm', 'normType', 'NaN'] },
];

const schedulers: MisuseCase[] = [
  { name: 'StepLR: stepSize of 0', run: () => new StepLR(sgd(), { stepSize: 0 }), expect: ['StepLR', 'stepSize', '0'] },
  { name: 'StepLR: PyTorch option step_size', run: () => new StepLR(sgd(), bad({ step_size: 10 })), expect: ['StepLR', "'step_size'", "did you mean 'stepSize'"] },
  { name: 'StepLR: a NaN gamma', run: () => new StepLR(sgd(), { stepSize: 2, gamma: NaN }), expect: ['StepLR', 'gamma', 'NaN'] },
  { name: 'StepLR: not an optimizer', run: () => new StepLR(bad({ lr: 0.1 }), { stepSize: 2 }), expect: ['StepLR', 'optimizer'] },
  { name: 'CosineAnnealingLR: tMax of 0', run: () => new CosineAnnealingLR(sgd(), { tMax: 0 }), expect: ['CosineAnnealingLR', 'tMax', '0'] },
  { name: 'CosineAnnealingLR: PyTorch option T_max', run: () => new CosineAnnealingLR(sgd(), bad({ T_max: 10 })), expect: ['CosineAnnealingLR', "'T_max'", "did you mean 'tMax'"] },
  { name: 'ExponentialLR: no gamma', run: () => new ExponentialLR(sgd(), bad({})), expect: ['ExponentialLR', 'gamma', 'undefined'] },
  { name: 'ExponentialLR: a negative gamma', run: () => new ExponentialLR(sgd(), { gamma: -0.5 }), expect: ['ExponentialLR', 'gamma', '-0.5'] },
  { name: 'LinearLR: startFactor of 0', run: () => new LinearLR(sgd(), { startFactor: 0 }), expect: ['LinearLR', 'startFactor', '0'] },
  { name: 'LinearLR: totalIters of 0', run: () => new LinearLR(sgd(), { totalIters: 0 }), expect: ['LinearLR', 'totalIters', '0'] },
  { name: 'LambdaLR: a number instead of a function', run: () => new LambdaLR(sgd(), { lrLambda: bad(0.5) }), expect: ['LambdaLR', 'lrLambda', 'number'] },
  { name: 'LambdaLR: a factor that is NaN', run: () => new LambdaLR(sgd(), { lrLambda: () => NaN }), expect: ['LambdaLR', 'lr', 'NaN'] },
  { name: 'SequentialLR: milestones as a number', run: () => { const o = sgd(); return new SequentialLR(o, { schedulers: [new StepLR(o, { stepSize: 2 })], milestones: bad(5) }); }, expect: ['SequentialLR', 'milestones', '5'] },
  { name: 'SequentialLR: no schedulers', run: () => new SequentialLR(sgd(), { schedulers: [], milestones: [] }), expect: ['SequentialLR', 'schedulers'] },
  { name: 'SequentialLR.loadStateDict: an empty dict', run: () => { const o = sgd(); const a = new StepLR(o, { stepSize: 2 }); const b = new StepLR(o, { stepSize: 3 }); new SequentialLR(o, { schedulers: [a, b], milestones: [4] }).loadStateDict({}); }, expect: ['SequentialLR.loadStateDict', 'milestones'] },
  { name: 'LRScheduler.loadStateDict: an empty dict', run: () => new StepLR(sgd(), { stepSize: 2 }).loadStateDict({}), expect: ['StepLR.loadStateDict', 'lastEpoch'] },
  { name: "LRScheduler.loadStateDict: another scheduler's dict", run: () => { const o = sgd(); new StepLR(o, { stepSize: 2 }).loadStateDict(new CosineAnnealingLR(o, { tMax: 5 }).stateDict()); }, expect: ['StepLR.loadStateDict', 'stepSize'] },
  { name: 'ReduceLROnPlateau: factor of 1', run: () => new ReduceLROnPlateau(sgd(), { factor: 1 }), expect: ['ReduceLROnPlateau', 'factor', '1'] },
  { name: 'ReduceLROnPlateau: PyTorch option min_lr', run: () => new ReduceLROnPlateau(sgd(), bad({ min_lr: 1e-5 })), expect: ['ReduceLROnPlateau', "'min_lr'", "did you mean 'minLr'"] },
  { name: 'ReduceLROnPlateau: a negative patience', run: () => new ReduceLROnPlateau(sgd(), { patience: -1 }), expect: ['ReduceLROnPlateau', 'patience', '-1'] },
  { name: 'ReduceLROnPlateau.step: a metric that is a string', run: () => new ReduceLROnPlateau(sgd()).step(bad('0.5')), expect: ['ReduceLROnPlateau.step', 'metric', "'0.5'"] },
  { name: 'ReduceLROnPlateau.step: a NaN metric', run: () => new ReduceLROnPlateau(sgd()).step(NaN), expect: ['ReduceLROnPlateau.step', 'metric', 'NaN'] },
  { name: 'ReduceLROnPlateau.loadStateDict: an empty dict', run: () => new ReduceLROnPlateau(sgd()).loadStateDict({}), expect: ['ReduceLROnPlateau.loadStateDict', 'mode'] },
];

describe('misuse: @seqgrad/optim', () => {
  runMisuseSuite('optim', [...optimizers, ...stateDicts, ...clipping, ...schedulers]);
});
