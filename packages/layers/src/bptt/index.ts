/**
 * Hand-derived backpropagation through time for RNN, LSTM and GRU on raw typed arrays
 * (PyTorch layout), the BPTT checker for user cells, and gradient-flow diagnostics.
 * Derivations: docs/bptt.md.
 */
export type {
  FloatArray, CellParams, SeqDims, CellDims, SeqOptions, RnnOptions, GruOptions, Nonlinearity, BackwardOptions, LstmBackwardOptions, SeqGrads,
} from './types.js';
export {
  rnnForward, rnnInference, rnnBackward, rnnCellForward, rnnCellBackward,
  type RnnCache, type RnnForwardResult,
} from './rnn.js';
export type { CellGrads } from './grads.js';
export {
  lstmForward, lstmInference, lstmBackward, lstmCells, lstmCellForward, lstmCellBackward,
  type LstmCache, type LstmForwardResult, type LstmSeqGrads, type LstmCellGrads,
} from './lstm.js';
export {
  gruForward, gruInference, gruBackward, gruCellForward, gruCellBackward,
  type GruCache, type GruForwardResult,
} from './gru.js';
export {
  checkBptt, type BpttCell, type HandStepGrads, type CheckBpttOptions, type BpttDisagreement, type BpttReport, type Float64Record,
} from './check.js';
export { rnnBpttCell, lstmBpttCell, gruBpttCell, type BpttCellOptions } from './bpttCells.js';
export { emptyCache } from './pool.js';
export { gradientFlow, hiddenGradients, stateJacobian, type GradientFlow, type GradientFlowOptions, type HiddenGradients, type RecurrentMode, type StateJacobian } from './flow.js';
