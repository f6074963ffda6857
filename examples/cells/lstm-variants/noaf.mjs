// NOAF, no output activation function (Greff et al. 2017): h' = o ⊙ c', the cell unsquashed.
//   i = σ(a_i + p_i ⊙ c)   f = σ(a_f + p_f ⊙ c)   g = tanh(a_g)   c' = f ⊙ c + i ⊙ g
//   o = σ(a_o + p_o ⊙ c')  h' = o ⊙ c'            (rows i, f, g, o)
import { lstmVariant } from './lstm-variant.mjs';

export default (lib, inputSize, hiddenSize, opts = {}) => lstmVariant(lib, inputSize, hiddenSize, opts, {
  name: 'NOAF', gates: 'ifgo', peepholes: 'ifo',
  step({ add, mul, sigmoid, tanh }, cell, a, { c }) {
    const i = sigmoid(add(a.i, mul(cell.peephole('i'), c)));
    const f = sigmoid(add(a.f, mul(cell.peephole('f'), c)));
    const cNext = add(mul(f, c), mul(i, tanh(a.g)));
    const o = sigmoid(add(a.o, mul(cell.peephole('o'), cNext)));
    return { h: mul(o, cNext), c: cNext };
  },
});
