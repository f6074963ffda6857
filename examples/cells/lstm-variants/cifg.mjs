// CIFG, coupled input and forget gate (Greff et al. 2017; the GRU's trick): f = 1 − i, so the
// cell keeps what it does not overwrite. Three gates' weights instead of four.
//   i = σ(a_i + p_i ⊙ c)   g = tanh(a_g)   c' = (1 − i) ⊙ c + i ⊙ g = c + i ⊙ (g − c)
//   o = σ(a_o + p_o ⊙ c')  h' = o ⊙ tanh(c')      (rows i, g, o)
import { lstmVariant } from './lstm-variant.mjs';

export default (lib, inputSize, hiddenSize, opts = {}) => lstmVariant(lib, inputSize, hiddenSize, opts, {
  name: 'CIFG', gates: 'igo', peepholes: 'io',
  step({ add, mul, sigmoid, sub, tanh }, cell, a, { c }) {
    const i = sigmoid(add(a.i, mul(cell.peephole('i'), c)));
    const cNext = add(c, mul(i, sub(tanh(a.g), c)));
    const o = sigmoid(add(a.o, mul(cell.peephole('o'), cNext)));
    return { h: mul(o, tanh(cNext)), c: cNext };
  },
});
