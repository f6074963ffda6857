// The library's LayerNormLSTMCell (packages/layers/src/layerNormLstm.ts, the worked example of a
// custom cell written against the public API) for `seqgrad train --cell examples/cells/layernorm-lstm.mjs`.
export default function makeLayerNormLSTMCell({ layers }, inputSize, hiddenSize, opts = {}) {
  return new layers.LayerNormLSTMCell(inputSize, hiddenSize, opts);
}
