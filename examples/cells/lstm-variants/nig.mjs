// NIG, no input gate (Greff et al. 2017): i = 1, every candidate enters the cell.
//   f = σ(a_f + p_f ⊙ c)   g = tanh(a_g)   c' = f ⊙ c + g
//   o = σ(a_o + p_o ⊙ c')  h' = o ⊙ tanh(c')      (rows f, g, o)
import { lstmVariant } from './lstm-variant.mjs';

export default (lib, inputSize, hiddenSize, opts = {}) => lstmVariant(lib, inputSize, hiddenSize, opts, {
  name: 'NIG', gates: 'fgo', peepholes: 'fo',
  step({ add, mul, sigmoid, tanh }, cell, a, { c }) {
    const f = sigmoid(add(a.f, mul(cell.peephole('f'), c)));
    const cNext = add(mul(f, c), tanh(a.g));
    const o = sigmoid(add(a.o, mul(cell.peephole('o'), cNext)));
    return { h: mul(o, tanh(cNext)), c: cNext };
  },
});
