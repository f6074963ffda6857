// FGR, full gate recurrence (Greff et al. 2017; the LSTM of 1997): every gate also sees the
// previous step's activations of all three gates, through nine more H×H matrices, stacked here
// as weight_gg (3H, 3H). The state carries those activations: gates = [i, f, o] (B, 3H).
//   [r_i, r_f, r_o] = weight_gg [i, f, o]_{t−1}
//   i = σ(a_i + r_i + p_i ⊙ c)   f = σ(a_f + r_f + p_f ⊙ c)   g = tanh(a_g)   c' = f ⊙ c + i ⊙ g
//   o = σ(a_o + r_o + p_o ⊙ c')  h' = o ⊙ tanh(c')      (rows i, f, g, o)
import { lstmVariant } from './lstm-variant.mjs';

export default (lib, inputSize, hiddenSize, opts = {}) => lstmVariant(lib, inputSize, hiddenSize, opts, {
  name: 'FGR', gates: 'ifgo', peepholes: 'ifo',
  extraState: (H) => ({ gates: 3 * H }),
  extraParameters: (H) => ({ weight_gg: [3 * H, 3 * H] }),
  step({ add, chunk, concat, linear, mul, sigmoid, tanh }, cell, a, { c, gates }) {
    const [ri, rf, ro] = chunk(linear(gates, cell.extra.weight_gg), 3, -1);
    const i = sigmoid(add(add(a.i, ri), mul(cell.peephole('i'), c)));
    const f = sigmoid(add(add(a.f, rf), mul(cell.peephole('f'), c)));
    const cNext = add(mul(f, c), mul(i, tanh(a.g)));
    const o = sigmoid(add(add(a.o, ro), mul(cell.peephole('o'), cNext)));
    return { h: mul(o, tanh(cNext)), c: cNext, gates: concat([i, f, o], -1) };
  },
});
