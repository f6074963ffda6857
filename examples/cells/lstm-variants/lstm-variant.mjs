// The scaffolding shared by the LSTM variants of Greff et al. (2017), "LSTM: A Search Space
// Odyssey". Their vanilla LSTM has a forget gate and peepholes:
//   i = σ(W_i x + U_i h + p_i ⊙ c + b_i)      f = σ(W_f x + U_f h + p_f ⊙ c + b_f)
//   g = tanh(W_g x + U_g h + b_g)              c' = f ⊙ c + i ⊙ g
//   o = σ(W_o x + U_o h + p_o ⊙ c' + b_o)     h' = o ⊙ tanh(c')
// Each variant removes or changes one piece. This file holds what they share: the parameters
// (one block of rows per gate the variant has, one peephole row per gate that has one), their
// initialisation U(−1/√H, 1/√H) as PyTorch's LSTM, and the pre-activations W x + U h + b split
// by gate. A variant file gives its gates, its peepholes and its step equations.

/**
 * @param lib `{ autograd, layers }`, passed in by whoever loads the cell (the CLI, a test)
 * @param spec `{ name, gates, peepholes, extraState?, extraParameters?, step }`:
 *   gates: the gate letters with weight rows, in row order ('ifgo' for the vanilla);
 *   peepholes: the gate letters with a peephole row ('ifo' for the vanilla);
 *   extraState(H): more state entries ({ name: size }); extraParameters(H): { name: shape };
 *   step(autograd, cell, a, state): the next state from the pre-activations `a` (a.i, a.f, ...,
 *   each (B, H)); `cell.peephole(letter)` is that gate's (1, H) peephole row.
 */
export function lstmVariant({ autograd, layers }, inputSize, hiddenSize, opts, spec) {
  const { add, chunk, linear, narrow, zeros } = autograd;
  const H = hiddenSize;
  const G = spec.gates.length;

  class LSTMVariantCell extends layers.RecurrentCell {
    constructor() {
      super(inputSize, hiddenSize, opts);
      this.stateSizes = { h: H, c: H, ...(spec.extraState?.(H) ?? {}) };
      const p = (shape) => zeros(shape, { dtype: this.dtype });
      this.weightIh = this.registerParameter('weight_ih', p([G * H, inputSize])); // rows: spec.gates
      this.weightHh = this.registerParameter('weight_hh', p([G * H, H]));
      this.bias = this.registerParameter('bias', p([G * H]));
      this.peepholes = spec.peepholes.length > 0 ? this.registerParameter('peephole', p([spec.peepholes.length, H])) : null;
      this.extra = {};
      for (const [name, shape] of Object.entries(spec.extraParameters?.(H) ?? {})) this.extra[name] = this.registerParameter(name, p(shape));
      this.resetParameters(opts.generator);
    }

    resetParameters(generator) {
      const k = 1 / Math.sqrt(this.hiddenSize);
      for (const t of this.parameters()) layers.init.uniform(t, -k, k, { generator });
    }

    /** The (1, H) peephole row of gate `letter`, broadcast over the batch. */
    peephole(letter) {
      return narrow(this.peepholes, 0, spec.peepholes.indexOf(letter), 1);
    }

    step(x, state) {
      const blocks = G === 1 ? [add(linear(x, this.weightIh, this.bias), linear(state.h, this.weightHh))]
        : chunk(add(linear(x, this.weightIh, this.bias), linear(state.h, this.weightHh)), G, -1);
      const a = Object.fromEntries([...spec.gates].map((letter, j) => [letter, blocks[j]]));
      return spec.step(autograd, this, a, state);
    }

    extraRepr() {
      return `${inputSize}, ${hiddenSize}, ${spec.name}`;
    }
  }
  Object.defineProperty(LSTMVariantCell, 'name', { value: `${spec.name}Cell` });
  return new LSTMVariantCell();
}
