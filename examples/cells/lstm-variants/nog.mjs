// NOG, no output gate (Greff et al. 2017): o = 1, the whole squashed cell is the output.
//   i = σ(a_i + p_i ⊙ c)   f = σ(a_f + p_f ⊙ c)   g = tanh(a_g)
//   c' = f ⊙ c + i ⊙ g     h' = tanh(c')          (rows i, f, g)
import { lstmVariant } from './lstm-variant.mjs';

export default (lib, inputSize, hiddenSize, opts = {}) => lstmVariant(lib, inputSize, hiddenSize, opts, {
  name: 'NOG', gates: 'ifg', peepholes: 'if',
  step({ add, mul, sigmoid, tanh }, cell, a, { c }) {
    const i = sigmoid(add(a.i, mul(cell.peephole('i'), c)));
    const f = sigmoid(add(a.f, mul(cell.peephole('f'), c)));
    const cNext = add(mul(f, c), mul(i, tanh(a.g)));
    return { h: tanh(cNext), c: cNext };
  },
});
