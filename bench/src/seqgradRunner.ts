/** seqgrad's RNN, LSTM and GRU layers (impl 'fused' or 'composed') as benchmark runners. */
import { Tensor, noGrad } from '@seqgrad/autograd';
import { GRU, LSTM, RNN } from '@seqgrad/layers';
import { type Dims, type LayerKind, type Mode, filledArray } from './workloads.js';

export interface Runner {
  /** One forward pass, or one training step (forward, loss = sum of outputs, backward). */
  step(): void;
  dispose(): void;
}

export function seqgradRunner(layer: LayerKind, d: Dims, mode: Mode, impl: 'fused' | 'composed'): Runner {
  const opts = { batchFirst: true, impl } as const;
  const net = layer === 'LSTM' ? new LSTM(d.I, d.H, opts) : layer === 'GRU' ? new GRU(d.I, d.H, opts) : new RNN(d.I, d.H, opts);
  const x = new Tensor(filledArray(d.B * d.T * d.I, 11), [d.B, d.T, d.I], mode === 'train');
  return {
    step: mode === 'train'
      ? () => {
          net.zeroGrad();
          x.grad = null;
          net.forward(x).output.sum().backward();
        }
      : () => {
          noGrad(() => net.forward(x));
        },
    dispose() {},
  };
}
