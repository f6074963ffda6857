import { describe, expect, test } from 'vitest';
import { Tensor, kernels, manualSeed, randn } from '@seqgrad/autograd';
import { GRU, LSTM, RNN } from '@seqgrad/layers';

describe('fused layers and packed weights', () => {
  test('LSTM, GRU, RNN (fused): the recurrent weights packed for a sequence are given back after forward and backward', () => {
    manualSeed(1);
    const before = kernels.backend().packedBytes;
    const layers = [
      new LSTM(24, 40, { batchFirst: true, impl: 'fused', numLayers: 2, bidirectional: true }),
      new LSTM(24, 40, { batchFirst: true, impl: 'fused', projSize: 16 }),
      new GRU(24, 40, { batchFirst: true, impl: 'fused' }),
      new GRU(24, 40, { batchFirst: true, impl: 'fused', resetAfter: false }),
      new RNN(24, 40, { batchFirst: true, impl: 'fused' }),
    ];
    for (const net of layers) {
      const x = new Tensor(randn([8, 6, 24]).data, [8, 6, 24], true);
      net.forward(x).output.sum().backward();
      expect(kernels.backend().packedBytes, net.constructor.name).toBe(before);
      expect(x.grad).not.toBeNull();
    }
  });
});
