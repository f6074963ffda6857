import { type Tensor, ones, randn, tanh, tensor, zeros } from '@seqgrad/autograd';
import {
  Bidirectional, Dropout, Embedding, GRU, GRUCell, LSTM, LSTMCell, LayerNorm, LayerNormLSTMCell, Linear, RNN, RNNCell, Recurrent,
  RecurrentCell, Sequential, Stacked, init, truncatedBptt,
} from '@seqgrad/layers';
import { describe } from 'vitest';
import { type MisuseCase, runMisuseSuite } from './classify.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
const bad = (x: unknown) => x as any;
const i32 = (data: number[]) => tensor(data, { dtype: 'int32' });

/** A custom cell whose step returns what the test asks for (H+1 columns, a missing key, ...). */
class FaultyCell extends RecurrentCell<{ h: Tensor }> {
  readonly stateSizes = { h: this.hiddenSize };
  constructor(private readonly make: (x: Tensor, h: Tensor) => unknown) {
    super(3, 4);
  }
  step(x: Tensor, s: { h: Tensor }): { h: Tensor } {
    return this.make(x, s.h) as { h: Tensor };
  }
}

const basic: MisuseCase[] = [
  { name: 'Linear: zero inFeatures', run: () => new Linear(0, 2), expect: ['Linear', 'inFeatures', '0'] },
  { name: 'Linear: fractional outFeatures', run: () => new Linear(3, 2.5), expect: ['Linear', 'outFeatures', '2.5'] },
  { name: 'Linear: a misspelt option', run: () => new Linear(3, 2, bad({ biass: false })), expect: ['Linear', "'biass'", "did you mean 'bias'"] },
  { name: 'Linear: an unknown dtype', run: () => new Linear(3, 2, { dtype: bad('float16') }), expect: ['Linear', 'dtype', "'float16'"] },
  { name: 'Linear: 10^12 weights', run: () => new Linear(1e6, 1e6), expect: ['Linear', '[1000000,1000000]'] },
  { name: 'Linear.forward: the wrong last dimension', run: () => new Linear(3, 2).forward(ones([5, 4])), expect: ['Linear.forward', '[5,4]', 'inFeatures=3'] },
  { name: 'Linear.forward: float64 input to float32 weights', run: () => new Linear(3, 2).forward(ones([5, 3], { dtype: 'float64' })), expect: ['Linear.forward', 'float64', 'float32'] },
  { name: 'Linear.forward: null', run: () => new Linear(3, 2).forward(bad(null)), expect: ['Linear.forward', 'x', 'null'] },
  { name: 'Linear.forward: int32 input', run: () => new Linear(3, 2).forward(tensor([[1, 2, 3]], { dtype: 'int32' })), expect: ['Linear.forward', 'int32'] },
  { name: 'Embedding: paddingIdx past the table', run: () => new Embedding(10, 4, { paddingIdx: 10 }), expect: ['Embedding', 'paddingIdx=10'] },
  { name: 'Embedding: PyTorch option name', run: () => new Embedding(10, 4, bad({ padding_idx: 0 })), expect: ['Embedding', "'padding_idx'", "did you mean 'paddingIdx'"] },
  { name: 'Embedding.forward: float indices', run: () => new Embedding(10, 4).forward(ones([2])), expect: ['Embedding.forward', 'int32', 'float32'] },
  { name: 'Embedding.forward: an index past the table', run: () => new Embedding(10, 4).forward(i32([3, 10])), expect: ['Embedding.forward', '10', 'numEmbeddings=10'] },
  { name: 'Embedding.forward: null', run: () => new Embedding(10, 4).forward(bad(null)), expect: ['Embedding.forward', 'indices', 'null'] },
  { name: 'Dropout: p above 1', run: () => new Dropout(2), expect: ['Dropout', 'p', '2'] },
  { name: 'Dropout: an unknown option', run: () => new Dropout(0.5, bad({ inplace: true })), expect: ['Dropout', "'inplace'"] },
  { name: 'Dropout.forward: not a tensor', run: () => new Dropout(0.5).forward(bad([1, 2])), expect: ['Dropout.forward', 'x', 'array'] },
  { name: 'LayerNorm: zero size', run: () => new LayerNorm(0), expect: ['LayerNorm', 'normalizedShape[0]', '0'] },
  { name: 'LayerNorm: a negative eps', run: () => new LayerNorm(4, { eps: -1 }), expect: ['LayerNorm', 'eps', '-1'] },
  { name: 'LayerNorm: PyTorch option name', run: () => new LayerNorm(4, bad({ elementwise_affine: false })), expect: ['LayerNorm', "'elementwise_affine'", "did you mean 'elementwiseAffine'"] },
  { name: 'LayerNorm.forward: the wrong trailing shape', run: () => new LayerNorm(4).forward(ones([2, 5])), expect: ['LayerNorm.forward', '[2,5]', '[4]'] },
  { name: 'Sequential: a number among the modules', run: () => new Sequential(new Linear(2, 2), bad(3)), expect: ['Sequential', 'argument 1'] },
  { name: 'Sequential.forward: layer sizes that do not chain', run: () => new Sequential(new Linear(2, 3), new Linear(4, 1)).forward(ones([1, 2])), expect: ['Linear.forward', '[1,3]', 'inFeatures=4'] },
];

const modules: MisuseCase[] = [
  { name: 'Module.loadStateDict: a missing key', run: () => new Linear(3, 2).loadStateDict({ weight: zeros([2, 3]) }), expect: ['Linear.loadStateDict', "'bias'"] },
  { name: 'Module.loadStateDict: a shape mismatch', run: () => new Linear(3, 2).loadStateDict({ weight: zeros([3, 2]), bias: zeros([2]) }), expect: ['Linear.loadStateDict', "'weight'", '[3,2]', '[2,3]'] },
  { name: 'Module.loadStateDict: an unexpected key', run: () => new Linear(3, 2).loadStateDict({ weight: zeros([2, 3]), bias: zeros([2]), extra: zeros([1]) }), expect: ['Linear.loadStateDict', "'extra'"] },
  { name: 'Module.loadStateDict: a number instead of a tensor', run: () => new Linear(3, 2).loadStateDict(bad({ weight: 1, bias: zeros([2]) })), expect: ['Linear.loadStateDict', "'weight'", 'not a Tensor'] },
  { name: 'Module.loadStateDict: null', run: () => new Linear(3, 2).loadStateDict(bad(null)), expect: ['Linear.loadStateDict', 'null'] },
  { name: 'Module.loadStateDict: a NaN weight', run: () => new Linear(1, 1).loadStateDict({ weight: tensor([[NaN]]), bias: zeros([1]) }), expect: ['Linear.loadStateDict', "'weight'", 'NaN'] },
  { name: 'Module.loadStateDict: an unknown option', run: () => new Linear(1, 1).loadStateDict(new Linear(1, 1).stateDict(), bad({ strict: false, assign: true })), expect: ['Linear.loadStateDict', "'assign'"] },
  { name: 'Module.registerParameter: a non-leaf tensor', run: () => new Linear(1, 1).registerParameter('w', ones([1], { requiresGrad: true }).mul(2)), expect: ['Module.registerParameter', "'w'", 'leaf'] },
  { name: 'Module.registerParameter: a dotted name', run: () => new Linear(1, 1).registerParameter('a.b', ones([1])), expect: ['Module.registerParameter', "'a.b'"] },
  { name: 'init.uniform: low above high', run: () => init.uniform(zeros([2]), 1, 0), expect: ['init.uniform', 'low=1', 'high=0'] },
  { name: 'init.normal: a negative std', run: () => init.normal(zeros([2]), 0, -1), expect: ['init.normal', 'std', '-1'] },
  { name: 'init.constant: a NaN value', run: () => init.constant(zeros([2]), NaN), expect: ['init.constant', 'value', 'NaN'] },
  { name: 'init.orthogonal: a 1-D tensor', run: () => init.orthogonal(zeros([3])), expect: ['init.orthogonal', '[3]'] },
  { name: 'init.xavierUniform: a 1-D tensor', run: () => init.xavierUniform(zeros([3])), expect: ['init.xavierUniform', '[3]'] },
  { name: 'init.uniform: an int32 tensor', run: () => init.uniform(i32([1, 2])), expect: ['init.uniform', 'int32'] },
];

const cells: MisuseCase[] = [
  { name: 'LSTMCell: zero inputSize', run: () => new LSTMCell(0, 4), expect: ['LSTMCell', 'inputSize', '0'] },
  { name: 'LSTMCell: PyTorch option name', run: () => new LSTMCell(3, 4, bad({ forget_bias: 1 })), expect: ['LSTMCell', "'forget_bias'", "did you mean 'forgetBias'"] },
  { name: 'RNNCell: an unknown nonlinearity', run: () => new RNNCell(3, 4, { nonlinearity: bad('sigmoid') }), expect: ['RNNCell', 'nonlinearity', "'sigmoid'"] },
  { name: 'GRUCell: an unknown option', run: () => new GRUCell(3, 4, bad({ reset_after: false })), expect: ['GRUCell', "'reset_after'", "did you mean 'resetAfter'"] },
  { name: 'LayerNormLSTMCell: an unknown option', run: () => new LayerNormLSTMCell(3, 4, bad({ bias: false })), expect: ['LayerNormLSTMCell', "'bias'"] },
  { name: 'LSTMCell: an unknown recurrentInit', run: () => new LSTMCell(3, 4, { recurrentInit: bad('xavier') }), expect: ['LSTMCell', 'recurrentInit', "'xavier'"] },
  { name: 'LSTMCell.forward: the wrong input size', run: () => new LSTMCell(3, 4).forward(ones([2, 5])), expect: ['LSTMCell.forward', '[2,5]', '(B, 3)'] },
  { name: 'LSTMCell.forward: state without c', run: () => new LSTMCell(3, 4).forward(ones([2, 3]), bad({ h: zeros([2, 4]) })), expect: ['LSTMCell.forward', 'state.c', '[2,4]'] },
  { name: 'LSTMCell.forward: a bare tensor as state', run: () => new LSTMCell(3, 4).forward(ones([2, 3]), bad(zeros([2, 4]))), expect: ['LSTMCell.forward', 'a Tensor', '{ h, c }', '[2,4]'] },
  { name: 'LSTMCell.forward: PyTorch state names hx, cx', run: () => new LSTMCell(3, 4).forward(ones([2, 3]), bad({ hx: zeros([2, 4]), cx: zeros([2, 4]) })), expect: ['LSTMCell.forward', "'hx'", '{ h, c }'] },
  { name: 'LSTMCell.forward: an extra state key', run: () => new LSTMCell(3, 4).forward(ones([2, 3]), bad({ h: zeros([2, 4]), c: zeros([2, 4]), n: zeros([2, 4]) })), expect: ['LSTMCell.forward', "'n'", '{ h, c }'] },
  { name: 'LSTMCell.forward: an array as state', run: () => new LSTMCell(3, 4).forward(ones([2, 3]), bad([zeros([2, 4]), zeros([2, 4])])), expect: ['LSTMCell.forward', 'array', '{ h, c }'] },
  { name: 'GRUCell.forward: h of the wrong batch', run: () => new GRUCell(3, 4).forward(ones([2, 3]), { h: zeros([3, 4]) }), expect: ['GRUCell.forward', 'state.h', '[3,4]', '[2,4]'] },
  { name: 'RNNCell.forward: batched state for an unbatched input', run: () => new RNNCell(3, 4).forward(ones([3]), { h: zeros([1, 4]) }), expect: ['RNNCell.forward', '[1,4]', '[4]'] },
  { name: 'LSTMCell.forward: a batch of 0', run: () => new LSTMCell(3, 4).forward(zeros([0, 3])), expect: ['LSTMCell.forward', 'batch', '[0,3]'] },
];

const recurrent: MisuseCase[] = [
  { name: 'Recurrent: not a cell', run: () => new Recurrent(bad(new Linear(3, 4))), expect: ['Recurrent', 'cell', 'RecurrentCell'] },
  { name: 'Recurrent: a misspelt option', run: () => new Recurrent(new GRUCell(3, 4), bad({ reversed: true })), expect: ['Recurrent', "'reversed'", "did you mean 'reverse'"] },
  { name: 'Recurrent.forward: a step returning H+1 columns', run: () => new Recurrent(new FaultyCell((x) => ({ h: zeros([x.shape[0]!, 5]) }))).forward(ones([2, 3, 3])), expect: ['Recurrent(FaultyCell).forward', 'step', 'h', '[2,5]', '[2,4]'] },
  { name: 'Recurrent.forward: a step returning a tensor', run: () => new Recurrent(new FaultyCell((_x, h) => tanh(h))).forward(ones([2, 3, 3])), expect: ['Recurrent(FaultyCell).forward', 'step', '{ h }'] },
  { name: 'Recurrent.forward: a step with an extra key', run: () => new Recurrent(new FaultyCell((_x, h) => ({ h, z: h }))).forward(ones([2, 3, 3])), expect: ['Recurrent(FaultyCell).forward', 'step', "'z'"] },
  { name: 'Recurrent.forward: a step that drops h', run: () => new Recurrent(new FaultyCell((_x, h) => ({ hidden: h }))).forward(ones([2, 3, 3])), expect: ['Recurrent(FaultyCell).forward', 'step', 'h', '[2,4]'] },
  { name: 'Recurrent.forward: a step returning float64', run: () => new Recurrent(new FaultyCell((_x, h) => ({ h: h.double() }))).forward(ones([2, 3, 3])), expect: ['Recurrent(FaultyCell).forward', 'step', 'float64', 'float32'] },
  { name: 'Recurrent.forward: lengths beyond T', run: () => new Recurrent(new GRUCell(3, 4)).forward(ones([2, 5, 3]), undefined, { lengths: [5, 6] }), expect: ['lengths[1]=6', 'T=5'] },
  { name: 'Recurrent.forward: a bare tensor as state', run: () => new Recurrent(new GRUCell(3, 4)).forward(ones([2, 5, 3]), bad(zeros([2, 4]))), expect: ['Recurrent(GRUCell).forward', 'a Tensor', '{ h }', '[2,4]'] },
  { name: 'Recurrent.forward: a misspelt option', run: () => new Recurrent(new GRUCell(3, 4)).forward(ones([2, 5, 3]), undefined, bad({ length: [5, 5] })), expect: ['Recurrent(GRUCell).forward', "'length'", "did you mean 'lengths'"] },
  { name: 'Recurrent.forward: a 4-D input', run: () => new Recurrent(new GRUCell(3, 4)).forward(ones([1, 2, 5, 3])), expect: ['Recurrent(GRUCell).forward', '[1,2,5,3]'] },
  { name: 'RecurrentCell: stateSizes without h', run: () => new Recurrent(new (class extends RecurrentCell<any> { readonly stateSizes = { s: 4 }; step() { return {} as any; } })(3, 4)).forward(ones([1, 2, 3])), expect: ['stateSizes', 'h'] },
  { name: 'Bidirectional: cells of different sizes', run: () => new Bidirectional(new GRUCell(3, 4), new GRUCell(3, 5)), expect: ['Bidirectional', '3 → 4', '3 → 5'] },
  { name: 'Bidirectional: an unknown mergeMode', run: () => new Bidirectional(new GRUCell(3, 4), undefined, { mergeMode: bad('max') }), expect: ['Bidirectional', 'mergeMode', "'max'"] },
  { name: 'Bidirectional: a misspelt option', run: () => new Bidirectional(new GRUCell(3, 4), undefined, bad({ merge_mode: 'sum' })), expect: ['Bidirectional', "'merge_mode'", "did you mean 'mergeMode'"] },
  { name: 'Bidirectional.forward: a state without backward', run: () => new Bidirectional(new GRUCell(3, 4)).forward(ones([2, 5, 3]), bad({ forward: { h: zeros([2, 4]) }, reverse: { h: zeros([2, 4]) } })), expect: ['Bidirectional.forward', "'reverse'", '{ forward, backward }'] },
  { name: 'Stacked: layer sizes that do not chain', run: () => new Stacked([new Recurrent(new GRUCell(3, 4)), new Recurrent(new GRUCell(5, 4))]), expect: ['Stacked', 'layer 1', '5', '4'] },
  { name: 'Stacked: a dropout of 2', run: () => new Stacked([new Recurrent(new GRUCell(3, 4))], { dropout: 2 }), expect: ['Stacked', 'dropout', '2'] },
  { name: 'Stacked.forward: a state of the wrong length', run: () => new Stacked([new Recurrent(new GRUCell(3, 4))]).forward(ones([2, 5, 3]), [undefined, undefined]), expect: ['Stacked.forward', 'state', '1'] },
];

const lstm = () => new LSTM(4, 8);
const x = () => randn([2, 5, 4]);
const rnns: MisuseCase[] = [
  { name: 'LSTM: PyTorch option num_layers', run: () => new LSTM(4, 8, bad({ num_layers: 2 })), expect: ['LSTM', "'num_layers'", "did you mean 'numLayers'"] },
  { name: 'LSTM: PyTorch option batch_first', run: () => new LSTM(4, 8, bad({ batch_first: false })), expect: ['LSTM', "'batch_first'", "did you mean 'batchFirst'"] },
  { name: 'GRU: PyTorch option proj_size', run: () => new GRU(4, 8, bad({ proj_size: 2 })), expect: ['GRU', "'proj_size'"] },
  { name: 'GRU: projSize on a GRU', run: () => new GRU(4, 8, bad({ projSize: 2 })), expect: ['GRU', 'projSize'] },
  { name: 'RNN: resetAfter on an RNN', run: () => new RNN(4, 8, bad({ resetAfter: false })), expect: ['RNN', 'resetAfter'] },
  { name: 'LSTM: zero hiddenSize', run: () => new LSTM(4, 0), expect: ['LSTM', 'hiddenSize', '0'] },
  { name: 'LSTM: fractional numLayers', run: () => new LSTM(4, 8, { numLayers: 1.5 }), expect: ['LSTM', 'numLayers', '1.5'] },
  { name: 'LSTM: projSize not below hiddenSize', run: () => new LSTM(4, 8, { projSize: 8 }), expect: ['LSTM', 'projSize=8', 'hiddenSize=8'] },
  { name: 'LSTM: bidirectional as a string', run: () => new LSTM(4, 8, { bidirectional: bad('yes') }), expect: ['LSTM', 'bidirectional', "'yes'"] },
  { name: 'LSTM: a NaN dropout', run: () => new LSTM(4, 8, { dropout: NaN }), expect: ['LSTM', 'dropout', 'NaN'] },
  { name: 'GRU: dropout above 1', run: () => new GRU(4, 8, { dropout: 2 }), expect: ['GRU', 'dropout', '2'] },
  { name: 'LSTM: a recurrentDropout of 1', run: () => new LSTM(4, 8, { recurrentDropout: 1 }), expect: ['LSTM', 'recurrentDropout', '[0, 1)', '1'] },
  { name: 'GRU: a negative inputDropout', run: () => new GRU(4, 8, { inputDropout: -0.1 }), expect: ['GRU', 'inputDropout', '[0, 1)', '-0.1'] },
  { name: 'RNN: inputDropout as a string', run: () => new RNN(4, 8, { inputDropout: bad('0.2') }), expect: ['RNN', 'inputDropout', "'0.2'"] },
  { name: 'RNN: a NaN zoneout', run: () => new RNN(4, 8, { zoneout: NaN }), expect: ['RNN', 'zoneout', 'NaN'] },
  { name: 'LSTM: zoneout.c above 1', run: () => new LSTM(4, 8, { zoneout: { c: 1.5 } }), expect: ['LSTM', 'zoneout.c', '[0, 1)', '1.5'] },
  { name: 'GRU: zoneout for c, which a GRU has not', run: () => new GRU(4, 8, { zoneout: { c: 0.1 } }), expect: ['GRU', 'zoneout', "'c'", '(h)'] },
  { name: 'LSTM: zoneout as an array', run: () => new LSTM(4, 8, { zoneout: bad([0.1, 0.2]) }), expect: ['LSTM', 'zoneout', '{ h, c }'] },
  { name: 'Recurrent: an inputDropout of 1', run: () => new Recurrent(new GRUCell(3, 4), { inputDropout: 1 }), expect: ['Recurrent', 'inputDropout', '[0, 1)', '1'] },
  { name: 'RNN: an unknown nonlinearity', run: () => new RNN(4, 8, { nonlinearity: bad('gelu') }), expect: ['RNN', 'nonlinearity', "'gelu'"] },
  { name: 'LSTM: an unknown impl', run: () => new LSTM(4, 8, { impl: bad('cuda') }), expect: ['LSTM', 'impl', "'cuda'"] },
  { name: 'LSTM: 10^12 weights', run: () => new LSTM(1e6, 1e6), expect: ['LSTM', '1000000'] },
  { name: 'LSTM.forward: the wrong input size', run: () => lstm().forward(randn([2, 5, 3])), expect: ['LSTM.forward', '[2,5,3]', '(B, T, 4)'] },
  { name: 'LSTM.forward: a batch of 0', run: () => lstm().forward(zeros([0, 5, 4])), expect: ['LSTM.forward', 'batch', '[0,5,4]'] },
  { name: 'LSTM.forward: no time steps', run: () => lstm().forward(zeros([2, 0, 4])), expect: ['LSTM.forward', '[2,0,4]', 'time steps'] },
  { name: 'LSTM.forward: float64 input', run: () => lstm().forward(randn([2, 5, 4], { dtype: 'float64' })), expect: ['LSTM.forward', 'float64', 'float32'] },
  { name: 'LSTM.forward: a bare tensor as state', run: () => lstm().forward(x(), bad(zeros([1, 2, 8]))), expect: ['LSTM.forward', 'a Tensor', '{ h, c }', '[1,2,8]'] },
  { name: 'LSTM.forward: PyTorch state names hx, cx', run: () => lstm().forward(x(), bad({ hx: zeros([1, 2, 8]), cx: zeros([1, 2, 8]) })), expect: ['LSTM.forward', "'hx'", '{ h, c }', '[1,2,8]'] },
  { name: 'LSTM.forward: a PyTorch tuple (h, c)', run: () => lstm().forward(x(), bad([zeros([1, 2, 8]), zeros([1, 2, 8])])), expect: ['LSTM.forward', 'array', '{ h, c }'] },
  { name: 'LSTM.forward: state with h only', run: () => lstm().forward(x(), bad({ h: zeros([1, 2, 8]) })), expect: ['LSTM.forward', 'state.c', '[1,2,8]'] },
  { name: 'LSTM.forward: an empty state object', run: () => lstm().forward(x(), bad({})), expect: ['LSTM.forward', 'state.h is missing', '{ h, c }', 'c[1,2,8]'] },
  { name: 'LSTM.forward: an extra state key', run: () => lstm().forward(x(), bad({ h: zeros([1, 2, 8]), c: zeros([1, 2, 8]), n: zeros([1, 2, 8]) })), expect: ['LSTM.forward', "'n'", '{ h, c }'] },
  { name: 'LSTM.forward: h without the layer axis', run: () => lstm().forward(x(), { h: zeros([2, 8]), c: zeros([2, 8]) }), expect: ['LSTM.forward', 'state.h', '[2,8]', '[1,2,8]'] },
  { name: 'LSTM.forward: c of a float64 dtype', run: () => lstm().forward(x(), { h: zeros([1, 2, 8]), c: zeros([1, 2, 8], { dtype: 'float64' }) }), expect: ['LSTM.forward', 'state.c', 'float64'] },
  { name: 'GRU.forward: an LSTM state with c', run: () => new GRU(4, 8).forward(x(), bad({ h: zeros([1, 2, 8]), c: zeros([1, 2, 8]) })), expect: ['GRU.forward', "'c'", '{ h }'] },
  { name: 'RNN.forward: PyTorch state name hx', run: () => new RNN(4, 8).forward(x(), bad({ hx: zeros([1, 2, 8]) })), expect: ['RNN.forward', "'hx'", '{ h }'] },
  { name: 'RNN.forward: a bare tensor of the wrong shape', run: () => new RNN(4, 8).forward(x(), zeros([2, 8])), expect: ['RNN.forward', '[2,8]', '[1,2,8]'] },
  { name: 'LSTM.forward: lengths of the wrong count', run: () => lstm().forward(x(), undefined, { lengths: [5] }), expect: ['LSTM.forward', 'lengths', 'B=2'] },
  { name: 'LSTM.forward: a misspelt option', run: () => lstm().forward(x(), undefined, bad({ lenghts: [5, 5] })), expect: ['LSTM.forward', "'lenghts'", "did you mean 'lengths'"] },
  { name: 'LSTM.cell: a layer past numLayers', run: () => new LSTM(4, 8, { numLayers: 2 }).cell(2), expect: ['LSTM.cell', 'layer', '[0, 1]', '2'] },
  { name: 'GRU.cell: direction 1 of a unidirectional layer', run: () => new GRU(4, 8).cell(0, 1), expect: ['GRU.cell', 'direction', 'not bidirectional', '1'] },
  { name: 'LSTM.cell: a projected LSTM', run: () => new LSTM(4, 8, { projSize: 3 }).cell(), expect: ['LSTM.cell', 'projSize=3', 'no cell equivalent'] },
];

const tbptt: MisuseCase[] = [
  { name: 'truncatedBptt: a non-scalar loss', run: () => truncatedBptt(lstm(), x(), { k1: 2, loss: (out) => out.square() }), expect: ['truncatedBptt', 'loss', '[2,2,8]'] },
  { name: 'truncatedBptt: a loss returned as a number', run: () => truncatedBptt(lstm(), x(), { k1: 2, loss: (out) => bad(out.square().mean().item()) }), expect: ['truncatedBptt', 'loss', 'number'] },
  { name: 'truncatedBptt: k1 of 0', run: () => truncatedBptt(lstm(), x(), { k1: 0, loss: (out) => out.mean() }), expect: ['truncatedBptt', 'k1', '0'] },
  { name: 'truncatedBptt: x not a tensor', run: () => truncatedBptt(lstm(), bad([[1]]), { k1: 2, loss: (out) => out.mean() }), expect: ['truncatedBptt', 'x'] },
  { name: 'truncatedBptt: no loss function', run: () => truncatedBptt(lstm(), x(), bad({ k1: 2 })), expect: ['truncatedBptt', 'loss'] },
  { name: 'truncatedBptt: a misspelt option', run: () => truncatedBptt(lstm(), x(), bad({ k1: 2, K2: 4, loss: (out: Tensor) => out.mean() })), expect: ['truncatedBptt', "'K2'", "did you mean 'k2'"] },
  { name: 'truncatedBptt: not a sequence layer', run: () => truncatedBptt(bad(new Linear(4, 8)), x(), { k1: 2, loss: (out) => out.mean() }), expect: ['truncatedBptt', 'layer', 'Linear'] },
  { name: 'truncatedBptt: a loss that does not require grad', run: () => truncatedBptt(lstm(), x(), { k1: 2, loss: () => ones([]) }), expect: ['truncatedBptt', 'loss', 'does not require grad'] },
];

describe('misuse: @seqgrad/layers', () => {
  runMisuseSuite('layers', [...basic, ...modules, ...cells, ...recurrent, ...rnns, ...tbptt]);
});
