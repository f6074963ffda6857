import { SeqgradError, type Tensor } from '@seqgrad/autograd';
import type { DirectionParams, DirectionResult, RNNMode } from './rnn.js';

/** Placeholder until the hand-derived BPTT lands in ./bptt. */
export function fusedDirection(
  _mode: RNNMode, _resetAfter: boolean,
  _a: { x: Tensor; h0: Tensor; c0: Tensor | null; p: DirectionParams; reverse: boolean; lengths: Int32Array | null },
): DirectionResult {
  throw new SeqgradError('fused', 'the fused implementation is not available yet; use impl: composed');
}
