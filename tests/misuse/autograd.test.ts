import {
  Generator, type Tensor, abs, add, arange, argmax, binaryCrossEntropyWithLogits, cast, chunk, clamp, concat, crossEntropy,
  defineFunction, detectAnomaly, div, dropout, embedding, exp, expand, eye, flatten, flip, full, gather, grad, gradcheck,
  gradgradcheck, indexAdd, indexSelect, linear, log, logSoftmax, logsumexp, manualSeed, matmul, max, maximum, mean, mseLoss,
  mul, narrow, norm, ones, permute, pow, rand, randint, randn, relu, reshape, scatterAdd, select, slice, softmax, split,
  sqrt, squeeze, stack, sub, sum, sumTo, tanh, tensor, transpose, unbind, unsqueeze, valueAndGrad, variance, where, zeros,
} from '@seqgrad/autograd';
import { SGD } from '@seqgrad/optim';
import { describe } from 'vitest';
import { type MisuseCase, runMisuseSuite } from './classify.js';

// Arguments of the wrong type are what the misuse is about: casts through `any` are the point.
/* eslint-disable @typescript-eslint/no-explicit-any */
const bad = (x: unknown) => x as any;
const i32 = (data: number[] | number[][], shape?: number[]) => tensor(data, { dtype: 'int32', shape });
const leaf = (shape: number[]) => randn(shape, { requiresGrad: true });
const leaf64 = (shape: number[]) => randn(shape, { dtype: 'float64', requiresGrad: true });

const creation: MisuseCase[] = [
  { name: 'tensor: strings in the data', run: () => tensor(bad(['a', 'b'])), expect: ['tensor', 'data[0]', "'a'"] },
  { name: 'tensor: null in the data', run: () => tensor(bad([null, 1])), expect: ['tensor', 'data[0]', 'null'] },
  { name: 'tensor: undefined in nested data', run: () => tensor(bad([[1, 2], [3, undefined]])), expect: ['tensor', 'data[1][1]', 'undefined'] },
  { name: 'tensor: an object instead of data', run: () => tensor(bad({ a: 1 })), expect: ['tensor', 'data', 'object'] },
  { name: 'tensor: a ragged nested array', run: () => tensor([[1, 2], [3]]), expect: ['tensor', 'ragged', 'depth 1'] },
  { name: 'tensor: an unknown dtype', run: () => tensor([1, 2], { dtype: bad('float16') }), expect: ['tensor', "'float16'"] },
  { name: 'tensor: a misspelt option', run: () => tensor([1, 2], bad({ dtpye: 'float64' })), expect: ['tensor', "'dtpye'", 'dtype'] },
  { name: 'tensor: shape that does not fit nested data', run: () => tensor([1, 2, 3], { shape: [2, 2] }), expect: ['tensor', '[2,2]', '3'] },
  { name: 'tensor: shape that does not fit a typed array', run: () => tensor(new Float32Array(6), { shape: [4, 2] }), expect: ['tensor', '[4,2]', '6'] },
  { name: 'tensor: requiresGrad on int32 data', run: () => tensor([1, 2], { dtype: 'int32', requiresGrad: true }), expect: ['requiresGrad', 'int32', '[2]'] },
  { name: 'zeros: a shape of 10^12 elements', run: () => zeros([1e6, 1e6]), expect: ['zeros', '[1000000,1000000]'] },
  { name: 'zeros: a negative dimension', run: () => zeros([2, -1]), expect: ['zeros', '[2,-1]'] },
  { name: 'zeros: a fractional dimension', run: () => zeros([2.5]), expect: ['zeros', '[2.5]'] },
  { name: 'ones: a number instead of a shape', run: () => ones(bad(3)), expect: ['ones', 'shape', '3'] },
  { name: 'full: a string as the fill value', run: () => full([2], bad('1')), expect: ['full', 'value', "'1'"] },
  { name: 'arange: 10^12 values', run: () => arange(0, 1e12), expect: ['arange', '1000000000000'] },
  { name: 'arange: an infinite end', run: () => arange(0, Infinity), expect: ['arange', 'end', 'Infinity'] },
  { name: 'arange: a NaN end', run: () => arange(0, NaN), expect: ['arange', 'end', 'NaN'] },
  { name: 'arange: a zero step', run: () => arange(0, 10, 0), expect: ['arange', 'step', '0'] },
  { name: 'eye: a negative size', run: () => eye(-1), expect: ['eye', '-1'] },
  { name: 'eye: 10^10 elements', run: () => eye(1e5), expect: ['eye', '[100000,100000]'] },
  { name: 'rand: a NaN bound', run: () => rand([2], { low: NaN }), expect: ['rand', 'low', 'NaN'] },
  { name: 'randn: a negative std', run: () => randn([2], { std: -1 }), expect: ['randn', 'std', '-1'] },
  { name: 'randn: a huge shape', run: () => randn([1e5, 1e5]), expect: ['randn', '[100000,100000]'] },
  { name: 'randint: an empty range', run: () => randint(5, 5, [2]), expect: ['randint', 'low=5', 'high=5'] },
  { name: 'randint: a huge shape', run: () => randint(0, 10, [1e6, 1e6]), expect: ['randint', '[1000000,1000000]'] },
  { name: 'manualSeed: NaN', run: () => manualSeed(NaN), expect: ['manualSeed', 'NaN'] },
  { name: 'Generator: a string seed', run: () => new Generator(bad('abc')), expect: ['Generator', 'seed', "'abc'"] },
];

const shape: MisuseCase[] = [
  { name: 'expand: to 10^12 elements', run: () => expand(ones([1, 1]), [1e6, 1e6]), expect: ['expand', '[1,1]', '[1000000,1000000]'] },
  { name: 'expand: a non-singleton dimension', run: () => expand(ones([2, 3]), [4, 3, 2]), expect: ['expand', '[2,3]', '[4,3,2]'] },
  { name: 'reshape: a different number of elements', run: () => reshape(ones([2, 3]), [4, 2]), expect: ['reshape', '[2,3]', '[4,2]'] },
  { name: 'reshape: two -1 dimensions', run: () => reshape(ones([2, 3]), [-1, -1]), expect: ['reshape', '-1', '[-1,-1]'] },
  { name: 'view: a size that does not divide', run: () => ones([2, 3]).view(4, -1), expect: ['reshape', '[2,3]', '[4,-1]'] },
  { name: 'flatten: startDim after endDim', run: () => flatten(ones([2, 3, 4]), 2, 1), expect: ['flatten', 'startDim', 'endDim'] },
  { name: 'permute: a repeated axis', run: () => permute(ones([2, 3]), [0, 0]), expect: ['permute', '[0,0]', '[2,3]'] },
  { name: 'permute: too few axes', run: () => permute(ones([2, 3, 4]), [0, 1]), expect: ['permute', '[0,1]', '[2,3,4]'] },
  { name: 'transpose: an axis out of range', run: () => transpose(ones([2, 3]), 0, 5), expect: ['transpose', '5', 'rank 2'] },
  { name: 'squeeze: an axis out of range', run: () => squeeze(ones([2, 3]), 5), expect: ['squeeze', 'axis=5', 'rank 2'] },
  { name: 'unsqueeze: an axis out of range', run: () => unsqueeze(ones([2]), 3), expect: ['unsqueeze', 'axis=3'] },
  { name: 'concat: shapes that differ off the axis', run: () => concat([ones([2, 3]), ones([3, 2])], 0), expect: ['concat', '[2,3]', '[3,2]'] },
  { name: 'concat: an empty list', run: () => concat([]), expect: ['concat', 'empty'] },
  { name: 'concat: an array holding a number', run: () => concat([ones([2]), bad(3)]), expect: ['concat', 'xs[1]', 'number'] },
  { name: 'stack: tensors of different shapes', run: () => stack([ones([2]), ones([3])]), expect: ['stack', '[2]', '[3]'] },
  { name: 'narrow: past the end', run: () => narrow(ones([4]), 0, 3, 2), expect: ['narrow', 'start=3', 'length=2', '[4]'] },
  { name: 'slice: a fractional start', run: () => slice(ones([4]), 0, 1.5), expect: ['slice', 'start', '1.5'] },
  { name: 'select: an index out of range', run: () => select(ones([4]), 0, 4), expect: ['select', 'index', '4', '[4]'] },
  { name: 'split: a zero section size', run: () => split(ones([4]), 0), expect: ['split', '0'] },
  { name: 'split: sections that do not sum to the axis', run: () => split(ones([4]), [1, 2]), expect: ['split', '[1,2]', '4'] },
  { name: 'chunk: zero chunks', run: () => chunk(ones([4]), 0), expect: ['chunk', 'chunks', '0'] },
  { name: 'flip: an axis out of range', run: () => flip(ones([2]), [1]), expect: ['flip', 'axis=1', 'rank 1'] },
  { name: 'unbind: an axis out of range', run: () => unbind(ones([2]), 2), expect: ['unbind', 'axis=2'] },
  { name: 'sumTo: a shape the gradient cannot be summed to', run: () => sumTo(ones([2, 3]), [4]), expect: ['sumTo', '[2,3]', '[4]'] },
];

const elementwise: MisuseCase[] = [
  { name: 'add: shapes that do not broadcast', run: () => add(ones([2, 3]), ones([4])), expect: ['add', '[2,3]', '[4]'] },
  { name: 'sub: shapes that do not broadcast', run: () => sub(ones([2]), ones([3])), expect: ['sub', '[2]', '[3]'] },
  { name: 'div: shapes that do not broadcast', run: () => div(ones([2, 2]), ones([3, 1])), expect: ['div', '[2,2]', '[3,1]'] },
  { name: 'pow: shapes that do not broadcast', run: () => pow(ones([2]), ones([3])), expect: ['pow', '[2]', '[3]'] },
  { name: 'mul: a string operand', run: () => mul(ones([2]), bad('2')), expect: ['mul', 'b', 'string'] },
  { name: 'add: two numbers', run: () => add(bad(1), bad(2)), expect: ['add', 'number'] },
  { name: 'exp: an int32 tensor', run: () => exp(i32([1, 2])), expect: ['exp', 'int32', '[2]'] },
  { name: 'log: null', run: () => log(bad(null)), expect: ['log', 'x', 'null'] },
  { name: 'tanh: a plain array', run: () => tanh(bad([1, 2])), expect: ['tanh', 'x', 'array'] },
  { name: 'sqrt: an int32 tensor', run: () => sqrt(i32([4])), expect: ['sqrt', 'int32'] },
  { name: 'abs: undefined', run: () => abs(bad(undefined)), expect: ['abs', 'x', 'undefined'] },
  { name: 'relu: an int32 tensor', run: () => relu(i32([1])), expect: ['relu', 'int32'] },
  { name: 'mul: an int32 operand', run: () => mul(ones([2]), i32([1, 2])), expect: ['mul', 'int32', '[2]'] },
  { name: 'maximum: shapes that do not broadcast', run: () => maximum(ones([2]), ones([3])), expect: ['maximum', '[2]', '[3]'] },
  { name: 'where: shapes that do not broadcast', run: () => where(ones([2]), ones([3]), ones([4])), expect: ['where', '[3]', '[4]'] },
  { name: 'clamp: a NaN bound', run: () => clamp(ones([2]), NaN), expect: ['clamp', 'min', 'NaN'] },
  { name: 'cast: an unknown dtype', run: () => cast(ones([2]), bad('float16')), expect: ['cast', "'float16'"] },
  { name: 'Tensor.to: an unknown dtype', run: () => ones([2]).to(bad('int64')), expect: ['cast', "'int64'"] },
];

const reduce: MisuseCase[] = [
  { name: 'sum: an axis out of range', run: () => sum(ones([2, 3]), 2), expect: ['sum', 'axis=2', 'rank 2'] },
  { name: 'sum: a repeated axis', run: () => sum(ones([2, 3]), [0, 0]), expect: ['sum', 'repeat', '[0,0]'] },
  { name: 'mean: a fractional axis', run: () => mean(ones([2, 3]), 0.5), expect: ['mean', 'axis=0.5'] },
  { name: 'mean: an int32 tensor', run: () => mean(i32([1, 2])), expect: ['mean', 'int32'] },
  { name: 'max: an empty tensor', run: () => max(zeros([0])), expect: ['max', '[0]'] },
  { name: 'argmax: an axis out of range', run: () => argmax(ones([2, 3]), 2), expect: ['argmax', 'axis=2'] },
  { name: 'logsumexp: an int32 tensor', run: () => logsumexp(i32([1, 2])), expect: ['logsumexp', 'int32'] },
  { name: 'norm: a NaN order', run: () => norm(ones([2]), NaN), expect: ['norm', 'p', 'NaN'] },
  { name: 'variance: a non-integer correction', run: () => variance(ones([3]), 0, { correction: bad('1') }), expect: ['variance', 'correction'] },
];

const linalgAndIndex: MisuseCase[] = [
  { name: 'matmul: inner dimensions differ', run: () => matmul(ones([2, 3]), ones([4, 5])), expect: ['matmul', '[2,3]', '[4,5]', '3', '4'] },
  { name: 'matmul: a 0-d operand', run: () => matmul(ones([]), ones([3])), expect: ['matmul', '[]'] },
  { name: 'matmul: an int32 operand', run: () => matmul(ones([2, 3]), i32([1, 2, 3, 4, 5, 6], [3, 2])), expect: ['matmul', 'int32', '[3,2]'] },
  { name: 'matmul: batch dimensions that do not broadcast', run: () => matmul(ones([2, 2, 3]), ones([3, 3, 4])), expect: ['matmul', '[2,2,3]', '[3,3,4]'] },
  { name: 'linear: weight of the wrong width', run: () => linear(ones([2, 3]), ones([4, 5])), expect: ['linear', '[2,3]', '[4,5]'] },
  { name: 'linear: bias of the wrong size', run: () => linear(ones([2, 3]), ones([4, 3]), ones([5])), expect: ['linear', 'bias', '[5]', '4'] },
  { name: 'indexSelect: an index out of range', run: () => indexSelect(ones([3, 2]), 0, [5]), expect: ['indexSelect', '5', '3'] },
  { name: 'indexSelect: a float index tensor', run: () => indexSelect(ones([3, 2]), 0, tensor([0.5])), expect: ['indexSelect', 'int32', 'float32'] },
  { name: 'indexSelect: a fractional index in an array', run: () => indexSelect(ones([3, 2]), 0, [0.5]), expect: ['indexSelect', '0.5'] },
  { name: 'gather: an index out of range', run: () => gather(ones([2, 3]), 1, i32([[0, 1, 5], [0, 0, 0]])), expect: ['gather', '5', '3'] },
  { name: 'gather: index of another rank', run: () => gather(ones([2, 3]), 1, i32([0, 1])), expect: ['gather', '[2]', '[2,3]'] },
  { name: 'indexAdd: an index out of range', run: () => indexAdd(ones([2, 2]), 0, [0, 7], 3), expect: ['indexAdd', '7', '3'] },
  { name: 'scatterAdd: an index out of range', run: () => scatterAdd(ones([2]), 0, i32([0, 9]), [4]), expect: ['scatterAdd', '9', '4'] },
  { name: 'embedding: an index past the table', run: () => embedding(ones([3, 2]), i32([3])), expect: ['embedding', '3', '[3,2]'] },
  { name: 'embedding: a negative index', run: () => embedding(ones([3, 2]), [-4]), expect: ['embedding', '-4'] },
];

const nn: MisuseCase[] = [
  { name: 'softmax: an axis out of range', run: () => softmax(ones([2, 3]), 2), expect: ['softmax', 'axis=2'] },
  { name: 'logSoftmax: an int32 tensor', run: () => logSoftmax(i32([1, 2])), expect: ['logSoftmax', 'int32'] },
  { name: 'crossEntropy: a class index out of range', run: () => crossEntropy(ones([2, 3]), i32([0, 3])), expect: ['crossEntropy', '3', 'classes'] },
  { name: 'crossEntropy: batch sizes differ', run: () => crossEntropy(ones([2, 3]), i32([0, 1, 2])), expect: ['crossEntropy', '[2,3]', '[3]'] },
  { name: 'crossEntropy: probabilities of the wrong shape', run: () => crossEntropy(ones([2, 3]), ones([2, 4])), expect: ['crossEntropy', '[2,3]', '[2,4]'] },
  { name: 'crossEntropy: an unknown reduction', run: () => crossEntropy(ones([2, 3]), i32([0, 1]), { reduction: bad('avg') }), expect: ['crossEntropy', 'reduction', "'avg'"] },
  { name: 'crossEntropy: PyTorch option ignore_index', run: () => crossEntropy(ones([2, 3]), i32([0, 1]), bad({ ignore_index: 0 })), expect: ['crossEntropy', "'ignore_index'", "did you mean 'ignoreIndex'"] },
  { name: 'mseLoss: shapes differ', run: () => mseLoss(ones([2]), ones([3])), expect: ['mseLoss', '[2]', '[3]'] },
  { name: 'mseLoss: an unknown reduction', run: () => mseLoss(ones([2]), ones([2]), { reduction: bad('avg') }), expect: ['mseLoss', 'reduction', "'avg'"] },
  { name: 'binaryCrossEntropyWithLogits: shapes differ', run: () => binaryCrossEntropyWithLogits(ones([2]), ones([3])), expect: ['binaryCrossEntropyWithLogits', '[2]', '[3]'] },
  { name: 'dropout: p above 1', run: () => dropout(ones([2]), 1.5), expect: ['dropout', 'p', '1.5'] },
  { name: 'dropout: p NaN', run: () => dropout(ones([2]), NaN), expect: ['dropout', 'p', 'NaN'] },
];

const autograd: MisuseCase[] = [
  { name: 'backward: a non-scalar without a gradient', run: () => leaf([2, 3]).mul(2).backward(), expect: ['backward', '[2,3]'] },
  { name: 'backward: a tensor that does not require grad', run: () => ones([2]).sum().backward(), expect: ['backward', 'does not require grad'] },
  { name: 'backward: a gradient of the wrong shape', run: () => leaf([2]).mul(2).backward(ones([3])), expect: ['backward', '[3]', '[2]'] },
  { name: 'backward: a gradient that is not a tensor', run: () => leaf([2]).mul(2).backward(bad([1, 1])), expect: ['backward', 'grad', 'array'] },
  {
    name: 'backward: twice through the same graph',
    run: () => {
      const y = leaf([2]).exp().sum();
      y.backward();
      y.backward();
    },
    expect: ['retainGraph', 'second time'],
  },
  {
    name: 'backward: a saved tensor changed by an optimizer step',
    run: () => {
      const w = leaf([3]);
      const loss = w.mul(w).sum();
      w.grad = ones([3]);
      new SGD([w], { lr: 0.1 }).step();
      loss.backward();
    },
    expect: ['mul', 'modified by an inplace operation', 'version'],
  },
  {
    name: 'backward: a saved tensor whose data the user changed and marked',
    run: () => {
      const x = leaf([2]);
      const y = x.tanh();
      const loss = y.sum().mul(3);
      y.data[0] = 5;
      (y as Tensor & { bumpVersion(): void }).bumpVersion();
      loss.backward();
    },
    expect: ['tanh', 'modified by an inplace operation', '[2]'],
  },
  { name: 'grad: an input not used by the output', run: () => grad(leaf([2]).sum(), [leaf([2])]), expect: ['grad', 'input 0', 'allowUnused'] },
  { name: 'grad: a non-scalar output without gradOutputs', run: () => { const x = leaf([2]); return grad(x.mul(2), [x]); }, expect: ['grad', 'output 0', '[2]'] },
  { name: 'grad: an input that does not require grad', run: () => grad(leaf([2]).sum(), [ones([2])]), expect: ['grad', 'input 0', 'does not require grad'] },
  { name: 'Tensor.grad: a gradient of the wrong shape', run: () => { leaf([2]).grad = ones([3]); }, expect: ['grad', '[3]', '[2]'] },
  { name: 'Tensor.requiresGrad: switched on for int32', run: () => { i32([1]).requiresGrad = true; }, expect: ['requiresGrad', 'int32'] },
  { name: 'Tensor.item: a tensor of several elements', run: () => ones([2]).item(), expect: ['item', '[2]'] },
  {
    name: 'defineFunction: backward returns the wrong shape',
    run: () => {
      const f = defineFunction({ name: 'myOp', forward: (_c, x: Tensor) => x.mul(2), backward: () => ones([5]) });
      f(leaf([2])).sum().backward();
    },
    expect: ['myOp', '[5]', '[2]', 'input 0'],
  },
  {
    name: 'defineFunction: forward returns a number',
    run: () => defineFunction({ name: 'myOp', forward: (_c, _x: Tensor) => bad(3), backward: () => null })(leaf([2])),
    expect: ['myOp', 'forward', 'number'],
  },
  { name: 'valueAndGrad: fn returns a non-scalar', run: () => valueAndGrad((x: Tensor) => x.mul(2))(ones([2])), expect: ['valueAndGrad', '[2]'] },
  { name: 'valueAndGrad: fn returns a number', run: () => valueAndGrad((x: Tensor) => bad(x.sum().item()))(ones([2])), expect: ['valueAndGrad', 'fn', 'number'] },
  { name: 'valueAndGrad: argument is not a tensor', run: () => valueAndGrad((x: Tensor) => x.sum())(bad([1, 2])), expect: ['valueAndGrad', 'argument 0'] },
  {
    name: 'detectAnomaly: a NaN gradient',
    run: () => detectAnomaly(() => { const x = tensor([0], { requiresGrad: true }); x.sqrt().sum().backward(); }),
    expect: ['detectAnomaly', 'sqrt', '[1]'],
  },
];

const gradchecks: MisuseCase[] = [
  { name: 'gradcheck: fn returns a number', run: () => gradcheck((x) => bad(x.sum().item()), [leaf64([2])]), expect: ['gradcheck', 'fn', 'number'] },
  { name: 'gradcheck: fn returns an array holding a number', run: () => gradcheck((x) => bad([x.sum(), 1]), [leaf64([2])]), expect: ['gradcheck', 'output 1', 'number'] },
  { name: 'gradcheck: a float32 input', run: () => gradcheck((x) => x.sum(), [leaf([2])]), expect: ['gradcheck', 'input 0', 'float32', 'float64'] },
  { name: 'gradcheck: no input requires grad', run: () => gradcheck((x) => x.sum(), [ones([2], { dtype: 'float64' })]), expect: ['gradcheck', 'no input requires grad'] },
  { name: 'gradcheck: one tensor instead of an array', run: () => gradcheck((x) => x.sum(), bad(leaf64([2]))), expect: ['gradcheck', 'inputs', 'array'] },
  { name: 'gradcheck: an input that is not a tensor', run: () => gradcheck((x) => x.sum(), [bad(3)]), expect: ['gradcheck', 'input 0', 'number'] },
  { name: 'gradcheck: fn is not a function', run: () => gradcheck(bad('tanh'), [leaf64([2])]), expect: ['gradcheck', 'fn', 'string'] },
  { name: 'gradcheck: eps of 0', run: () => gradcheck((x) => x.sum(), [leaf64([2])], { eps: 0 }), expect: ['gradcheck', 'eps', '0'] },
  { name: 'gradcheck: a negative atol', run: () => gradcheck((x) => x.sum(), [leaf64([2])], { atol: -1 }), expect: ['gradcheck', 'atol', '-1'] },
  { name: 'gradcheck: a misspelt option', run: () => gradcheck((x) => x.sum(), [leaf64([2])], bad({ fast_mode: true })), expect: ['gradcheck', "'fast_mode'", 'fastMode'] },
  { name: 'gradgradcheck: fn returns a number', run: () => gradgradcheck((x) => bad(x.sum().item()), [leaf64([2])]), expect: ['gradgradcheck', 'fn', 'number'] },
];

describe('misuse: @seqgrad/autograd', () => {
  runMisuseSuite('autograd', [...creation, ...shape, ...elementwise, ...reduce, ...linalgAndIndex, ...nn, ...autograd, ...gradchecks]);
});
