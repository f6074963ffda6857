// NIAF, no input activation function (Greff et al. 2017): the candidate is linear, g = a_g.
//   i = σ(a_i + p_i ⊙ c)   f = σ(a_f + p_f ⊙ c)   c' = f ⊙ c + i ⊙ a_g
//   o = σ(a_o + p_o ⊙ c')  h' = o ⊙ tanh(c')      (rows i, f, g, o)
import { lstmVariant } from './lstm-variant.mjs';

export default (lib, inputSize, hiddenSize, opts = {}) => lstmVariant(lib, inputSize, hiddenSize, opts, {
  name: 'NIAF', gates: 'ifgo', peepholes: 'ifo',
  step({ add, mul, sigmoid, tanh }, cell, a, { c }) {
    const i = sigmoid(add(a.i, mul(cell.peephole('i'), c)));
    const f = sigmoid(add(a.f, mul(cell.peephole('f'), c)));
    const cNext = add(mul(f, c), mul(i, a.g));
    const o = sigmoid(add(a.o, mul(cell.peephole('o'), cNext)));
    return { h: mul(o, tanh(cNext)), c: cNext };
  },
});
