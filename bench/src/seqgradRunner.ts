/** seqgrad's RNN, LSTM and GRU layers (impl 'fused' or 'composed') as benchmark runners. */
import { Tensor, kernels, noGrad } from '@seqgrad/autograd';
import { GRU, LSTM, RNN } from '@seqgrad/layers';
import { type Dims, type LayerKind, type Mode, filledArray } from './workloads.js';

export interface Runner {
  /** One forward pass, or one training step (forward, loss = sum of outputs, backward). */
  step(): void;
  dispose(): void;
  /** Called before this runner's steps when runners alternate: sets the kernel switches it runs with. */
  activate?(): Promise<void>;
}

/**
 * `wasmGates: false` runs the fused layers with their TypeScript gate loops
 * (kernels.setWasmGates(false)) while this runner is active; by default the WebAssembly ones.
 */
export function seqgradRunner(layer: LayerKind, d: Dims, mode: Mode, impl: 'fused' | 'composed', opts: { wasmGates?: boolean } = {}): Runner {
  const o = { batchFirst: true, impl } as const;
  const net = layer === 'LSTM' ? new LSTM(d.I, d.H, o) : layer === 'GRU' ? new GRU(d.I, d.H, o) : new RNN(d.I, d.H, o);
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
    dispose() {
      kernels.setWasmGates(true);
    },
    async activate() {
      kernels.setWasmGates(opts.wasmGates ?? true);
    },
  };
}
