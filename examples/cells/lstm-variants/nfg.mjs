// NFG, no forget gate (Greff et al. 2017): f = 1, the cell only accumulates (the LSTM of 1997).
//   i = σ(a_i + p_i ⊙ c)   g = tanh(a_g)   c' = c + i ⊙ g
//   o = σ(a_o + p_o ⊙ c')  h' = o ⊙ tanh(c')      (rows i, g, o)
import { lstmVariant } from './lstm-variant.mjs';

export default (lib, inputSize, hiddenSize, opts = {}) => lstmVariant(lib, inputSize, hiddenSize, opts, {
  name: 'NFG', gates: 'igo', peepholes: 'io',
  step({ add, mul, sigmoid, tanh }, cell, a, { c }) {
    const i = sigmoid(add(a.i, mul(cell.peephole('i'), c)));
    const cNext = add(c, mul(i, tanh(a.g)));
    const o = sigmoid(add(a.o, mul(cell.peephole('o'), cNext)));
    return { h: mul(o, tanh(cNext)), c: cNext };
  },
});
