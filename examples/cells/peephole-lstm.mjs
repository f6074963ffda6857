// A peephole LSTM (Gers & Schmidhuber 2000) for `seqgrad train --cell examples/cells/peephole-lstm.mjs`.
// The gates also see the cell state, through one diagonal (elementwise) weight vector each:
//   i = σ(W_i x + U_i h + p_i ⊙ c + b_i)      f = σ(W_f x + U_f h + p_f ⊙ c + b_f)
//   g = tanh(W_g x + U_g h + b_g)              c' = f ⊙ c + i ⊙ g
//   o = σ(W_o x + U_o h + p_o ⊙ c' + b_o)     h' = o ⊙ tanh(c')
// The same cell as the TypeScript class in docs/custom-cells.md, in the factory form the CLI
// loads: seqgrad is passed in, so this file imports nothing.
export default function makePeepholeLSTMCell({ autograd, layers }, inputSize, hiddenSize, opts = {}) {
  const { add, chunk, linear, mul, sigmoid, tanh, zeros } = autograd;

  class PeepholeLSTMCell extends layers.RecurrentCell {
    stateSizes = { h: hiddenSize, c: hiddenSize };

    constructor() {
      super(inputSize, hiddenSize, opts);
      const H = hiddenSize;
      const p = (shape) => zeros(shape, { dtype: this.dtype });
      this.weightIh = this.registerParameter('weight_ih', p([4 * H, inputSize])); // rows i, f, g, o
      this.weightHh = this.registerParameter('weight_hh', p([4 * H, H]));
      this.bias = this.registerParameter('bias', p([4 * H]));
      this.peephole = this.registerParameter('peephole', p([3, H])); // rows p_i, p_f, p_o
      this.resetParameters(opts.generator);
    }

    /** U(−1/√H, 1/√H) for everything, as PyTorch's LSTM (Bidirectional calls this on its copy). */
    resetParameters(generator) {
      const k = 1 / Math.sqrt(this.hiddenSize);
      for (const t of [this.weightIh, this.weightHh, this.bias, this.peephole]) layers.init.uniform(t, -k, k, { generator });
    }

    step(x, { h, c }) {
      const [ai, af, ag, ao] = chunk(add(linear(x, this.weightIh, this.bias), linear(h, this.weightHh)), 4, -1);
      const [pi, pf, po] = chunk(this.peephole, 3, 0); // (1, H) each, broadcast over the batch
      const i = sigmoid(add(ai, mul(pi, c)));
      const f = sigmoid(add(af, mul(pf, c)));
      const cNext = add(mul(f, c), mul(i, tanh(ag)));
      const o = sigmoid(add(ao, mul(po, cNext)));
      return { h: mul(o, tanh(cNext)), c: cNext };
    }
  }

  return new PeepholeLSTMCell();
}
