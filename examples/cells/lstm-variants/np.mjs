// NP, no peepholes (Greff et al. 2017): the gates see x and h only. This is the LSTM of
// PyTorch and of seqgrad's LSTMCell, with one bias instead of two.
//   i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
//   c' = f ⊙ c + i ⊙ g        h' = o ⊙ tanh(c')   (rows i, f, g, o)
import { lstmVariant } from './lstm-variant.mjs';

export default (lib, inputSize, hiddenSize, opts = {}) => lstmVariant(lib, inputSize, hiddenSize, opts, {
  name: 'NP', gates: 'ifgo', peepholes: '',
  step({ add, mul, sigmoid, tanh }, cell, a, { c }) {
    const cNext = add(mul(sigmoid(a.f), c), mul(sigmoid(a.i), tanh(a.g)));
    return { h: mul(sigmoid(a.o), tanh(cNext)), c: cNext };
  },
});
