/**
 * @seqgrad/layers — modules, recurrent cells composed from autograd ops, a driver for any
 * cell, and PyTorch-compatible RNN, LSTM and GRU layers (composed or fused BPTT).
 */
export { Module, cloneModule, type StateDict, type LoadResult } from './module.js';
export * as init from './init.js';
export { Linear, Embedding, Dropout, LayerNorm, Sequential, type LayerOptions, type TensorModule } from './basic.js';
export { RecurrentCell, mapState, type CellState, type HiddenState, type LSTMState } from './cell.js';
export { RNNCell, LSTMCell, GRUCell, type CellOptions } from './cells.js';
export { rnnStep, lstmStep, gruStep, initRecurrent, type RecurrentInitOptions } from './functional.js';
export { LayerNormLSTMCell } from './layerNormLstm.js';
export {
  Recurrent, Bidirectional, Stacked, normalizeLengths,
  type Lengths, type SequenceOptions, type SequenceResult, type SequenceLayer, type MergeMode, type RecurrentOptions,
} from './recurrent.js';
export {
  RNNBase, RNN, LSTM, GRU,
  type RNNMode, type RNNBaseOptions, type RNNForwardOptions, type RNNState, type DirectionParams,
} from './rnn.js';
export * from './bptt/index.js';
export { truncatedBptt, detachState, type TruncatedBpttOptions } from './tbptt.js';
